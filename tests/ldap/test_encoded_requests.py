"""The default client (ldap3) sends the gateway's searches, adds, modifies and deletes as
wire.py writes them, on a real slapd; what wire.py leaves goes through ldap3 as before."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.core import connection as ldap3_connection

from gateway.backends.ldap import wire
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.settings import LdapSettings
from tests.sandbox.slapd import PEOPLE_DN, SERVICE_DN

BUILDERS = ("search_operation", "add_operation", "modify_operation", "delete_operation")


@pytest.fixture
def no_pyasn1_requests(monkeypatch):
    """ldap3's request builders (pyasn1) raise if anything reaches them."""
    used: list[str] = []

    def refuse(name):
        def builder(*args, **kwargs):
            used.append(name)
            raise AssertionError(f"{name} was called: this request did not go through wire.py")

        return builder

    for name in BUILDERS:
        monkeypatch.setattr(ldap3_connection, name, refuse(name))
    return used


def test_entras_whole_cycle_is_sent_without_pyasn1(make_client, directory, no_pyasn1_requests, monkeypatch):
    client = make_client(tenant_yaml="      client: ldap3\n")  # whichever client the suite runs on
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "zoe.wire@example.com",
        "externalId": "ext-wire",
        "displayName": "Zoë (Wire) *",
        "name": {"givenName": "Zoë", "familyName": "Wire\\"},
        "emails": [{"type": "work", "value": "zoe.wire@example.com", "primary": True}],
    }
    assert client.get('/Users?filter=userName eq "zoe.wire@example.com"').json["totalResults"] == 0
    created = client.post("/Users", user)
    assert created.status_code == 201, created.json
    id = created.json["id"]
    found = client.get('/Users?filter=userName eq "zoe.wire@example.com"').json
    assert [r["id"] for r in found["Resources"]] == [id]
    changes = [
        {"op": "Replace", "path": "title", "value": "Manager"},
        {"op": "Replace", "path": "active", "value": False},
    ]
    patched = client.patch(f"/Users/{id}", changes)
    assert patched.status_code == 200 and patched.json["title"] == "Manager", patched.json
    group = client.post("/Groups", {"displayName": "wire group", "members": [{"value": id}]})
    assert group.status_code == 201, group.json
    assert client.delete(f"/Users/{id}").status_code == 204
    assert client.get(f"/Users/{id}").status_code == 404
    assert no_pyasn1_requests == []
    monkeypatch.undo()  # the test's own look at the directory is plain ldap3
    assert directory.entry("zoe.wire@example.com") is None


def test_a_filter_wire_does_not_write_still_goes_through_ldap3(slapd, directory):
    """A stray backslash is not an RFC 4515 escape: ldap3's auto_escape sends it as a literal
    backslash, as it did before wire.py."""
    directory.add(f"uid=back\\\\slash,{PEOPLE_DN}", ["inetOrgPerson"], {"cn": "x", "sn": "back\\slash"})
    pool = ConnectionPool(LdapSettings(slapd.url, SERVICE_DN, slapd.service_password, timeout=5, client="ldap3"))
    try:
        found = pool.run(
            lambda c: (c.search(PEOPLE_DN, "(sn=back\\slash)", ldap3.SUBTREE, attributes=["sn"]), c.response),
            idempotent=True,
        )
        with pytest.raises(wire.Unsupported):
            wire.filter_bytes("(sn=back\\slash)")  # so ldap3 wrote that one
        assert found[0] is True
        assert [entry["attributes"]["sn"] for entry in found[1]] == [["back\\slash"]]
        # and the same entry by wire.py's path, the backslash escaped as RFC 4515 has it
        escaped = pool.run(
            lambda c: (c.search(PEOPLE_DN, "(sn=back\\5cslash)", ldap3.SUBTREE, attributes=["sn"]), c.response),
            idempotent=True,
        )
        assert [entry["attributes"]["sn"] for entry in escaped[1]] == [["back\\slash"]]
    finally:
        pool.close()


def test_a_refused_write_leaves_ldap3s_result_and_last_error(slapd):
    pool = ConnectionPool(LdapSettings(slapd.url, SERVICE_DN, slapd.service_password, timeout=5, client="ldap3"))
    try:

        def attempt(connection):
            done = connection.modify(f"uid=nobody,{PEOPLE_DN}", {"title": [(ldap3.MODIFY_REPLACE, ["x"])]})
            return done, connection.result["result"], connection.result["description"], connection.last_error

        assert pool.run(attempt, idempotent=True) == (False, 32, "noSuchObject", "noSuchObject")
    finally:
        pool.close()


def test_an_add_ldap3_would_refuse_is_refused_as_before(slapd):
    from ldap3.core.exceptions import LDAPObjectClassError

    from gateway.backends.ldap.measured import MeasuredConnection

    server = ldap3.Server(slapd.url, get_info=ldap3.NONE)
    connection = MeasuredConnection(server, SERVICE_DN, slapd.service_password, auto_bind=True)
    try:
        with pytest.raises(LDAPObjectClassError):
            connection.add(f"uid=classless,{PEOPLE_DN}", attributes={"objectClass": [], "uid": "classless"})
    finally:
        connection.unbind()
