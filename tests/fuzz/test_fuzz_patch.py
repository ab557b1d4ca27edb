"""The PATCH engine and resource normalization, fuzzed: any body is applied or refused with a 4xx."""

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim.errors import ScimError
from gateway.scim.patch import apply_patch, parse_operations
from gateway.scim.resource import normalize
from gateway.scim.schema import ENTERPRISE, GROUP, USER, ResourceType
from tests.fuzz.strategies import json_values, patch_bodies

USERS = ResourceType("User", "/Users", USER, (ENTERPRISE,))
GROUPS = ResourceType("Group", "/Groups", GROUP)
ALICE = {
    "userName": "alice",
    "active": True,
    "name": {"givenName": "Alice", "familyName": "Liddell"},
    "emails": [{"type": "work", "value": "a@example.com", "primary": True}],
    "addresses": [{"type": "work", "locality": "Oxford"}],
    ENTERPRISE.id: {"employeeNumber": "7", "manager": {"value": "m1"}},
}
STAFF = {"displayName": "staff", "members": [{"value": "u1"}, {"value": "u2"}]}


def _refused_cleanly(error: ScimError) -> None:
    assert 400 <= error.status < 500, error.to_json()
    assert error.detail


@settings(max_examples=1500)
@given(patch_bodies, st.sampled_from([(USERS, ALICE), (GROUPS, STAFF)]))
def test_any_patch_body_is_applied_or_refused_with_a_4xx_and_never_changes_its_input(body, target):
    resource_type, resource = target
    before = copy.deepcopy(resource)
    try:
        result = apply_patch(resource, parse_operations(body), resource_type)
    except ScimError as error:
        _refused_cleanly(error)
    else:
        assert isinstance(result, dict)
    assert resource == before


@settings(max_examples=1000)
@given(json_values, st.sampled_from([USERS, GROUPS]))
def test_any_json_body_normalizes_or_is_refused_with_a_4xx(body, resource_type):
    try:
        result = normalize(body, resource_type)
    except ScimError as error:
        _refused_cleanly(error)
    else:
        assert isinstance(result, dict)
