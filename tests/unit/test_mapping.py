"""The mapping layer: loading (errors with file and line), resource <-> record, filter -> query."""

from pathlib import Path

import pytest

from gateway.mapping import codec
from gateway.mapping.filters import to_query
from gateway.mapping.loader import compile_mapping, load_mapping
from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_filter
from gateway.scim.projection import Projection
from gateway.scim.resource import normalize
from gateway.store import EVERYTHING, NOTHING, AllOf, AnyOf, Entry, Exists, Match, Negate, Ref
from gateway.yamlfile import ConfigError, loads

REPO = Path(__file__).resolve().parents[2]
USERS = load_mapping(REPO / "mappings" / "openldap.yaml").users
EXT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# Entra's default user mapping (docs/entra-wire.md#default-attribute-mapping), as one POST body.
ENTRA_DEFAULTS = {
    "userName": "jdoe@contoso.com",
    "active": True,
    "displayName": "John Doe",
    "title": "Engineer",
    "preferredLanguage": "nl-NL",
    "emails": [{"type": "work", "value": "john.doe@contoso.com"}],
    "name": {"givenName": "John", "familyName": "Doe", "formatted": "John Doe"},
    "addresses": [
        {
            "type": "work",
            "formatted": "Building 42",
            "streetAddress": "1 Main St",
            "locality": "Utrecht",
            "region": "UT",
            "postalCode": "3511 AA",
            "country": "Netherlands",
        }
    ],
    "phoneNumbers": [
        {"type": "work", "value": "+31 30 123 4567"},
        {"type": "mobile", "value": "+31 6 1234 5678"},
        {"type": "fax", "value": "+31 30 123 4568"},
    ],
    "externalId": "jdoe",
    EXT: {"employeeNumber": "1234", "department": "R&D", "manager": {"value": "m-1"}},
}


def test_every_entra_default_attribute_round_trips_through_the_openldap_map():
    resource = normalize(ENTRA_DEFAULTS, USERS.resource_type)
    record = codec.to_record(USERS, resource)
    stored = {
        k: [Ref(v.kind, v.id, "uid=m,ou=People") if isinstance(v, Ref) else v for v in values]
        for k, values in record.items()
    }
    stored = {k: [Ref(v.kind, v.id) if isinstance(v, Ref) else v for v in values] for k, values in stored.items()}
    read = codec.to_resource(USERS, Entry("id-1", stored))
    for key, value in ENTRA_DEFAULTS.items():
        assert read[key] == value, key


def test_to_record_fills_required_directory_attributes_from_defaults():
    record = codec.to_record(USERS, normalize({"userName": "x"}, USERS.resource_type))
    assert record["sn"] == ["x"]
    assert record["cn"] == ["x"]
    assert record["pwdaccountlockedtime"] == []


def test_disabled_user_maps_to_the_ppolicy_lock_and_back():
    record = codec.to_record(USERS, {"userName": "x", "active": False})
    assert record["pwdaccountlockedtime"] == ["000001010000Z"]
    assert codec.to_resource(USERS, Entry("1", {"pwdaccountlockedtime": ["20261123100000Z"]}))["active"] is False
    assert codec.to_resource(USERS, Entry("1", {}))["active"] is True


def test_projection_limits_what_is_read_from_the_directory():
    projection = Projection.parse(USERS.resource_type, "userName,emails", None)
    assert codec.directory_attributes(USERS, projection) == ["entryUUID", "mail", "uid"]
    excluded = Projection.parse(USERS.resource_type, None, f"{EXT},addresses,phoneNumbers,meta")
    wanted = codec.directory_attributes(USERS, excluded)
    assert "manager" not in wanted and "l" not in wanted and "mobile" not in wanted
    assert "modifyTimestamp" not in wanted and "uid" in wanted


def test_what_a_projection_reads_is_worked_out_once_and_kept_within_bounds():
    """Projections and what they read through a map are kept (not worked out per request);
    however many attribute lists clients send, what is kept stays bounded, and each answer
    stays what that projection asks for."""
    from gateway.mapping.codec import KEPT_READINGS
    from gateway.scim.projection import KEPT

    resource_type = USERS.resource_type
    first = Projection.parse(resource_type, "userName,emails", None)
    assert Projection.parse(resource_type, "userName,emails", None) is first
    entry = Entry("id-1", {"uid": ["ann"], "mail": ["ann@example.com"], "title": ["Cook"]})
    names = ["title", "userName", "emails", "displayName", "name.givenName", "addresses", "phoneNumbers"]
    for n in range(3 * max(KEPT, KEPT_READINGS)):
        chosen = ",".join(names[: 1 + n % len(names)]) + (
            "" if n < len(names) else f",{names[n % len(names)]}" * (n // 7)
        )
        projection = Projection.parse(resource_type, chosen, None)
        read = codec.directory_attributes(USERS, projection)
        assert ("title" in read) == ("title" in chosen.split(","))
        resource = projection.apply(codec.to_resource(USERS, entry, projection), resource_type)
        assert ("title" in resource) == ("title" in chosen.split(","))
        assert len(resource_type.memo) <= KEPT and len(USERS.memo) <= KEPT_READINGS
    assert codec.to_resource(USERS, entry, first)["emails"] == [{"value": "ann@example.com", "type": "work"}]
    assert "title" not in codec.to_resource(USERS, entry, first)


def test_diff_changes_only_what_differs_and_multi_valued_by_value():
    old = {"sn": ["a"], "member": ["1", "2"], "mail": ["x"]}
    new = {"sn": ["b"], "member": ["2", "3"], "mail": ["x"]}
    changes = codec.diff(old, new, {"member"})
    assert [(c.attribute, c.op, c.values) for c in changes] == [
        ("member", "delete", ("1",)),
        ("member", "add", ("3",)),
        ("sn", "replace", ("b",)),
    ]


QUERIES = [
    ('userName eq "x"', Match("uid", "eq", "x")),
    ('userName ne "x"', Negate(Match("uid", "eq", "x"))),
    ('displayName co "x"', Match("displayName", "co", "x")),
    ('title sw "x"', Match("title", "sw", "x")),
    ('title ew "x"', Match("title", "ew", "x")),
    ("title pr", Exists("title")),
    ('id eq "abc"', Match("entryUUID", "eq", "abc")),
    ('externalId eq "e"', Match("scimExternalId", "eq", "e")),
    ('emails[type eq "work"].value eq "a@x"', Match("mail", "eq", "a@x")),
    ('emails[type eq "work" and value co "@x"]', Match("mail", "co", "@x")),
    ('emails.value eq "a@x"', Match("mail", "eq", "a@x")),
    ('emails eq "a@x"', Match("mail", "eq", "a@x")),
    ('emails[type eq "home"]', NOTHING),
    ('emails[type eq "work"]', Exists("mail")),
    ('emails[type eq "work" and not (value co "x")]', AllOf((Negate(Match("mail", "co", "x")), Exists("mail")))),
    (
        'phoneNumbers.value eq "1"',
        AnyOf(
            (
                Match("telephoneNumber", "eq", "1"),
                Match("mobile", "eq", "1"),
                Match("facsimileTelephoneNumber", "eq", "1"),
            )
        ),
    ),
    ('phoneNumbers[type eq "mobile"].value sw "+31"', Match("mobile", "sw", "+31")),
    ("active eq true", Negate(Exists("pwdAccountLockedTime"))),
    ('active eq "True"', Negate(Exists("pwdAccountLockedTime"))),
    ('manager eq "m"', Match("manager", "eq", Ref("users", "m"))),
    (f'{EXT}:manager eq "m"', Match("manager", "eq", Ref("users", "m"))),
    (f'{EXT}:employeeNumber eq "7"', Match("employeeNumber", "eq", "7")),
    ('userName eq "a" and not (title pr)', AllOf((Match("uid", "eq", "a"), Negate(Exists("title"))))),
    ('userName eq "a" or emails[type eq "home"]', Match("uid", "eq", "a")),
    ('title pr or emails[type eq "work"]', AnyOf((Exists("title"), Exists("mail")))),
    ('addresses[type eq "work"].country eq "NL"', Match("co", "eq", "NL")),
]


@pytest.mark.parametrize(("text", "query"), QUERIES, ids=[t for t, _ in QUERIES])
def test_scim_filters_translate_to_directory_queries(text, query):
    assert to_query(USERS, parse_filter(text)) == query


def test_active_eq_false_matches_any_lock():
    query = to_query(USERS, parse_filter("active eq false"))
    assert query == AnyOf(
        (
            Match("pwdAccountLockedTime", "eq", "000001010000Z"),
            AllOf((Exists("pwdAccountLockedTime"), Negate(Match("pwdAccountLockedTime", "eq", "000001010000Z")))),
        )
    )


def test_meta_times_translate_to_datetimes():
    query = to_query(USERS, parse_filter('meta.lastModified ge "2026-01-02T03:04:05Z"'))
    assert query.attribute == "modifyTimestamp" and query.op == "ge" and query.value.year == 2026


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('nickName eq "x"', "does not store it"),
        ("emails[primary eq true]", "does not store it"),
        ("active gt true", "only eq and ne"),
        ('manager co "x"', "only eq and ne"),
        ('meta.location eq "x"', "only meta.created and meta.lastModified"),
        ('nosuch eq "x"', "not an attribute"),
        ('name eq "x"', "is complex"),
        ('active eq "perhaps"', "true or false"),
    ],
)
def test_untranslatable_filters_are_400_invalid_filter(text, detail):
    with pytest.raises(ScimError) as caught:
        to_query(USERS, parse_filter(text))
    assert caught.value.scim_type == "invalidFilter"
    assert detail in caught.value.detail


def test_everything_query_for_id_pr():
    assert to_query(USERS, parse_filter("id pr")) == EVERYTHING


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        compile_mapping(loads(text, "m.yaml"), "m.yaml")
    return [str(p) for p in caught.value.problems]


VALID_HEAD = """\
version: 1
users:
  ldap:
    base: ou=People,dc=example,dc=com
    dn: uid={uid},ou=People,dc=example,dc=com
    object_classes: [inetOrgPerson]
  attributes:
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    userName: uid\n    nickname: 7bad\n",
            "m.yaml:9: users.attributes.nickname.attribute: '7bad' is not a directory attribute name",
        ),
        (
            "    userName: uid\n    emails.nosuch: mail\n",
            "m.yaml:9: 'emails.nosuch': emails has no sub-attribute 'nosuch'",
        ),
        ("    userName: uid\n    nosuch: x\n", "m.yaml:9: 'nosuch' is not an attribute of User"),
        (
            "    userName: uid\n    displayName: uid\n",
            "m.yaml:9: directory attribute 'uid' is already written by 'userName' (line 8)",
        ),
        (
            "    userName: uid\n    title: {attribute: title, colour: red}\n",
            "m.yaml:9: users.attributes.title.colour: unknown key; known: attribute, boolean, case, date",
        ),
        (
            "    userName: uid\n    active: {disable: sometimes}\n",
            "m.yaml:9: disable is one of ppolicy-lock, 389-account-lock, ad-account-control or",
        ),
        ("    userName: uid\n    name: cn\n", "m.yaml:9: name is complex: map its sub-attributes"),
        ("    userName: uid\n    title: {values: {a: b}}\n", "m.yaml:9: 'title' needs 'attribute:'"),
    ],
)
def test_map_errors_name_the_line_and_what_was_expected(body, expected):
    problems = _problems(VALID_HEAD + body)
    assert any(p.startswith(expected) for p in problems), problems


def test_dn_template_must_use_attributes_the_map_writes():
    text = VALID_HEAD.replace("uid={uid}", "cn={cn}") + "    userName: uid\n"
    assert _problems(text) == [
        "m.yaml:5: the DN template uses {cn}, which the map never writes: map a SCIM attribute to cn or compute it under computed: or defaults:"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nusers: {}\n", "m.yaml:1: version: this gateway reads map version 1"),
        ("version: 1\n", "m.yaml:1: users: Missing data for required field."),
        ("version: 1\nusers: {}\ncolour: red\n", "m.yaml:3: colour: Unknown field."),
        ("version: 1\nusers:\n  attributes: {userName: uid}\n", "m.yaml:2: users needs an 'ldap:' section"),
        ("version: 1\nversion: 1\n", "m.yaml:2: duplicate key 'version' (first on line 1)"),
        ("version: [1\n", "m.yaml:2:"),
    ],
)
def test_map_structure_errors(text, expected):
    with pytest.raises(ConfigError) as caught:
        compile_mapping(loads(text, "m.yaml"), "m.yaml")
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


def test_map_yaml_syntax_errors_name_the_line():
    with pytest.raises(ConfigError) as caught:
        loads("version: 1\nusers:\n  - [\n", "m.yaml")
    assert str(caught.value).startswith("m.yaml:4:")


def test_bad_ldap_section_errors_name_the_line():
    text = (
        VALID_HEAD.replace("dn: uid={uid},ou=People,dc=example,dc=com", "dn: ou=People,dc=example,dc=com")
        + "    userName: uid\n"
    )
    problems = _problems(text)
    assert problems == [
        "m.yaml:5: users.ldap.dn: the DN template needs at least one {attribute} placeholder, e.g. uid={uid},ou=People,..."
    ]
