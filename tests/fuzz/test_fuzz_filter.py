"""The filter grammar and its road to LDAP, fuzzed: every text is a filter or a 400, never a crash."""

from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.operation.search import parse_filter as ldap3_parse_filter

from gateway.backends.ldap.compose import render_filter
from gateway.mapping.filters import to_query
from gateway.mapping.loader import load_mapping
from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_filter, parse_patch_path, walk
from gateway.scim.limits import DEFAULT_LIMITS, Limits
from tests.conftest import OPENLDAP_MAP
from tests.fuzz.strategies import filters, patch_paths

USER_MAP = load_mapping(OPENLDAP_MAP).resource_maps["users"]
# The defaults, and the most a tenant's `limits:` may allow (gateway/policy.py).
LIMITS = st.sampled_from([DEFAULT_LIMITS, Limits(filter_length=65536, filter_depth=128)])
long_chains = st.builds(
    lambda term, op, n: f" {op} ".join([term] * n),
    st.sampled_from(["id pr", "id eq 1", "not (title pr)", 'emails[type eq "work"]']),
    st.sampled_from(["and", "or"]),
    st.integers(1, 6000),
)


def _parsed(text, limits=DEFAULT_LIMITS):
    try:
        return parse_filter(text, limits)
    except ScimError as error:
        assert error.status == 400 and error.scim_type == "invalidFilter", error.to_json()
        return None


@settings(max_examples=1000)
@given(st.one_of(filters, long_chains), LIMITS)
def test_any_filter_text_parses_or_is_a_400_invalid_filter(text, limits):
    parsed = _parsed(text, limits)
    if parsed is not None:
        assert sum(1 for _ in walk(parsed)) >= 1


@settings(max_examples=1000)
@given(st.one_of(filters, long_chains), LIMITS)
def test_any_filter_becomes_one_well_formed_ldap_filter_or_a_400(text, limits):
    parsed = _parsed(text, limits)
    if parsed is None:
        return
    try:
        query = to_query(USER_MAP, parsed)
    except ScimError as error:
        assert error.status == 400 and error.scim_type == "invalidFilter", error.to_json()
        return
    rendered = render_filter(query)
    # ldap3 parses the filter again before it sends it: it must read as one filter.
    root = ldap3_parse_filter(rendered, None, True, True, None, False)
    assert len(root.elements) == 1


@settings(max_examples=1000)
@given(patch_paths)
def test_any_patch_path_parses_or_is_a_400(text):
    try:
        parse_patch_path(text)
    except ScimError as error:
        assert error.status == 400 and error.scim_type == "invalidPath", error.to_json()
