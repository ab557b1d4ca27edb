"""Groups, memberships, references and roles against a real slapd."""

from __future__ import annotations

import pytest

from tests.conftest import OPENLDAP_MAP, settled, watch_ldap
from tests.sandbox.slapd import GROUPS_DN, PEOPLE_DN, Slapd

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PLACEHOLDER = "cn=no members,ou=Groups,dc=example,dc=com"


def _group(client, name, *member_ids):
    response = client.post("/Groups", {"displayName": name, "members": [{"value": m} for m in member_ids]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _members(client, group_id):
    return sorted(m["value"] for m in client.get(f"/Groups/{group_id}").get_json().get("members", []))


def _add(client, group_id, *ids):
    response = client.patch(
        f"/Groups/{group_id}", [{"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}]
    )
    assert response.status_code == 204, response.get_data(as_text=True)


@pytest.fixture
def searches(monkeypatch):
    """The attribute lists of every LDAP search the gateway sends."""
    seen: list[tuple[str, ...]] = []

    def recording(operation, args, kwargs):
        if operation == "search":
            seen.append(tuple(a.lower() for a in kwargs.get("attributes") or ()))

    watch_ldap(monkeypatch, recording)
    return seen


def test_membership_patch_is_one_search_for_the_ids_and_one_modify(client, ldap_ops, searches):
    users = [client.create_user(f"m{i}")["id"] for i in range(12)]
    group = _group(client, "big", *users[:2])
    ldap_ops.reset()
    searches.clear()
    _add(client, group, *users[2:12])
    assert (ldap_ops["search"], ldap_ops["modify"], ldap_ops.total) == (1, 1, 2)
    assert not any("member" in attributes for attributes in searches), "the member list was read"
    ldap_ops.reset()
    client.patch(f"/Groups/{group}", [{"op": "Remove", "path": "members", "value": [{"value": u} for u in users[:5]]}])
    assert (ldap_ops["search"], ldap_ops["modify"]) == (1, 1)
    assert _members(client, group) == sorted(users[5:])


def test_excluded_members_are_never_read(client, searches):
    group = _group(client, "quiet", client.create_user("q")["id"])
    searches.clear()
    body = client.get(f"/Groups/{group}?excludedAttributes=members").get_json()
    assert "members" not in body
    assert searches and not any("member" in attributes for attributes in searches)
    searches.clear()
    listed = client.get('/Groups?excludedAttributes=members&filter=displayName eq "quiet"').get_json()
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]
    assert not any("member" in attributes for attributes in searches)


def test_removing_only_absent_members_reads_just_those_values(client, directory, ldap_ops, searches):
    present, absent = client.create_user("present")["id"], client.create_user("absent")["id"]
    group = _group(client, "g", present)
    ldap_ops.reset()
    searches.clear()
    response = client.patch(f"/Groups/{group}", [{"op": "Remove", "path": "members", "value": [{"value": absent}]}])
    assert response.status_code == 204
    assert ldap_ops["modify"] == 1  # the directory said noSuchAttribute; nothing left to send
    assert ("member",) in searches  # one matched-values read of those values only
    assert _members(client, group) == [present]


def test_a_group_made_elsewhere_without_the_placeholder_survives_losing_its_last_member(client, directory):
    user = client.create_user("last")
    directory.add(f"cn=legacy,{GROUPS_DN}", ["groupOfNames"], {"cn": "legacy", "member": [f"uid=last,{PEOPLE_DN}"]})
    group = client.get('/Groups?filter=displayName eq "legacy"').get_json()["Resources"][0]
    assert group["members"] == [{"value": user["id"]}]
    response = client.patch(f"/Groups/{group['id']}", [{"op": "remove", "path": f'members[value eq "{user["id"]}"]'}])
    assert response.status_code == 204
    assert directory.entry("legacy", base=GROUPS_DN, attribute="cn")["member"] == [PLACEHOLDER]


def test_put_applies_the_difference_of_members(client, directory):
    a, b, c = (client.create_user(n)["id"] for n in ("pa", "pb", "pc"))
    group = _group(client, "put", a, b)
    response = client.put(f"/Groups/{group}", {"displayName": "put", "members": [{"value": b}, {"value": c}]})
    assert response.status_code == 200
    assert sorted(m["value"] for m in response.get_json()["members"]) == sorted([b, c])
    assert sorted(directory.entry("put", base=GROUPS_DN, attribute="cn")["member"]) == sorted(
        [PLACEHOLDER, f"uid=pb,{PEOPLE_DN}", f"uid=pc,{PEOPLE_DN}"]
    )


def test_user_rename_keeps_group_membership_and_manager_links(client, directory):
    boss = client.create_user("chief")["id"]
    worker = client.create_user("worker", **{ENTERPRISE: {"manager": boss}})["id"]
    group = _group(client, "team", boss, worker)
    assert client.patch(f"/Users/{boss}", [{"op": "replace", "path": "userName", "value": "chief2"}]).status_code == 200
    assert settled(lambda: directory.entry("worker")["manager"], [f"uid=chief2,{PEOPLE_DN}"])
    team = lambda: f"uid=chief2,{PEOPLE_DN}" in directory.entry("team", base=GROUPS_DN, attribute="cn")["member"]  # noqa: E731
    assert settled(team, True)
    assert _members(client, group) == sorted([boss, worker])
    assert client.get(f"/Users/{worker}").get_json()[ENTERPRISE]["manager"] == {"value": boss}
    assert f"uid=chief2,{PEOPLE_DN}" in directory.entry("team", base=GROUPS_DN, attribute="cn")["member"]
    assert directory.entry("worker")["manager"] == [f"uid=chief2,{PEOPLE_DN}"]


def test_deleting_a_user_removes_it_from_its_groups(client, directory):
    stays, goes = client.create_user("stays")["id"], client.create_user("goes")["id"]
    group = _group(client, "club", stays, goes)
    assert client.delete(f"/Users/{goes}").status_code == 204
    assert settled(lambda: len(directory.entry("club", base=GROUPS_DN, attribute="cn")["member"]), 2)
    assert _members(client, group) == [stays]
    assert f"uid=goes,{PEOPLE_DN}" not in directory.entry("club", base=GROUPS_DN, attribute="cn")["member"]


def test_gateway_keeps_references_when_the_directory_has_no_refint(make_client, tmp_path):
    plain = Slapd(tmp_path / "plain", integrity=False)
    plain.start()
    try:
        text = OPENLDAP_MAP.read_text().replace("referential_integrity: directory", "referential_integrity: gateway")
        text = text.replace(
            "    object_classes: [inetOrgPerson, scimGatewayPerson]\n",
            "    object_classes: [inetOrgPerson, scimGatewayPerson]\n    referential_integrity: gateway\n",
        )
        client = make_client(text, server=plain)
        boss = client.create_user("boss")["id"]
        worker = client.create_user("worker", **{ENTERPRISE: {"manager": boss}})["id"]
        group = _group(client, "team", boss, worker)
        client.patch(f"/Users/{boss}", [{"op": "replace", "path": "userName", "value": "boss2"}])
        assert _members(client, group) == sorted([boss, worker])
        assert client.get(f"/Users/{worker}").get_json()[ENTERPRISE]["manager"] == {"value": boss}
        assert client.delete(f"/Users/{boss}").status_code == 204
        assert _members(client, group) == [worker]
        assert ENTERPRISE not in client.get(f"/Users/{worker}").get_json()
    finally:
        plain.stop()


def test_stale_remembered_group_dn_is_found_again(client, directory):
    user = client.create_user("u")["id"]
    group = _group(client, "before")
    assert directory.connection.modify_dn(f"cn=before,{GROUPS_DN}", "cn=after")
    _add(client, group, user)
    assert _members(client, group) == [user]


ROLES_MAP = OPENLDAP_MAP.read_text().replace(
    "    active:\n      disable: ppolicy-lock\n",
    """    active:
      disable: ppolicy-lock
    roles.value:
      attribute: scimRole
      values: {ReadOnly: readonly, User: user, Admin: admin, EnterpriseAdmin: enterprise-admin}
""",
)


def test_roles_land_in_an_attribute_through_a_value_map_from_objects_and_stringified_json(make_client, directory):
    client = make_client(ROLES_MAP)
    created = client.create_user(
        "roles", roles=[{"primary": False, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]
    )
    assert created["roles"] == [{"value": "Admin"}]
    assert directory.entry("roles")["scimrole"] == ["admin"]
    # AppRoleAssignmentsComplex PATCHes roles as stringified JSON (docs/entra-wire.md#roles-as-stringified-json)
    stringified = '{"id":"06b07648-ecfe-589f-9d2f-6f28b2a54c4d","value":"User","displayName":"User"}'
    response = client.patch(
        f"/Users/{created['id']}", [{"op": "Add", "path": "roles", "value": [{"value": stringified}]}]
    )
    assert response.status_code == 200
    assert sorted(r["value"] for r in response.get_json()["roles"]) == ["Admin", "User"]
    assert sorted(directory.entry("roles")["scimrole"]) == ["admin", "user"]
    bad = client.patch(f"/Users/{created['id']}", [{"op": "Add", "path": "roles", "value": [{"value": "Root"}]}])
    assert bad.status_code == 400 and "'Root' is not one of" in bad.get_json()["detail"]


PRIMARY_ROLE_TO_GROUPS = (
    OPENLDAP_MAP.read_text()
    .replace(
        "    active:\n      disable: ppolicy-lock\n",
        """    active:
      disable: ppolicy-lock
    roles[primary eq "True"].value:
      attribute: memberOf
      values:
        Admin: cn=admins,ou=Groups,dc=example,dc=com
        User: cn=users,ou=Groups,dc=example,dc=com
""",
    )
    .replace(
        "    object_classes: [inetOrgPerson, scimGatewayPerson]\n",
        "    object_classes: [inetOrgPerson, scimGatewayPerson]\n    memberships: {memberOf: member}\n",
    )
)


def test_primary_role_becomes_group_membership_and_reads_back_as_sent(make_client, directory):
    client = make_client(PRIMARY_ROLE_TO_GROUPS)
    for name in ("admins", "users"):
        directory.add(f"cn={name},{GROUPS_DN}", ["groupOfNames"], {"cn": name, "member": [PLACEHOLDER]})
    role = {"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}
    created = client.create_user("ardoq", roles=[role])
    assert created["roles"] == [{"primary": True, "value": "Admin"}]
    assert f"uid=ardoq,{PEOPLE_DN}" in directory.entry("admins", base=GROUPS_DN, attribute="cn")["member"]
    response = client.patch(
        f"/Users/{created['id']}", [{"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "User"}]
    )
    assert response.status_code == 200
    assert response.get_json()["roles"] == [{"primary": True, "value": "User"}]
    assert f"uid=ardoq,{PEOPLE_DN}" not in directory.entry("admins", base=GROUPS_DN, attribute="cn")["member"]
    assert f"uid=ardoq,{PEOPLE_DN}" in directory.entry("users", base=GROUPS_DN, attribute="cn")["member"]


def test_a_role_whose_group_is_missing_writes_nothing(make_client, directory):
    client = make_client(PRIMARY_ROLE_TO_GROUPS)
    response = client.post("/Users", {"userName": "orphan", "roles": [{"primary": True, "value": "Admin"}]})
    assert response.status_code == 400
    assert "cn=admins,ou=Groups,dc=example,dc=com, which does not exist" in response.get_json()["detail"]
    assert directory.entry("orphan") is None


@pytest.mark.parametrize("dialect", ["old", "aadOptscim062020"])
def test_full_entra_sequence(client, directory, dialect):
    """Users, a group, memberships, updates, disable, membership removal, deletes — as each dialect sends them."""
    new = dialect != "old"
    query = "?aadOptscim062020" if new else ""
    op = str.lower if new else str.capitalize
    false = False if new else "False"
    assert (
        client.get('/Users?filter=userName eq "5c7c0a3e-6b0f-4a0e-9a2c-1a5b3c7d9e11"').get_json()["totalResults"] == 0
    )
    ids = {}
    for name in ("ann", "ben"):
        assert client.get(f'/Users?filter=userName eq "{name}@contoso.com"').get_json()["totalResults"] == 0
        body = {
            "userName": f"{name}@contoso.com",
            "active": True if new else "True",
            "displayName": name.title(),
            "emails": [{"primary": True, "type": "work", "value": f"{name}@contoso.com"}],
        }
        ids[name] = client.post(f"/Users{query}", body).get_json()["id"]
    assert client.get('/Groups?excludedAttributes=members&filter=displayName eq "Team"').get_json()["totalResults"] == 0
    group = client.post(f"/Groups{query}", {"displayName": "Team", "members": []}).get_json()["id"]
    add = {
        "op": op("add"),
        "path": "members",
        "value": [{"$ref": None, "value": ids["ann"]}, {"$ref": None, "value": ids["ben"]}],
    }
    assert client.patch(f"/Groups/{group}{query}", [add]).status_code == 204
    if new:
        update = [{"op": "replace", "value": {"displayName": "Ann A.", "name.givenName": "Ann"}}]
    else:
        update = [
            {"op": "Replace", "path": "displayName", "value": "Ann A."},
            {"op": "Add", "path": "name.givenName", "value": "Ann"},
        ]
    assert client.patch(f"/Users/{ids['ann']}{query}", update).status_code == 200
    assert (
        client.patch(
            f"/Users/{ids['ben']}{query}", [{"op": op("replace"), "path": "active", "value": false}]
        ).status_code
        == 200
    )
    if new:
        remove = {"op": "remove", "path": f'members[value eq "{ids["ben"]}"]'}
    else:
        remove = {"op": "Remove", "path": "members", "value": [{"value": ids["ben"]}]}
    assert client.patch(f"/Groups/{group}{query}", [remove]).status_code == 204
    assert _members(client, group) == [ids["ann"]]
    assert client.get(f"/Users/{ids['ben']}").get_json()["active"] is False
    assert directory.entry("ann@contoso.com")["displayname"] == ["Ann A."]
    for path in (f"/Groups/{group}", f"/Users/{ids['ann']}", f"/Users/{ids['ben']}"):
        assert client.delete(path + query).status_code == 204
    assert directory.dns(PEOPLE_DN) == [] and directory.dns(GROUPS_DN) == []
