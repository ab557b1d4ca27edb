"""The Users endpoint against a real slapd: listing, projection, PUT, errors, round trips."""

from __future__ import annotations

import socket
import threading

import pytest

from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.compose import normalized_dn
from tests.sandbox.slapd import Slapd

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _users(client, count):
    return [client.create_user(f"user{i:02d}", displayName=f"User {i}")["id"] for i in range(count)]


def test_list_pages_with_start_index_count_and_the_true_total(client):
    ids = _users(client, 7)
    page = client.get("/Users?startIndex=3&count=2").get_json()
    assert page["totalResults"] == 7
    assert page["startIndex"] == 3
    assert page["itemsPerPage"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    assert client.get("/Users?count=0").get_json()["totalResults"] == 7
    beyond = client.get("/Users?startIndex=50").get_json()
    assert (beyond["totalResults"], beyond["Resources"]) == (7, [])


def test_filters_that_no_entry_can_match_cost_no_ldap_operation(client, ldap_ops):
    ldap_ops.reset()
    body = client.get('/Users?filter=emails[type eq "home"].value eq "x"').get_json()
    assert body["totalResults"] == 0
    assert ldap_ops.total == 0


def test_attributes_and_excluded_attributes_shape_the_response(client):
    id = client.create_user("proj", displayName="P", emails=[{"type": "work", "value": "p@x"}])["id"]
    only = client.get(f"/Users/{id}?attributes=userName").get_json()
    assert set(only) == {"schemas", "id", "userName"}
    without = client.get(f"/Users/{id}?excludedAttributes=emails,meta").get_json()
    assert "emails" not in without and "meta" not in without and without["displayName"] == "P"
    listed = client.get('/Users?attributes=emails.value&filter=userName eq "proj"').get_json()
    assert listed["Resources"][0]["emails"] == [{"value": "p@x"}]


def test_put_replaces_the_whole_user(client, directory):
    id = client.create_user("put", displayName="Before", title="Boss", emails=[{"type": "work", "value": "a@x"}])["id"]
    response = client.put(f"/Users/{id}", {"userName": "put", "displayName": "After", "active": True})
    assert response.status_code == 200
    body = response.get_json()
    assert body["displayName"] == "After" and "title" not in body and "emails" not in body
    entry = directory.entry("put")
    assert entry["displayname"] == ["After"] and "title" not in entry and "mail" not in entry


def test_a_write_costs_at_most_two_ldap_operations_and_no_bind(client, ldap_ops):
    client.get('/Users?filter=userName eq "warm-up"')  # opens and binds this worker's connection
    ldap_ops.reset()
    id = client.create_user("ops", displayName="Ops")["id"]
    assert (ldap_ops.total, ldap_ops["add"]) == (2, 1)  # uniqueness search + add with post-read
    ldap_ops.reset()
    client.patch(f"/Users/{id}", [{"op": "replace", "path": "displayName", "value": "New"}])
    assert (ldap_ops.total, ldap_ops["modify"]) == (2, 1)  # read + modify with post-read
    ldap_ops.reset()
    client.get(f"/Users/{id}")
    assert ldap_ops.total == 1
    ldap_ops.reset()
    client.delete(f"/Users/{id}")
    assert (ldap_ops.total, ldap_ops["delete"]) == (1, 1)  # the DN is remembered from the GET
    assert ldap_ops["bind"] == 0


def test_a_remembered_dn_that_went_stale_is_never_written_to(client, directory):
    """Renamed behind the gateway's back, and another entry took the old name: the assertion on
    entryUUID stops the write to the wrong entry, and the gateway finds the right one."""
    id = client.create_user("moved", displayName="Original")["id"]
    other = "uid=moved,ou=People,dc=example,dc=com"
    assert directory.connection.modify_dn(other, "uid=moved-elsewhere")
    directory.add(other, ["inetOrgPerson"], {"uid": "moved", "sn": "x", "cn": "impostor", "displayName": "Impostor"})
    assert client.delete(f"/Users/{id}").status_code == 204  # sent to the remembered DN first
    assert directory.entry("moved-elsewhere") is None
    assert directory.entry("moved")["cn"] == ["impostor"]


def test_an_entry_renamed_before_every_write_is_a_503_to_retry_never_a_404(client, directory, monkeypatch):
    """Renamed again before each try (a rename storm): the entry exists, so not a 404, which
    Entra would take for a deleted user; nothing was written, so a 503 it retries."""
    id = client.create_user("runner", displayName="Before")["id"]
    original = LdapBackend._modify_at
    renames = iter(range(100))

    def renamed_just_before(self, spec, update, dn, *args):
        assert directory.connection.modify_dn(dn, f"uid=runner{next(renames)}"), directory.connection.result
        return original(self, spec, update, dn, *args)

    monkeypatch.setattr(LdapBackend, "_modify_at", renamed_just_before)
    response = client.patch(f"/Users/{id}", [{"op": "Replace", "path": "displayName", "value": "After"}])
    assert response.status_code == 503, response.get_json()
    assert "Retry-After" in response.headers and "kept being renamed" in response.get_json()["detail"]
    monkeypatch.undo()
    assert client.get(f"/Users/{id}").get_json()["displayName"] == "Before"


def test_a_patch_that_changes_nothing_writes_nothing(client, ldap_ops):
    id = client.create_user("same", displayName="Same")["id"]
    ldap_ops.reset()
    response = client.patch(f"/Users/{id}", [{"op": "Replace", "path": "displayName", "value": "Same"}])
    assert response.status_code == 200
    assert ldap_ops["modify"] == 0


def test_references_cost_one_search_for_the_whole_request(client, ldap_ops):
    boss = client.create_user("boss2")["id"]
    id = client.create_user("worker", **{ENTERPRISE: {"manager": boss}})["id"]
    ldap_ops.reset()
    body = client.patch(f"/Users/{id}", [{"op": "replace", "path": "title", "value": "T"}]).get_json()
    assert body[ENTERPRISE]["manager"] == {"value": boss}
    assert ldap_ops.total == 2  # modify with post-read (a title needs no read), the manager's DN to its id


def test_rename_that_fails_half_way_is_undone(client, directory):
    id = client.create_user("torn", phoneNumbers=[{"type": "work", "value": "+1 555"}])["id"]
    response = client.patch(
        f"/Users/{id}",
        [
            {"op": "replace", "path": "userName", "value": "torn2"},
            {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "not@a#phone"},
        ],
    )
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "invalidValue"
    assert "telephoneNumber" in response.get_json()["detail"]
    assert directory.entry("torn2") is None
    assert directory.entry("torn")["telephonenumber"] == ["+1 555"]


def test_rename_to_a_taken_username_is_409_and_changes_nothing(client, directory):
    client.create_user("taken")
    id = client.create_user("mover", displayName="M")["id"]
    response = client.patch(
        f"/Users/{id}",
        [
            {"op": "replace", "path": "userName", "value": "TAKEN"},
            {"op": "replace", "path": "displayName", "value": "X"},
        ],
    )
    assert response.status_code == 409
    assert response.get_json()["scimType"] == "uniqueness"
    assert directory.entry("mover")["displayname"] == ["M"]


def test_case_only_rename_is_stored_as_sent(client, directory):
    id = client.create_user("casey")["id"]
    assert client.patch(f"/Users/{id}", [{"op": "replace", "path": "userName", "value": "Casey"}]).status_code == 200
    assert client.get(f"/Users/{id}").get_json()["userName"] == "Casey"
    assert directory.entry("casey")["uid"] == ["Casey"]


def test_hostile_values_cannot_widen_a_filter_or_change_a_dn(client, directory):
    client.create_user("victim")
    hostile = "*)(uid=*"
    body = client.get(f'/Users?filter=userName eq "{hostile}"').get_json()
    assert body["totalResults"] == 0
    created = client.create_user("evil,ou=Groups+cn=x", displayName="E")
    dn = directory.entry("evil,ou=Groups+cn=x")["dn"][0]
    assert normalized_dn(dn) == (("uid", "evil,ou=groups+cn=x"), ("ou", "people"), ("dc", "example"), ("dc", "com"))
    assert client.get(f"/Users/{created['id']}").get_json()["userName"] == "evil,ou=Groups+cn=x"


@pytest.mark.parametrize(
    ("raw", "status", "scim_type"),
    [
        (b"{not json", 400, "invalidSyntax"),
        (b"[1, 2]", 400, "invalidSyntax"),
        (b'{"userName": {"nested": 1}}', 400, "invalidValue"),
        (b'{"userName": "x", "active": "sometimes"}', 400, "invalidValue"),
        (b"", 400, "invalidSyntax"),
        # found by tests/fuzz: both were 500s
        (b"[" * 2000 + b"]" * 2000, 400, "invalidSyntax"),
        (b'{"userName": "half \\udc80 a pair"}', 400, "invalidSyntax"),
        # the default json_depth is 32
        (b'{"userName": "x", "name": ' + b'{"a": ' * 40 + b"1" + b"}" * 41, 400, "invalidSyntax"),
    ],
)
def test_bad_post_bodies_are_400_with_scim_type(client, raw, status, scim_type):
    response = client.request("POST", "/Users", raw=raw)
    assert response.status_code == status
    assert response.get_json()["scimType"] == scim_type
    assert response.headers["Content-Type"] == "application/scim+json"


def test_values_the_directory_refuses_are_400_with_its_reason(client):
    response = client.post("/Users", {"userName": "phone", "phoneNumbers": [{"type": "fax", "value": "#!"}]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["scimType"] == "invalidValue"
    assert "facsimileTelephoneNumber" in body["detail"]


def test_unknown_attributes_in_a_post_are_ignored(client):
    response = client.post("/Users", {"userName": "extra", "nickName": "ignored", "favouriteColour": "red"})
    assert response.status_code == 201
    assert "nickName" not in response.get_json()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/Nope", 404),
        ("GET", "/Things", 404),
        ("DELETE", "/ServiceProviderConfig", 405),
        ("GET", "/Users/x/y", 404),
    ],
)
def test_every_error_is_scim_json(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/scim+json"
    assert response.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_request_body_limit_is_413(client):
    response = client.request("POST", "/Users", raw=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert response.status_code == 413
    assert response.get_json()["status"] == "413"


def test_directory_unreachable_is_503_with_retry_after(make_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(url=f"ldap://127.0.0.1:{port}", timeout=1)
    response = client.get('/Users?filter=userName eq "x"')
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "17"
    assert response.get_json()["detail"] == "the directory cannot be reached; retry later"


def test_directory_that_never_answers_is_503_within_the_timeout(make_client):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    try:
        client = make_client(url=f"ldap://127.0.0.1:{listener.getsockname()[1]}", timeout=1)
        response = client.get("/Users")
        assert response.status_code == 503
        assert "Traceback" not in response.get_data(as_text=True)
    finally:
        for connection, _ in held:
            connection.close()
        listener.close()


def test_connections_survive_a_directory_restart(make_client, tmp_path):
    own = Slapd(tmp_path / "own")
    own.start()
    try:
        client = make_client(server=own)
        client.create_user("before")
        port = own.port
        own.stop()
        own.port = port
        own.start()
        assert client.get('/Users?filter=userName eq "before"').get_json()["totalResults"] == 1
        assert client.create_user("after")["userName"] == "after"  # a write on a fresh connection
    finally:
        own.stop()


def test_every_entra_default_attribute_round_trips_through_slapd(client):
    """What Entra writes, Entra reads back unchanged (docs/entra-wire.md#default-attribute-mapping), or it re-PATCHes forever."""
    from tests.unit.test_mapping import ENTRA_DEFAULTS

    boss = client.create_user("m-boss")["id"]
    body = {**ENTRA_DEFAULTS, ENTERPRISE: {**ENTRA_DEFAULTS[ENTERPRISE], "manager": {"value": boss}}}
    created = client.post("/Users", body)
    assert created.status_code == 201, created.get_json()
    read = client.get(f"/Users/{created.get_json()['id']}").get_json()
    for key, value in body.items():
        assert read[key] == value, key


def test_meta_location_names_the_host_and_scheme_each_request_came_to(client):
    """RFC 7644 section 3.1: meta.location is the resource's URI, as the client reached it; each
    host and scheme gets its own (views._host_url keeps one per host and scheme)."""
    id = client.create_user("located")["id"]
    for host, scheme in [("gw.example.com", "http"), ("other.example.com:8443", "https"), ("gw.example.com", "http")]:
        answer = client.flask_client.get(
            f"/scim/v2/Users/{id}",
            headers={"Authorization": f"Bearer {client.token}", "Host": host},
            base_url=f"{scheme}://{host}",
        )
        assert answer.status_code == 200, answer.json
        assert answer.json["meta"]["location"] == f"{scheme}://{host}/scim/v2/Users/{id}"
