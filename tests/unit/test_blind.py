"""Which PATCH operations are sent without reading the entry first (gateway/mapping/blind.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapping.blind import blind_changes
from gateway.mapping.loader import load_mapping
from gateway.scim.patch import parse_operations
from gateway.store import Change

REPO = Path(__file__).resolve().parents[2]
USERS = load_mapping(REPO / "mappings" / "openldap.yaml").users
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RENAMING = USERS.target.renaming_attributes


def _blind(*operations: dict) -> list[Change] | None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}
    return blind_changes(USERS, parse_operations(body), RENAMING)


def test_replacing_plain_attributes_is_their_changes_alone():
    assert _blind(
        {"op": "Replace", "path": "title", "value": "Boss"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        {"op": "Replace", "path": "name.givenName", "value": "Ann"},
    ) == [
        Change("title", "replace", ("Boss",)),
        Change("departmentnumber", "replace", ("R&D",)),
        Change("givenname", "replace", ("Ann",)),
    ]


@pytest.mark.parametrize(
    ("value", "written"), [("False", ("000001010000Z",)), (False, ("000001010000Z",)), ("True", ())]
)
def test_disabling_and_enabling_through_the_value_map_need_no_read(value, written):
    assert _blind({"op": "Replace", "path": "active", "value": value}) == [
        Change("pwdaccountlockedtime", "replace", written)
    ]


def test_emptying_a_plain_attribute_removes_it():
    assert _blind({"op": "Replace", "path": "title", "value": None}) == [Change("title", "replace", ())]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "displayName", "value": "X"},  # the cn default reads it
        {"op": "Replace", "path": "userName", "value": "x"},  # unique, required, and it names the entry
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@b"},  # one element of a list
        {"op": "Replace", "path": "name.familyName", "value": "X"},  # sn: a default writes it too
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": "some-id"},  # a reference
        {"op": "Remove", "path": "title"},  # removal: the normal road
        {"op": "Replace", "value": {"title": "X"}},  # no path: the normal road
        {"op": "Replace", "path": "active", "value": "maybe"},  # refused there, with its words
    ],
)
def test_what_depends_on_the_entry_or_on_a_rule_takes_the_read(operation):
    assert _blind(operation) is None


def test_one_operation_that_needs_the_read_takes_the_whole_patch_there():
    assert (
        _blind({"op": "Replace", "path": "title", "value": "X"}, {"op": "Replace", "path": "displayName", "value": "Y"})
        is None
    )
