"""What each kind of Entra PATCH costs in LDAP operations, and that a PATCH sent without reading
the entry (gateway/mapping/blind.py) leaves it exactly as the read-patch-diff road would."""

from __future__ import annotations

import pytest

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    ("operations", "searches", "modifies"),
    [
        ([{"op": "Replace", "path": "title", "value": "Boss"}], 0, 1),
        ([{"op": "Replace", "path": "active", "value": "False"}], 0, 1),
        ([{"op": "Replace", "path": "active", "value": "True"}], 0, 1),
        ([{"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"}], 0, 1),
        ([{"op": "Replace", "path": "displayName", "value": "Ann B"}], 1, 1),  # the cn default reads it
        ([{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "b@x"}], 1, 1),
    ],
    ids=["title", "disable", "enable", "department", "displayName", "work email"],
)
def test_each_patch_kind_costs_what_it_needs(client, ldap_ops, operations, searches, modifies):
    id = client.create_user("ann", displayName="Ann", title="Engineer")["id"]  # the DN is remembered
    ldap_ops.reset()
    response = client.patch(f"/Users/{id}", operations)
    assert response.status_code == 200, response.get_json()
    assert (ldap_ops["search"], ldap_ops["modify"], ldap_ops.total) == (searches, modifies, searches + modifies)


def test_a_blind_patch_answers_and_stores_what_the_read_road_would(client, directory):
    id = client.create_user("ann", displayName="Ann", title="Engineer")["id"]
    body = client.patch(
        f"/Users/{id}",
        [
            {"op": "Replace", "path": "title", "value": "Boss"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"},
        ],
    ).get_json()
    assert (body["title"], body["active"], body[ENTERPRISE]["department"]) == ("Boss", False, "Sales")
    assert client.get(f"/Users/{id}").get_json() == body
    entry = directory.entry("ann")
    assert (entry["title"], entry["pwdaccountlockedtime"], entry["departmentnumber"]) == (
        ["Boss"],
        ["000001010000Z"],
        ["Sales"],
    )
    enabled = client.patch(f"/Users/{id}", [{"op": "Replace", "path": "active", "value": "True"}]).get_json()
    assert enabled["active"] is True and "pwdaccountlockedtime" not in directory.entry("ann")
    cleared = client.patch(f"/Users/{id}", [{"op": "Replace", "path": "title", "value": None}]).get_json()
    assert "title" not in cleared and "title" not in directory.entry("ann")


def test_a_blind_patch_of_an_unknown_id_is_404(client, ldap_ops):
    response = client.patch(
        "/Users/00000000-0000-0000-0000-000000000000", [{"op": "Replace", "path": "title", "value": "X"}]
    )
    assert response.status_code == 404
    assert ldap_ops["modify"] == 0


def test_a_blind_patch_finds_an_entry_this_worker_never_saw(make_client, client, ldap_ops):
    id = client.create_user("ann")["id"]
    other = make_client()  # another worker: no DN remembered
    other.get('/Users?filter=userName eq "nobody"')  # its connection opened (bind, root DSE read)
    ldap_ops.reset()
    body = other.patch(f"/Users/{id}", [{"op": "Replace", "path": "title", "value": "Boss"}]).get_json()
    assert body["title"] == "Boss"
    assert (ldap_ops["search"], ldap_ops["modify"]) == (1, 1)  # where it is (by id, no attributes), then the modify
