"""Transforms in both directions, the filters they translate, and the lines that load them."""

import pytest

from gateway.mapping import codec
from gateway.mapping.filters import to_query
from gateway.mapping.loader import compile_mapping
from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_filter
from gateway.scim.resource import normalize
from gateway.store import AllOf, Entry, Exists, Match, Negate
from gateway.yamlfile import ConfigError, loads

HEAD = """\
version: 1
users:
  ldap:
    base: ou=People,dc=example,dc=com
    dn: uid={uid},ou=People,dc=example,dc=com
    object_classes: [inetOrgPerson]
  attributes:
    userName: uid
"""
CUSTOM = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def users(attributes: str = "", rest: str = ""):
    return compile_mapping(loads(HEAD + attributes + rest, "m.yaml"), "m.yaml").users


def problems(attributes: str = "", rest: str = "") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        users(attributes, rest)
    return [str(p) for p in caught.value.problems]


def write(users_map, body: dict) -> dict:
    return codec.to_record(users_map, normalize({"userName": "u", **body}, users_map.resource_type))


def read(users_map, attributes: dict) -> dict:
    return codec.to_resource(users_map, Entry("1", {k.lower(): v for k, v in attributes.items()}))


# --- each transform, written and read back ------------------------------------------------


def test_negate_stores_active_as_an_account_disabled_flag_and_reads_it_back():
    m = users("    active: {attribute: scimAccountDisabled, negate: true}\n")
    assert write(m, {"active": True})["scimaccountdisabled"] == ["FALSE"]
    assert write(m, {"active": "False"})["scimaccountdisabled"] == ["TRUE"]
    assert read(m, {"scimAccountDisabled": ["TRUE"]})["active"] is False
    assert read(m, {"scimAccountDisabled": ["FALSE"]})["active"] is True
    assert to_query(m, parse_filter("active eq true")) == Match("scimAccountDisabled", "eq", "FALSE")
    assert m.rules[1].transform.loss is None


def test_negate_with_a_boolean_format_spells_the_flag_as_the_directory_does():
    m = users("    active: {attribute: description, negate: true, boolean: {true: 'Y', false: 'N'}}\n")
    assert write(m, {"active": False})["description"] == ["Y"]
    assert read(m, {"description": ["N"]})["active"] is True
    assert to_query(m, parse_filter('active eq "False"')) == Match("description", "eq", "Y")


def test_case_lower_writes_lower_case_and_says_what_it_loses():
    m = users("    displayName: {attribute: displayName, case: lower}\n")
    assert write(m, {"displayName": "Alice Smith"})["displayname"] == ["alice smith"]
    assert read(m, {"displayName": ["alice smith"]})["displayName"] == "alice smith"
    assert to_query(m, parse_filter('displayName sw "Ali"')) == Match("displayName", "sw", "ali")
    assert "reads back" in m.rules[1].transform.loss


def test_split_stores_one_custom_string_as_several_values_and_joins_them_back():
    m = users(f"    {CUSTOM}:aliases: {{attribute: mailAlternateAddress, split: ';'}}\n")
    record = write(m, {CUSTOM: {"aliases": "a@x;b@x;"}})
    assert record["mailalternateaddress"] == ["a@x", "b@x"]
    assert "mailalternateaddress" in m.multi_valued_attributes
    assert read(m, {"mailAlternateAddress": ["a@x", "b@x"]})[CUSTOM] == {"aliases": "a@x;b@x"}
    assert to_query(m, parse_filter(f'{CUSTOM}:aliases eq "a@x;b@x"')) == AllOf(
        (Match("mailAlternateAddress", "eq", "a@x"), Match("mailAlternateAddress", "eq", "b@x"))
    )


def test_date_format_writes_the_directory_form_and_reads_the_scim_form():
    m = users(
        f"    {CUSTOM}:hireDate: {{attribute: description, date: {{directory: generalized, scim: '%Y-%m-%d'}}}}\n"
    )
    assert write(m, {CUSTOM: {"hireDate": "2026-03-01"}})["description"] == ["20260301000000Z"]
    assert read(m, {"description": ["20260301000000Z"]})[CUSTOM] == {"hireDate": "2026-03-01"}
    query = to_query(m, parse_filter(f'{CUSTOM}:hireDate ge "2026-01-01"'))
    assert query == Match("description", "ge", "20260101000000Z")
    with pytest.raises(ScimError, match="is not a date like '2026-01-31'"):
        write(m, {CUSTOM: {"hireDate": "first of March"}})


def test_value_map_with_a_default_and_a_read_default_round_trips_what_it_lists():
    m = users(
        "    title:\n      attribute: employeeType\n      values: {Engineer: eng, Manager: mgr}\n"
        "      default: other\n      read_default: Staff\n"
    )
    assert write(m, {"title": "Manager"})["employeetype"] == ["mgr"]
    assert write(m, {"title": "Chef"})["employeetype"] == ["other"]
    assert read(m, {"employeeType": ["other"]})["title"] == "Staff"
    assert m.rules[1].transform.loss is None


@pytest.mark.parametrize(
    ("values", "loss"),
    [
        ("values: {Admin: admin, EnterpriseAdmin: admin}", "'EnterpriseAdmin' and 'Admin' are both written as 'admin'"),
        ("values: {Admin: admin}\n      default: user", "written as 'user' and reads back as nothing"),
    ],
)
def test_value_maps_that_lose_values_say_which(values, loss):
    m = users(f"    title:\n      attribute: employeeType\n      {values}\n")
    assert loss in m.rules[1].transform.loss


def test_filters_a_transform_cannot_answer_are_400_invalid_filter():
    m = users("    active: {attribute: scimAccountDisabled, negate: true}\n")
    with pytest.raises(ScimError, match="'gt' cannot compare a value stored through negate"):
        to_query(m, parse_filter("active gt true"))


# --- computed attributes: templates, first-of, constants --------------------------------


def test_computed_attributes_join_pick_the_first_and_hold_constants():
    m = users(
        "    name.givenName: givenName\n    name.familyName: sn\n",
        "  computed:\n"
        '    cn: "{name.givenName} {name.familyName}"\n'
        "    mail: {first_of: ['{emails[type eq \"work\"].value}', '{userName}@example.com'], case: lower}\n"
        "    employeeType: staff\n",
    )
    record = write(m, {"userName": "JDoe", "name": {"givenName": "John", "familyName": "Doe"}})
    assert (
        record["cn"] == ["John Doe"] and record["mail"] == ["jdoe@example.com"] and record["employeetype"] == ["staff"]
    )
    record = write(m, {"emails": [{"type": "work", "value": "J@X"}]})
    assert record["cn"] == [] and record["mail"] == ["j@x"]
    assert "cn" not in read(m, {"cn": ["John Doe"]})


def test_a_computed_value_map_places_entries_with_a_default_for_everyone_else():
    m = users(
        "",
        "  computed:\n    ou:\n"
        f"      template: '{{{ENTERPRISE}:department}}'\n"
        "      values: {Sales: Sales, R&D: Research}\n      default: Staff\n",
    )
    assert write(m, {ENTERPRISE: {"department": "R&D"}})["ou"] == ["Research"]
    assert write(m, {ENTERPRISE: {"department": "Legal"}})["ou"] == ["Staff"]
    assert write(m, {})["ou"] == ["Staff"]


def test_defaults_fill_only_what_no_line_wrote():
    m = users("    displayName: cn\n", "  defaults:\n    cn: '{userName}'\n")
    assert write(m, {"displayName": "D"})["cn"] == ["D"]
    assert write(m, {})["cn"] == ["u"]


# --- wildcard custom extensions ---------------------------------------------------------


ALVAO = "urn:ietf:params:scim:schemas:extension:alvao_tPersonCust:2.0:User"
KINDS = "urn:ietf:params:scim:schemas:extension:alvao_tblProperty:2.0:User"


def family_map():
    return users(f'    {ALVAO}:*: "alvaoCust{{name}}"\n    {KINDS}:kindId_*: {{attribute: "alvaoKind{{name}}"}}\n')


def test_a_wildcard_extension_maps_each_custom_attribute_to_its_own_directory_attribute():
    m = family_map()
    body = {ALVAO: {"Badge": "42"}, f"{KINDS}:kindId_7": "blue", "urn:x:foreign:2.0:User": {"a": "b"}}
    record = write(m, body)
    assert record["alvaocustbadge"] == ["42"] and record["alvaokind7"] == ["blue"]
    resource = read(m, {"alvaoCustBadge": ["42"], "alvaoKind7": ["blue"], "uid": ["u"], "entryUUID": ["1"]})
    assert resource[ALVAO] == {"badge": "42"}
    assert resource[KINDS] == {"kindId_7": "blue"}
    assert codec.directory_attributes(m, None)[0] == "*"
    assert to_query(m, parse_filter(f'{ALVAO}:Badge eq "42"')) == Match("alvaoCustbadge", "eq", "42")


def test_a_wildcard_name_that_cannot_name_a_directory_attribute_is_400():
    with pytest.raises(ScimError, match="the map names it 'alvaoCustcost_center', which is not a valid"):
        write(family_map(), {ALVAO: {"cost_center": "1"}})


# --- rules ----------------------------------------------------------------------------------


def test_required_and_unique_paths_compile_to_targets():
    m = users(
        '    emails[type eq "work"].value: mail\n    name.givenName: givenName\n',
        '  required: [name.givenName, "emails[type eq \\"work\\"].value"]\n'
        '  unique: ["emails[type eq \\"work\\"].value"]\n',
    )
    assert codec.missing_required(m, normalize({"userName": "u"}, m.resource_type)) == [
        "name.givenName",
        'emails[type eq "work"].value',
    ]
    assert [str(t) for t in m.unique] == ['emails[type eq "work"].value']


def test_read_none_writes_without_reading_back():
    m = users("    displayName: {attribute: description, read: none}\n")
    assert write(m, {"displayName": "D"})["description"] == ["D"]
    assert "displayName" not in read(m, {"description": ["D"]})
    assert Exists("description") != to_query(m, parse_filter("userName pr"))
    assert Negate(Match("uid", "eq", "x")) == to_query(m, parse_filter('userName ne "x"'))


# --- what the loader refuses, with its line -----------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "rest", "expected"),
    [
        ("    displayName: {attribute: cn, negate: true}\n", "", "m.yaml:9: negate turns true into false"),
        ("    active: {attribute: x, case: lower}\n", "", "m.yaml:9: case works on text, not on a boolean"),
        ("    title: {attribute: x, split: ',', values: {a: b}}\n", "", "m.yaml:9: choose one of values"),
        ("    emails.value: {attribute: mail, split: ','}\n", "", "m.yaml:9: split turns one SCIM value"),
        ("    title: {attribute: x, date: '%Q'}\n", "", "m.yaml:9: '%Q' is not a date format"),
        ("    title: {attribute: x, default: y}\n", "", "m.yaml:9: default: belongs to a value map"),
        ("    title: {attribute: x, read: sometimes}\n", "", "m.yaml:9: users.attributes.title.read: Must be one of"),
        ("    title: {attribute: x, read_only: true, read: none}\n", "", "m.yaml:9: read_only: true is never written"),
        (
            "    title: title\n    displayName: {attribute: cn}\n",
            "  computed: {title: x}\n",
            "m.yaml:11: 'title' is also",
        ),
        ("", "  computed: {cn: '{nosuch}'}\n", "m.yaml:9: {nosuch}: 'nosuch' is not an attribute of User"),
        ("", "  computed: {cn: {template: x, first_of: [y]}}\n", "m.yaml:9: users.computed.cn: give exactly"),
        ("", "  required: [nosuch]\n", "m.yaml:9: required: 'nosuch' is not an attribute of User"),
        ("", "  unique: [title]\n", "m.yaml:9: unique: 'title' is not stored by this map"),
        ("", "  entra_attributes: [default, nosuch]\n", "m.yaml:9: entra_attributes: 'nosuch' is not"),
        (f"    {ENTERPRISE}:*: z{{name}}\n", "", "m.yaml:9: only a custom extension's attributes take a wildcard"),
        ("    emails*: z{name}\n", "", "m.yaml:9: only a custom extension's attributes take a wildcard"),
        (f"    {ALVAO}:*: '{{name}}'\n", "", "m.yaml:9: '{name}' must make directory attribute names"),
        (f"    {ALVAO}:*: cust\n", "", "m.yaml:9: a wildcard maps to attribute names made from each SCIM name"),
        (
            "    displayName: cn\n    displayName: sn\n",
            "",
            "m.yaml:10: duplicate key 'displayName'",
        ),
        (
            '    emails[type eq "work"].value: mail\n    emails[type eq "work"].Value: {attribute: x}\n',
            "",
            "m.yaml:10: 'emails[type eq \"work\"].Value' is already read back from 'mail'",
        ),
    ],
)
def test_transform_lines_that_cannot_work_are_refused_with_their_line(attributes, rest, expected):
    try:
        found = problems(attributes, rest)
    except ConfigError as error:  # a YAML error, raised before compiling
        found = [str(p) for p in error.problems]
    assert any(p.startswith(expected) for p in found), found
