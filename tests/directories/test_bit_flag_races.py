"""A bit flag (AD's userAccountControl 0x2 for `active`) that someone else changes between the
gateway's read and its write: their bit is kept, the gateway's bit lands, or, raced on every
try, a 503 with nothing written (gateway/backends/ldap/modification.py).

Active Directory runs its shipped map; OpenLDAP and 389 DS, whose shipped maps keep `active`
otherwise, a copy of theirs that keeps it as bit 0x2 of employeeNumber (single-valued there
too), since the same code serves them."""

from __future__ import annotations

import re

import ldap3
import pytest

from tests.conftest import watch_ldap
from tests.directories.conftest import MAPS, Server

PASSWORD_NEVER_EXPIRES = 0x10000
SMARTCARD_REQUIRED = 0x40000
DISABLED = 0x2
ATTRIBUTE = {"openldap": "employeeNumber", "389ds": "employeeNumber", "active-directory": "userAccountControl"}


def _bit_flag_map(server: Server) -> str | None:
    """The shipped map, or (OpenLDAP, 389 DS) the text of a copy that keeps `active` in
    employeeNumber's bit 0x2."""
    if server.name == "active-directory":
        return None
    text = MAPS[server.name].read_text()
    text = re.sub(r"\n\s*urn:[^\n]*:User:employeeNumber: employeeNumber", "", text)
    text = re.sub(
        r"\n    active:\n      disable: [a-z0-9-]+\n",
        "\n    active:\n      attribute: employeeNumber\n      disable: ad-account-control\n",
        text,
    )
    return text[: text.index("\nexamples:")] if "\nexamples:" in text else text  # theirs speak of the lock


@pytest.fixture
def flagged(server, make_directory_client_for):
    """(server, client, name of the attribute holding the flag)."""
    return server, make_directory_client_for(server, _bit_flag_map(server)), ATTRIBUTE[server.name]


def _number(server: Server, dn: str, attribute: str) -> int:
    server.admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[attribute])
    return int(server.admin.response[0]["attributes"][attribute][0])


def _flip_before_each_modify(
    monkeypatch, server: Server, dn: str, attribute: str, bit: int | None, times: int
) -> list[int | None]:
    """An admin toggles `bit` (None: removes the attribute) right before each of the gateway's
    next `times` modifies of `dn`, after the gateway has read the entry; returns what the admin left."""
    left: list[int | None] = []

    def seen(operation, args, kwargs):
        if operation != "modify" or len(left) >= times or args[0].lower() != dn.lower():
            return
        if not any(name.lower() == attribute.lower() for name in args[1]):
            return
        toggled = None if bit is None else _number(server, dn, attribute) ^ bit
        written = [] if toggled is None else [str(toggled)]
        assert server.admin.modify(dn, {attribute: [(ldap3.MODIFY_REPLACE, written)]}), server.admin.result
        left.append(toggled)

    watch_ldap(monkeypatch, seen)
    return left


def _user(server: Server, client, attribute: str) -> tuple[str, str]:
    user = client.create_user("ann@contoso.com", displayName="Ann")["id"]
    server.admin.search("ou=People,dc=example,dc=com", "(displayName=Ann)", ldap3.SUBTREE, attributes=[attribute])
    return user, server.admin.response[0]["dn"]


@pytest.mark.parametrize(
    "active, other_bit, expected",
    [
        ("False", PASSWORD_NEVER_EXPIRES, 512 | PASSWORD_NEVER_EXPIRES | DISABLED),
        (True, SMARTCARD_REQUIRED, 512 | SMARTCARD_REQUIRED),
    ],
)
def test_a_bit_an_admin_sets_between_the_read_and_the_write_is_kept(
    flagged, monkeypatch, ldap_ops, active, other_bit, expected
):
    server, client, attribute = flagged
    user, dn = _user(server, client, attribute)
    if active is True:  # start disabled, to enable
        patch = [{"op": "Replace", "path": "active", "value": "False"}]
        assert client.patch(f"/Users/{user}", patch).status_code == 200
    flipped = _flip_before_each_modify(monkeypatch, server, dn, attribute, other_bit, times=1)
    ldap_ops.reset()
    response = client.patch(f"/Users/{user}", [{"op": "Replace", "path": "active", "value": active}])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is (active is True)
    assert flipped and _number(server, dn, attribute) == expected
    assert ldap_ops["modify"] == 2  # refused (the value read is gone), then sent again on the new value
    assert client.get(f"/Users/{user}").get_json()["active"] is (active is True)


def test_a_flag_raced_on_every_try_is_a_503_to_retry_and_nothing_is_written(flagged, monkeypatch):
    server, client, attribute = flagged
    user, dn = _user(server, client, attribute)
    flipped = _flip_before_each_modify(monkeypatch, server, dn, attribute, PASSWORD_NEVER_EXPIRES, times=100)
    patch = [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "displayName", "value": "Ann B"},
    ]
    response = client.patch(f"/Users/{user}", patch)
    assert response.status_code == 503, response.get_json()
    assert "Retry-After" in response.headers
    assert "kept being changed by another writer" in response.get_json()["detail"]
    assert len(flipped) == 5 and _number(server, dn, attribute) == flipped[-1] == 512 | PASSWORD_NEVER_EXPIRES
    monkeypatch.undo()
    after = client.get(f"/Users/{user}").get_json()
    assert (after["active"], after["displayName"]) == (True, "Ann")
    # and once the admin is done, Entra's retry lands on the admin's number
    assert client.patch(f"/Users/{user}", patch).status_code == 200
    assert _number(server, dn, attribute) == 512 | PASSWORD_NEVER_EXPIRES | DISABLED


@pytest.mark.parametrize("server", ["openldap", "389ds"], indirect=True)  # AD never lets it go
def test_a_flag_attribute_removed_between_the_read_and_the_write_is_written_as_for_a_new_entry(flagged, monkeypatch):
    server, client, attribute = flagged
    user, dn = _user(server, client, attribute)
    _flip_before_each_modify(monkeypatch, server, dn, attribute, None, times=1)
    response = client.patch(f"/Users/{user}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    assert _number(server, dn, attribute) == 512 | DISABLED
