"""The PATCH engine on plain resources: RFC 7644 3.5.2 and Entra's dialects."""

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.patch import apply_patch, parse_operations
from gateway.scim.schema import ENTERPRISE, GROUP, USER, ResourceType

USERS = ResourceType("User", "/Users", USER, (ENTERPRISE,))
GROUPS = ResourceType("Group", "/Groups", GROUP)
EXT = ENTERPRISE.id
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(resource, *operations, resource_type=USERS):
    return apply_patch(
        resource, parse_operations({"schemas": [PATCH_OP], "Operations": list(operations)}), resource_type
    )


CASES = [
    (
        "capitalised Replace with a string boolean",
        {"userName": "a", "active": True},
        [{"op": "Replace", "path": "active", "value": "False"}],
        {"userName": "a", "active": False},
    ),
    (
        "no-path object with dotted and URN keys",
        {"userName": "a", "name": {"givenName": "Old", "familyName": "Keep"}},
        [{"op": "replace", "value": {"displayName": "D", "name.givenName": "New", f"{EXT}:employeeNumber": "7"}}],
        {
            "userName": "a",
            "name": {"givenName": "New", "familyName": "Keep"},
            "displayName": "D",
            EXT: {"employeeNumber": "7"},
        },
    ),
    (
        "no-path object in the RFC's nested form keeps sub-attributes not given",
        {"userName": "a", "name": {"givenName": "Old", "familyName": "Keep"}},
        [{"op": "replace", "value": {"name": {"givenName": "New"}, EXT: {"department": "R&D"}}}],
        {"userName": "a", "name": {"givenName": "New", "familyName": "Keep"}, EXT: {"department": "R&D"}},
    ),
    (
        "filtered Replace creates the typed entry when missing",
        {"userName": "a", "emails": [{"type": "home", "value": "h@x"}]},
        [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "w@x"}],
        {"userName": "a", "emails": [{"type": "home", "value": "h@x"}, {"type": "work", "value": "w@x"}]},
    ),
    (
        "filtered Replace changes only the matching entry",
        {"userName": "a", "emails": [{"type": "home", "value": "h@x"}, {"type": "work", "value": "w@x"}]},
        [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@x"}],
        {"userName": "a", "emails": [{"type": "home", "value": "h@x"}, {"type": "work", "value": "new@x"}]},
    ),
    (
        "separate address adds merge into one work address",
        {"userName": "a"},
        [
            {"op": "add", "path": 'addresses[type eq "work"].formatted', "value": "F"},
            {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "L"},
            {"op": "add", "path": 'addresses[type eq "work"].region', "value": "R"},
        ],
        {"userName": "a", "addresses": [{"type": "work", "formatted": "F", "locality": "L", "region": "R"}]},
    ),
    (
        "Replace with an empty string clears (manager removal)",
        {"userName": "a", EXT: {"manager": {"value": "m"}, "department": "d"}},
        [{"op": "Replace", "path": f"{EXT}:manager", "value": ""}],
        {"userName": "a", EXT: {"department": "d"}},
    ),
    (
        "Replace with null clears",
        {"userName": "a", "title": "t"},
        [{"op": "replace", "path": "title", "value": None}],
        {"userName": "a"},
    ),
    (
        "manager as a bare string under the URN path",
        {"userName": "a"},
        [{"op": "Add", "path": f"{EXT}:manager", "value": "271"}],
        {"userName": "a", EXT: {"manager": {"value": "271"}}},
    ),
    (
        "manager without its URN, as a one-item list with $ref (the docs' form)",
        {"userName": "a"},
        [{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/271", "value": "271"}]}],
        {"userName": "a", EXT: {"manager": {"value": "271", "$ref": "http://x/Users/271"}}},
    ),
    (
        "remove of a filtered entry",
        {"userName": "a", "phoneNumbers": [{"type": "work", "value": "1"}, {"type": "mobile", "value": "2"}]},
        [{"op": "remove", "path": 'phoneNumbers[type eq "work"]'}],
        {"userName": "a", "phoneNumbers": [{"type": "mobile", "value": "2"}]},
    ),
    (
        "remove of a filtered sub-attribute drops the emptied entry",
        {"userName": "a", "emails": [{"type": "work", "value": "w"}, {"type": "home"}]},
        [{"op": "remove", "path": 'emails[type eq "work"].value'}],
        {"userName": "a", "emails": [{"type": "home"}]},
    ),
    (
        "attribute names in any case",
        {"userName": "a"},
        [{"op": "replace", "path": "NAME.GIVENNAME", "value": "G"}, {"op": "add", "path": "DisplayName", "value": "D"}],
        {"userName": "a", "name": {"givenName": "G"}, "displayName": "D"},
    ),
    (
        "add to a multi-valued attribute appends without duplicates",
        {"displayName": "g", "members": [{"value": "1"}]},
        [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "1"}, {"$ref": None, "value": "2"}]}],
        {"displayName": "g", "members": [{"value": "1"}, {"value": "2"}]},
    ),
    (
        "Remove members with a value list removes only those",
        {"displayName": "g", "members": [{"value": "1"}, {"value": "2"}, {"value": "3"}]},
        [{"op": "Remove", "path": "members", "value": [{"value": "2"}]}],
        {"displayName": "g", "members": [{"value": "1"}, {"value": "3"}]},
    ),
    (
        "remove members[value eq id] removes that member",
        {"displayName": "g", "members": [{"value": "1"}, {"value": "2"}]},
        [{"op": "remove", "path": 'members[value eq "1"]'}],
        {"displayName": "g", "members": [{"value": "2"}]},
    ),
    (
        "remove members without a value removes all",
        {"displayName": "g", "members": [{"value": "1"}, {"value": "2"}]},
        [{"op": "remove", "path": "members"}],
        {"displayName": "g"},
    ),
    (
        "add with a whole extension URN as the path sets the attributes it names",
        {"userName": "a", EXT: {"department": "Keep"}},
        [{"op": "add", "path": EXT, "value": {"employeeNumber": "7", "manager": {"value": "271"}}}],
        {"userName": "a", EXT: {"department": "Keep", "employeeNumber": "7", "manager": {"value": "271"}}},
    ),
    (
        "add with a whole extension URN creates the extension",
        {"userName": "a"},
        [{"op": "Add", "path": EXT, "value": {"department": "R&D", "manager": "271"}}],
        {"userName": "a", EXT: {"department": "R&D", "manager": {"value": "271"}}},
    ),
    (
        "replace with a whole extension URN replaces what it names and keeps the rest (RFC 7644 3.5.2.3)",
        {"userName": "a", EXT: {"department": "Old", "employeeNumber": "7"}},
        [{"op": "Replace", "path": EXT.upper(), "value": {"DEPARTMENT": "New", "costCenter": "C1"}}],
        {"userName": "a", EXT: {"department": "New", "employeeNumber": "7", "costCenter": "C1"}},
    ),
    (
        "replace with a whole extension URN and a null attribute clears that attribute",
        {"userName": "a", EXT: {"department": "Old", "manager": {"value": "m"}}},
        [{"op": "replace", "path": EXT, "value": {"manager": None}}],
        {"userName": "a", EXT: {"department": "Old"}},
    ),
    (
        "remove with a whole extension URN removes the extension",
        {"userName": "a", EXT: {"department": "d", "manager": {"value": "m"}}},
        [{"op": "remove", "path": EXT}],
        {"userName": "a"},
    ),
    (
        "replace of a whole extension URN with an empty object clears it",
        {"userName": "a", EXT: {"department": "d"}},
        [{"op": "replace", "path": EXT, "value": {}}],
        {"userName": "a"},
    ),
    (
        "remove of a whole extension the user does not have changes nothing",
        {"userName": "a"},
        [{"op": "remove", "path": EXT}],
        {"userName": "a"},
    ),
    (
        "adding a primary email clears the other primary",
        {"userName": "a", "emails": [{"value": "1", "primary": True}]},
        [{"op": "add", "path": "emails", "value": [{"value": "2", "primary": "True"}]}],
        {"userName": "a", "emails": [{"value": "1", "primary": False}, {"value": "2", "primary": True}]},
    ),
]


@pytest.mark.parametrize(("title", "before", "operations", "after"), CASES, ids=[c[0] for c in CASES])
def test_patch(title, before, operations, after):
    resource_type = GROUPS if "members" in str(before) else USERS
    assert patch(before, *operations, resource_type=resource_type) == after


def test_patch_never_changes_its_input():
    before = {"userName": "a", "emails": [{"type": "work", "value": "w"}]}
    patch(before, {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"})
    assert before == {"userName": "a", "emails": [{"type": "work", "value": "w"}]}


REJECTED = [
    ("not a list", {"schemas": [PATCH_OP], "Operations": {}}, "invalidSyntax"),
    ("empty list", {"schemas": [PATCH_OP], "Operations": []}, "invalidSyntax"),
    (
        "wrong schema",
        {"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "title", "value": 1}]},
        "invalidSyntax",
    ),
    ("unknown op", {"Operations": [{"op": "move", "path": "title"}]}, "invalidSyntax"),
    ("remove without path", {"Operations": [{"op": "remove"}]}, "noTarget"),
    ("add without path needs an object", {"Operations": [{"op": "add", "value": "x"}]}, "invalidSyntax"),
    # found by tests/fuzz: a TypeError (a 500) before
    ("schemas that is not a list", {"schemas": 1, "Operations": [{"op": "remove", "path": "title"}]}, "invalidSyntax"),
]


@pytest.mark.parametrize(("title", "body", "scim_type"), REJECTED, ids=[r[0] for r in REJECTED])
def test_malformed_patch_bodies_are_400(title, body, scim_type):
    with pytest.raises(ScimError) as caught:
        parse_operations(body)
    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "nosuch", "value": 1}, "invalidPath"),
        ({"op": "replace", "path": "name.nosuch", "value": 1}, "invalidPath"),
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
        ({"op": "replace", "path": 'title[type eq "x"]', "value": 1}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type ne "work"].value', "value": "x"}, "noTarget"),
        ({"op": "add", "path": EXT, "value": "R&D"}, "invalidValue"),
        ({"op": "add", "path": EXT, "value": {"nosuch": "x"}}, "invalidPath"),
        ({"op": "add", "path": "urn:ietf:params:scim:schemas:extension:other:2.0:User", "value": {}}, "invalidPath"),
    ],
)
def test_bad_operations_are_400_with_scim_type(operation, scim_type):
    with pytest.raises(ScimError) as caught:
        patch({"userName": "a"}, operation)
    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)


def test_adding_a_complex_value_without_known_sub_attributes_changes_nothing():
    # Found by tests/fuzz: {"userName": null} under `name` coerced to nothing, then crashed .update().
    resource = {"userName": "a", "name": {"givenName": "A"}}
    assert patch(resource, {"op": "add", "path": "name", "value": {"userName": None}}) == resource
    assert patch(resource, {"op": "replace", "path": "name", "value": {"nosuch": 1}}) == resource
