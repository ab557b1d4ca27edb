"""The map's rules and transforms against a real slapd: required, unique, placement with moves,
negation, split, wildcard custom extensions."""

from __future__ import annotations

from tests.sandbox.slapd import PEOPLE_DN

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ALVAO = "urn:ietf:params:scim:schemas:extension:alvao_tPersonCust:2.0:User"
ACME = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"

MAP = f"""\
version: 1
users:
  ldap:
    base: {PEOPLE_DN}
    dn: uid={{uid}},ou={{ou}},{PEOPLE_DN}
    object_classes: [inetOrgPerson, scimGatewayPerson, scimGatewayAlvaoPerson]
  attributes:
    userName: uid
    name.givenName: givenName
    name.familyName: sn
    emails[type eq "work"].value: mail
    {ENTERPRISE}:department: departmentNumber
    active: {{attribute: scimAccountDisabled, negate: true}}
    {ACME}:notes: {{attribute: description, split: ";"}}
    {ALVAO}:*: "alvaoCust{{name}}"
  computed:
    cn: "{{name.givenName}} {{name.familyName}}"
    ou:
      template: "{{{ENTERPRISE}:department}}"
      values: {{Sales: Sales, R&D: Research}}
      default: Staff
  required: [name.givenName, name.familyName, 'emails[type eq "work"].value']
  unique: ['emails[type eq "work"].value']
"""


def _user(name: str, department: str | None = None, **extra) -> dict:
    body = {
        "userName": name,
        "active": True,
        "name": {"givenName": name.title(), "familyName": "Doe"},
        "emails": [{"type": "work", "value": f"{name}@example.com"}],
        **extra,
    }
    if department:
        body[ENTERPRISE] = {"department": department}
    return body


def _client(make_client, directory):
    for ou in ("Sales", "Research", "Staff"):
        directory.add(f"ou={ou},{PEOPLE_DN}", ["organizationalUnit"], {"ou": ou})
    return make_client(MAP)


def test_required_attributes_missing_are_400_naming_each_of_them(make_client, directory):
    client = _client(make_client, directory)
    response = client.post("/Users", {"userName": "x", "name": {"givenName": "X"}})
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert "name.familyName" in detail and 'emails[type eq "work"].value' in detail and "givenName" not in detail
    created = client.create_user(**_user("ann"))
    removed = client.patch(f"/Users/{created['id']}", [{"op": "remove", "path": "name.familyName"}])
    assert removed.status_code == 400 and "name.familyName" in removed.get_json()["detail"]
    assert directory.entry("ann")["sn"] == ["Doe"]


def test_a_second_user_with_a_taken_email_is_409_on_create_and_on_update(make_client, directory):
    client = _client(make_client, directory)
    ann = client.create_user(**_user("ann"))
    bob = client.create_user(**_user("bob"))
    taken = client.post("/Users", _user("carl") | {"emails": [{"type": "work", "value": "ANN@example.com"}]})
    assert taken.status_code == 409 and taken.get_json()["scimType"] == "uniqueness"
    assert "ANN@example.com" in taken.get_json()["detail"]
    stolen = client.patch(
        f"/Users/{bob['id']}", [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ann@example.com"}]
    )
    assert stolen.status_code == 409
    kept = client.patch(f"/Users/{ann['id']}", [{"op": "Replace", "path": "name.givenName", "value": "Anne"}])
    assert kept.status_code == 200
    assert directory.entry("carl") is None and directory.entry("bob")["mail"] == ["bob@example.com"]


def test_department_places_the_user_in_an_ou_and_a_change_moves_it(make_client, directory):
    client = _client(make_client, directory)
    ann = client.create_user(**_user("ann", "Sales"))
    assert directory.entry("ann")["dn"] == [f"uid=ann,ou=Sales,{PEOPLE_DN}"]
    moved = client.patch(f"/Users/{ann['id']}", [{"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "R&D"}])
    assert moved.status_code == 200, moved.get_json()
    entry = directory.entry("ann")
    assert entry["dn"] == [f"uid=ann,ou=Research,{PEOPLE_DN}"]
    assert entry["departmentnumber"] == ["R&D"] and entry["ou"] == ["Research"]
    read = client.get(f"/Users/{ann['id']}").get_json()
    assert read["id"] == ann["id"] and read[ENTERPRISE] == {"department": "R&D"}
    client.patch(f"/Users/{ann['id']}", [{"op": "Remove", "path": f"{ENTERPRISE}:department"}])
    assert directory.entry("ann")["dn"] == [f"uid=ann,ou=Staff,{PEOPLE_DN}"]
    renamed = client.patch(f"/Users/{ann['id']}", [{"op": "Replace", "path": "userName", "value": "anne"}])
    assert renamed.status_code == 200
    assert directory.entry("anne")["dn"] == [f"uid=anne,ou=Staff,{PEOPLE_DN}"]


def test_active_negated_into_an_account_disabled_flag_round_trips_and_filters(make_client, directory):
    client = _client(make_client, directory)
    ann = client.create_user(**_user("ann"))
    assert directory.entry("ann")["scimaccountdisabled"] == ["FALSE"]
    client.patch(f"/Users/{ann['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert directory.entry("ann")["scimaccountdisabled"] == ["TRUE"]
    assert client.get(f"/Users/{ann['id']}").get_json()["active"] is False
    found = client.get("/Users?filter=active eq false").get_json()
    assert [r["id"] for r in found["Resources"]] == [ann["id"]]


def test_split_and_wildcard_custom_attributes_round_trip(make_client, directory):
    client = _client(make_client, directory)
    body = _user("ann", **{ACME: {"notes": "vip;remote"}, f"{ALVAO}:Badge": "42", ALVAO: {"Shift": "night"}})
    ann = client.create_user(**body)
    entry = directory.entry("ann")
    assert entry["description"] == ["vip", "remote"]
    assert entry["alvaocustbadge"] == ["42"] and entry["alvaocustshift"] == ["night"]
    read = client.get(f"/Users/{ann['id']}").get_json()
    assert read[ACME] == {"notes": "vip;remote"}
    assert {k.lower(): v for k, v in read[ALVAO].items()} == {"badge": "42", "shift": "night"}
    client.patch(
        f"/Users/{ann['id']}",
        [{"op": "remove", "path": f"{ALVAO}:Badge"}, {"op": "replace", "path": f"{ACME}:notes", "value": "vip"}],
    )
    entry = directory.entry("ann")
    assert "alvaocustbadge" not in entry and entry["description"] == ["vip"]
    assert client.get(f'/Users?filter={ALVAO}:Shift eq "night"').get_json()["totalResults"] == 1
    unknown = client.post("/Users", _user("bob", **{ALVAO: {"Parking": "P1"}}))
    assert unknown.status_code == 400 and "alvaocustparking" in unknown.get_json()["detail"].lower()
