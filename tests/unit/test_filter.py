"""The SCIM filter and PATCH path grammar (RFC 7644 3.4.2.2, 3.5.2)."""

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.filter import (
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    Present,
    ValuePath,
    parse_filter,
    parse_patch_path,
    walk,
)
from gateway.scim.limits import Limits

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_NAME = AttrPath(None, "userName")

PARSED = [
    ('userName eq "bjensen"', Compare(USER_NAME, "eq", "bjensen")),
    ('userName Eq "bjensen"', Compare(USER_NAME, "eq", "bjensen")),
    ("userName eq alice", Compare(USER_NAME, "eq", "alice")),  # unquoted, as some clients send
    ('name.familyName co "O\'Malley"', Compare(AttrPath(None, "name", "familyName"), "co", "O'Malley")),
    ("title pr", Present(AttrPath(None, "title"))),
    (
        'meta.lastModified gt "2011-05-13T04:42:34Z"',
        Compare(AttrPath(None, "meta", "lastModified"), "gt", "2011-05-13T04:42:34Z"),
    ),
    ("active eq true", Compare(AttrPath(None, "active"), "eq", True)),
    ("x le 5.5", Compare(AttrPath(None, "x"), "le", 5.5)),
    ("x eq null", Compare(AttrPath(None, "x"), "eq", None)),
    ('userName eq "a\\"b\\\\c"', Compare(USER_NAME, "eq", 'a"b\\c')),
    (
        f'{ENTERPRISE}:employeeNumber eq "1"',
        Compare(AttrPath(ENTERPRISE, "employeeNumber"), "eq", "1"),
    ),
    (
        f'{ENTERPRISE}:manager.value eq "1"',
        Compare(AttrPath(ENTERPRISE, "manager", "value"), "eq", "1"),
    ),
    (
        "a eq 1 or b eq 2 and c eq 3",
        Or(
            Compare(AttrPath(None, "a"), "eq", 1),
            And(Compare(AttrPath(None, "b"), "eq", 2), Compare(AttrPath(None, "c"), "eq", 3)),
        ),
    ),
    (
        "(a eq 1 or b eq 2) and not (c pr)",
        And(
            Or(Compare(AttrPath(None, "a"), "eq", 1), Compare(AttrPath(None, "b"), "eq", 2)),
            Not(Present(AttrPath(None, "c"))),
        ),
    ),
    (
        'emails[type eq "work" and value co "@example.com"]',
        ValuePath(
            AttrPath(None, "emails"),
            And(Compare(AttrPath(None, "type"), "eq", "work"), Compare(AttrPath(None, "value"), "co", "@example.com")),
        ),
    ),
    (
        'emails[type eq "work"].value eq "a@x"',
        ValuePath(
            AttrPath(None, "emails"),
            And(Compare(AttrPath(None, "type"), "eq", "work"), Compare(AttrPath(None, "value"), "eq", "a@x")),
        ),
    ),
    (
        'id eq "1" and manager eq "2"',
        And(Compare(AttrPath(None, "id"), "eq", "1"), Compare(AttrPath(None, "manager"), "eq", "2")),
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[t for t, _ in PARSED])
def test_filter_parses_to_the_expected_tree(text, expected):
    assert parse_filter(text) == expected


REJECTED = [
    ("", "empty"),
    ("userName eq", "ends too early"),
    ("userName", "ends too early"),
    ("(userName eq 1", "ends too early"),
    ("userName eq 1)", "unexpected ')'"),
    ("userName zz 1", "expected an operator"),
    ('userName eq "unterminated', "cannot read the filter"),
    ("emails[type eq 1", "ends too early"),
    ("emails[type eq 1 userName", "expected ']'"),
    ("name.givenName[type eq 1]", "cannot take a [filter]"),
    ("9bad eq 1", "not an attribute path"),
    ("not " * 40 + "a pr", "deeper than"),
    ("a eq 1 " + "or a eq 1 " * 600, "longer than"),
    # found by tests/fuzz: these were 500s
    ('userName eq "\\ud800"', "unpaired UTF-16 surrogate"),
]


@pytest.mark.parametrize(("text", "message"), REJECTED, ids=[m for _, m in REJECTED])
def test_bad_filters_are_400_invalid_filter_saying_what(text, message):
    with pytest.raises(ScimError) as caught:
        parse_filter(text)
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidFilter"
    assert message in caught.value.detail


PATHS = [
    ("userName", AttrPath(None, "userName"), None),
    ("name.givenName", AttrPath(None, "name", "givenName"), None),
    (f"{ENTERPRISE}:manager", AttrPath(ENTERPRISE, "manager"), None),
    ('emails[type eq "work"].value', AttrPath(None, "emails", "value"), Compare(AttrPath(None, "type"), "eq", "work")),
    ('members[value eq "7f4b"]', AttrPath(None, "members"), Compare(AttrPath(None, "value"), "eq", "7f4b")),
    (
        'addresses[type eq "work"].locality',
        AttrPath(None, "addresses", "locality"),
        Compare(AttrPath(None, "type"), "eq", "work"),
    ),
]


@pytest.mark.parametrize(("text", "attr", "value_filter"), PATHS, ids=[p for p, _, _ in PATHS])
def test_patch_paths(text, attr, value_filter):
    path = parse_patch_path(text)
    assert path.attr == attr
    assert path.value_filter == value_filter


@pytest.mark.parametrize("text", ["", 'emails[type eq "work"', "emails[type eq 1]value", "urn:only:"])
def test_bad_patch_paths_are_400_invalid_path(text):
    with pytest.raises(ScimError) as caught:
        parse_patch_path(text)
    assert caught.value.status == 400
    assert caught.value.scim_type == "invalidPath"


# Found by tests/fuzz: a leading-zero number crashed json.loads (a 500), a path's unreadable
# character was reported as invalidFilter, and long chains nested one level per term.
def test_a_number_with_leading_zeros_is_a_word():
    assert parse_filter("externalId eq 007") == Compare(AttrPath(None, "externalId"), "eq", "007")


def test_a_number_too_long_for_python_is_400_when_the_limits_allow_its_length():
    with pytest.raises(ScimError, match="too long") as caught:
        parse_filter("a eq " + "9" * 5000, Limits(filter_length=65536))
    assert caught.value.scim_type == "invalidFilter"


def test_an_unreadable_path_is_invalid_path_not_invalid_filter():
    with pytest.raises(ScimError) as caught:
        parse_patch_path('A["]')
    assert caught.value.scim_type == "invalidPath"


def test_long_and_or_chains_parse_into_shallow_trees():
    def height(node):
        children = [getattr(node, n) for n in ("left", "right", "inner", "filter") if hasattr(node, n)]
        return 1 + max((height(c) for c in children), default=0)

    chain = parse_filter(" or ".join(["id pr"] * 4000), Limits(filter_length=65536))
    assert height(chain) <= 13
    assert sum(1 for node in walk(chain) if isinstance(node, Present)) == 4000
