"""Every shipped seed map replays its application's attribute table through the gateway into a
real slapd and reads it back unchanged: first as Entra's POST, then as Entra's PATCH of every
attribute (old dialect: capitalised ops, one path each, booleans as strings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapping import codec
from gateway.mapping.loader import load_mapping, scim_path
from gateway.scim.filter import parse_patch_path
from gateway.scim.patch import Operation, apply_patch
from tests.sandbox.slapd import GROUPS_DN, PEOPLE_DN

REPO = Path(__file__).resolve().parents[2]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ALVAO_FIELDS = "urn:ietf:params:scim:schemas:extension:alvao_tPersonCust:2.0:User"
ALVAO_KINDS = "urn:ietf:params:scim:schemas:extension:alvao_tblProperty:2.0:User"

# Values a path gets on the POST and on the PATCH; anything else gets "<path> <round>".
SPECIAL = {
    "active": (True, False),
    'roles[primary eq "True"].value': ("Admin", "User"),
    f"{ENTERPRISE}:department": ("Quality Control", "Production"),
}
ENTRA_TEXT = {True: "True", False: "False"}  # what Entra sends for booleans without the flag


def _value(path: str, round: int, manager_id: str):
    if path == f"{ENTERPRISE}:manager":
        return manager_id
    if path in SPECIAL:
        return SPECIAL[path][round]
    if path == "userName":
        return f"replay{round}@contoso.com"
    if "emails" in path:
        return f"replay.{round}@contoso.com"
    return f"{path.split('.')[-1].split(':')[-1]} {round}"


def _table(mapping, round: int, manager_id: str) -> list[tuple[str, object]]:
    return [(t.text, _value(t.text, round, manager_id)) for t in mapping.users.entra_paths]


def _post_body(mapping, table) -> dict:
    operations = [Operation("add", parse_patch_path(path), ENTRA_TEXT.get(value, value)) for path, value in table]
    return apply_patch({}, operations, mapping.users.resource_type)


def _assert_reads_back(mapping, resource: dict, table) -> None:
    for text, value in table:
        path = scim_path(mapping.users.resource_type, text)
        assert codec.read_scim(resource, path) == [value], f"{text}: {codec.read_scim(resource, path)}"


SEEDS = {
    "ardoq.yaml": {"scimrole": ["Admin"]},
    "alvao.yaml": {"scimaccountdisabled": ["FALSE"], "st": ["region 0"], "departmentnumber": ["Quality Control"]},
    "platform-002.yaml": {"employeetype": ["admin"], "mail": ["replay.0@contoso.com"]},
    "iprova.yaml": {"ou": ["Quality"], "departmentnumber": ["Quality Control"]},
    "promapp.yaml": {"employeetype": ["active"], "businesscategory": ["promapp"]},
}


@pytest.fixture
def departments(directory):
    for ou in ("Quality", "Production", "Staff"):
        directory.add(f"ou={ou},{PEOPLE_DN}", ["organizationalUnit"], {"ou": ou})


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_attribute_table_round_trips_through_slapd(name, make_client, directory, departments):
    path = REPO / "mappings" / name
    mapping = load_mapping(path)
    client = make_client(path)
    boss = client.create_user(
        "boss@contoso.com",
        displayName="Boss",
        externalId="boss",
        name={"givenName": "The", "familyName": "Boss"},
        emails=[{"type": "work", "value": "boss@contoso.com"}],
    )["id"]

    table = _table(mapping, 0, boss)
    created = client.post("/Users", _post_body(mapping, table))
    assert created.status_code == 201, created.get_json()
    user = created.get_json()["id"]
    _assert_reads_back(mapping, created.get_json(), table)
    _assert_reads_back(mapping, client.get(f"/Users/{user}").get_json(), table)
    entry = directory.entry("replay0@contoso.com")
    for attribute, values in SEEDS[name].items():
        assert entry[attribute] == values, attribute

    changed = [(p, v) for p, v in _table(mapping, 1, boss) if p != f"{ENTERPRISE}:manager"]
    operations = [{"op": "Replace", "path": p, "value": ENTRA_TEXT.get(v, v)} for p, v in changed]
    patched = client.patch(f"/Users/{user}", operations)
    assert patched.status_code == 200, patched.get_json()
    _assert_reads_back(mapping, client.get(f"/Users/{user}").get_json(), changed)
    if any(p == f"{ENTERPRISE}:manager" for p, _ in table):  # a PATCH of other attributes keeps it
        assert client.get(f"/Users/{user}").get_json()[ENTERPRISE]["manager"] == {"value": boss}
    found = client.get('/Users?filter=userName eq "replay1@contoso.com"').get_json()
    assert [r["id"] for r in found["Resources"]] == [user]


@pytest.mark.parametrize("name", ["alvao.yaml", "iprova.yaml"])
def test_seed_group_table_round_trips_through_slapd(name, make_client, directory, departments):
    client = make_client(REPO / "mappings" / name)
    members = [client.create_user(f"m{i}", displayName=f"M {i}", externalId=f"m{i}")["id"] for i in range(3)]
    created = client.post("/Groups", {"displayName": "Auditors", "externalId": "g-object-id", "members": []})
    assert created.status_code == 201, created.get_json()
    group = created.get_json()["id"]
    add = [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": m} for m in members]}]
    assert client.patch(f"/Groups/{group}", add).status_code == 204
    rename = [{"op": "Replace", "path": "displayName", "value": "Internal Auditors"}]
    assert client.patch(f"/Groups/{group}", rename).status_code == 204
    read = client.get(f"/Groups/{group}").get_json()
    assert read["displayName"] == "Internal Auditors" and read["externalId"] == "g-object-id"
    assert sorted(m["value"] for m in read["members"]) == sorted(members)
    listed = client.get('/Groups?excludedAttributes=members&filter=displayName eq "Internal Auditors"').get_json()
    assert [g["id"] for g in listed["Resources"]] == [group] and "members" not in listed["Resources"][0]
    assert directory.entry("Internal Auditors", base=GROUPS_DN, attribute="cn") is not None


def test_alvao_custom_fields_and_object_properties_round_trip(make_client, directory):
    client = make_client(REPO / "mappings" / "alvao.yaml")
    body = {
        "userName": "jan@contoso.com",
        "externalId": "jan",
        "displayName": "Jan",
        "active": "True",
        ALVAO_FIELDS: {"Badge": "4711"},
        f"{ALVAO_FIELDS}:Shift": "night",
        f"{ALVAO_KINDS}:kindId_1": "blue",
    }
    created = client.create_user(**body)
    entry = directory.entry("jan@contoso.com")
    assert (entry["alvaocustbadge"], entry["alvaocustshift"], entry["alvaokind1"]) == (["4711"], ["night"], ["blue"])
    read = client.get(f"/Users/{created['id']}").get_json()
    assert read[ALVAO_FIELDS] == {"badge": "4711", "shift": "night"}
    assert read[ALVAO_KINDS] == {"kindId_1": "blue"}
    patch = [{"op": "Replace", "path": f"{ALVAO_KINDS}:kindId_2", "value": "green"}]
    assert client.patch(f"/Users/{created['id']}", patch).status_code == 200
    assert directory.entry("jan@contoso.com")["alvaokind2"] == ["green"]


def test_iprova_department_change_moves_the_user_and_keeps_the_group_membership(make_client, directory, departments):
    client = make_client(REPO / "mappings" / "iprova.yaml")
    user = client.create_user("els@contoso.com", **{ENTERPRISE: {"department": "Production"}})["id"]
    group = client.post("/Groups", {"displayName": "Floor"}).get_json()["id"]
    client.patch(f"/Groups/{group}", [{"op": "Add", "path": "members", "value": [{"value": user}]}])
    moved = client.patch(
        f"/Users/{user}", [{"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Quality Assurance"}]
    )
    assert moved.status_code == 200
    dn = f"uid=els@contoso.com,ou=Quality,{PEOPLE_DN}"
    assert directory.entry("els@contoso.com")["dn"] == [dn]
    assert dn in directory.entry("Floor", base=GROUPS_DN, attribute="cn")["member"]
    assert [m["value"] for m in client.get(f"/Groups/{group}").get_json()["members"]] == [user]
