"""Active Directory specifics on a real Samba AD DC (the usual stand-in for AD): the account
control bits, the logon name, the random password, memberships, paging.

What Samba does not reproduce of real AD (the 20-character sAMAccountName limit, the password
policy, refusing string GUIDs in filters, range retrieval of `member`, MaxPageSize) is pinned
by unit tests on recorded answers: tests/unit/test_capabilities.py and test_ad_answers.py."""

from __future__ import annotations

import logging

import ldap3
import pytest

from gateway.backends.ldap import accounts
from tests.directories.conftest import Server
from tests.directories.servers import PEOPLE_DN


@pytest.fixture
def ad(samba_dc):
    server = Server(
        "active-directory",
        samba_dc.url,
        samba_dc.service_dn,
        samba_dc.service_password_file,
        samba_dc.admin(),
        f"      ca_file: {samba_dc.ca_file}\n",  # its certificate names the address too
    )
    server.clear()
    yield server
    server.admin.unbind()


@pytest.fixture
def client(ad, make_directory_client_for):
    return make_directory_client_for(ad)


def _control(ad: Server, upn: str) -> int:
    return int(ad.entry("userPrincipalName", upn)["useraccountcontrol"][0])


def test_disable_and_enable_touch_only_bit_two(ad, client):
    user = client.create_user("ann@contoso.com")["id"]
    dn = ad.entry("userPrincipalName", "ann@contoso.com")["dn"][0]
    # an admin sets "password never expires" (0x10000): 66048
    assert ad.admin.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, ["66048"])]})
    assert client.get(f"/Users/{user}").get_json()["active"] is True
    assert client.patch(f"/Users/{user}", [{"op": "Replace", "path": "active", "value": "False"}]).status_code == 200
    assert _control(ad, "ann@contoso.com") == 66050
    assert [r["id"] for r in client.get("/Users?filter=active eq false").get_json()["Resources"]] == [user]
    assert client.patch(f"/Users/{user}", [{"op": "Replace", "path": "active", "value": True}]).status_code == 200
    assert _control(ad, "ann@contoso.com") == 66048
    assert client.get("/Users?filter=active eq false").get_json()["totalResults"] == 0


def test_a_new_account_gets_a_password_that_is_never_logged_nor_returned(ad, client, monkeypatch, caplog):
    monkeypatch.setattr(accounts, "random_password", lambda: "Kn0wn-For-This-Test-Only!")
    caplog.set_level(logging.DEBUG)
    created = client.post("/Users", {"userName": "pat@contoso.com", "active": True})
    assert created.status_code == 201
    assert "Kn0wn-For-This-Test-Only" not in created.get_data(as_text=True) + caplog.text
    entry = ad.entry("userPrincipalName", "pat@contoso.com")
    assert [int(v) for v in entry["useraccountcontrol"]] == [512]
    assert str(entry["pwdlastset"][0]) not in ("0", "1601-01-01 00:00:00+00:00")
    # the account can sign in with it: the password really is set
    server = ldap3.Server(ad.url.split("//")[1], port=636, use_ssl=True, tls=ldap3.Tls(validate=0))
    signed_in = ldap3.Connection(server, "pat@contoso.com", "Kn0wn-For-This-Test-Only!")
    assert signed_in.bind()
    signed_in.unbind()


def test_logon_names_are_the_part_before_the_at_made_unique(ad, client):
    client.create_user("alice@contoso.com")
    client.create_user("alice@fabrikam.com")
    client.create_user("a.very.long.name+with/odd:chars@contoso.com")
    names = sorted(str(ad.entry("cn", n)["samaccountname"][0]) for n in ("alice@contoso.com", "alice@fabrikam.com"))
    assert names == ["alice", "alice2"]
    assert ad.entry("cn", "a.very.long.name+with/odd:chars@contoso.com")["samaccountname"] == ["a.very.long.name_wit"]


def test_member_already_there_or_already_gone_is_done_and_the_rest_of_the_patch_lands(ad, client):
    ann, bob, cid = (client.create_user(f"{n}@contoso.com")["id"] for n in ("ann", "bob", "cid"))
    group = client.post("/Groups", {"displayName": "Sales", "members": [{"value": ann}]}).get_json()["id"]
    again = [{"op": "Add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]
    assert client.patch(f"/Groups/{group}", again).status_code == 204
    gone = [{"op": "Remove", "path": "members", "value": [{"value": cid}, {"value": ann}]}]
    assert client.patch(f"/Groups/{group}", gone).status_code == 204
    assert [m["value"] for m in client.get(f"/Groups/{group}").get_json()["members"]] == [bob]


def test_pages_of_one_search_keep_one_attribute_list(ad, client):
    ids = [client.create_user(f"p{n}@contoso.com")["id"] for n in range(5)]
    page = client.get("/Users?startIndex=2&count=2").get_json()
    assert page["totalResults"] == 5 and len(page["Resources"]) == 2
    assert {r["id"] for r in page["Resources"]} <= set(ids)


def test_ids_are_guid_strings_and_lookups_by_them_work(ad, client):
    user = client.create_user("gid@contoso.com")["id"]
    assert len(user) == 36 and user.count("-") == 4
    assert client.get(f"/Users/{user}").get_json()["userName"] == "gid@contoso.com"
    assert client.get(f"/Users/{user.upper()}").status_code == 200
    found = client.get(f'/Users?filter=id eq "{user}"').get_json()
    assert [r["id"] for r in found["Resources"]] == [user]
    assert ad.entry("userPrincipalName", "gid@contoso.com")["dn"][0].lower().endswith(PEOPLE_DN.lower())
