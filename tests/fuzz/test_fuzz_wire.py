"""wire.py, fuzzed against ldap3: a filter it writes is the filter ldap3 would have sent.

Two sources: every filter compose.py renders from hostile values (the gateway's own filters,
all of which wire.py must write), and filter-shaped junk (anything wire.py accepts, ldap3 must
encode to the same bytes; what it refuses goes to ldap3, so a refusal is always safe).
"""

from __future__ import annotations

import ldap3
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.strategy.base import encode

from gateway.backends.ldap import wire
from gateway.backends.ldap.compose import render_filter
from gateway.store import AllOf, AnyOf, Exists, Match, Negate
from tests.fuzz.strategies import hostile_text

BASE = "ou=People,dc=example,dc=com"
ATTRIBUTES = st.sampled_from(["uid", "cn", "mail", "employeeNumber", "entryUUID", "objectGUID", "cn;lang-en"])

matches = st.builds(Match, ATTRIBUTES, st.sampled_from(["eq", "co", "sw", "ew", "ge", "le", "gt", "lt"]), hostile_text)
queries = st.recursive(
    st.one_of(matches, st.builds(Exists, ATTRIBUTES)),
    lambda inner: st.one_of(
        st.builds(AllOf, st.lists(inner, max_size=3).map(tuple)),
        st.builds(AnyOf, st.lists(inner, max_size=3).map(tuple)),
        st.builds(Negate, inner),
    ),
    max_leaves=6,
)
# Filter-shaped text: items, &, | and ! as RFC 4515 has them, with names, operators and values
# drawn from what is valid and what is nearly so (stray specials, white space, broken escapes).
names = st.sampled_from(
    ["cn", "uid", "1.2.3", "cn;lang-en", "", "c n", " cn", "cn:dn", "cn:1.2.3", ":dn:1.2", ":1.2", "cn:dn:1.2"]
)
operators = st.sampled_from(["=", "=", "=", "~=", ">=", "<=", ":=", "=*"])
pieces = st.sampled_from(
    ["a", "é", "0", "*", " ", "\\2a", "\\5C", "\\c3\\a9", "\\z", "\\", "(", ")", "=", ":", "\x00", "\x85"]
)
values = st.lists(pieces, max_size=6).map("".join)
items = st.builds(lambda n, o, v: f"({n}{o}{v})", names, operators, values)
junk = st.recursive(
    items,
    lambda inner: st.one_of(
        st.builds(lambda k, fs: f"({k}{''.join(fs)})", st.sampled_from(["&", "|"]), st.lists(inner, max_size=3)),
        inner.map(lambda f: f"(!{f})"),
    ),
    max_leaves=5,
)


def _ldap3_bytes(search_filter: str) -> bytes | None:
    """What ldap3 sends for the filter; None if ldap3 refuses it (raises while encoding)."""
    try:
        request = search_operation(
            BASE, search_filter, "SUBTREE", ldap3.DEREF_ALWAYS, ["*"], 0, 0, False, True, True, None
        )
        message = LDAPMessage()
        message["messageID"] = MessageID(1)
        message["protocolOp"] = ProtocolOp().setComponentByName("searchRequest", request)
        return encode(message)
    except Exception:  # ldap3 and pyasn1 raise many kinds; any is a refusal
        return None


def _wire_bytes(search_filter: str) -> bytes | None:
    """What wire.py writes; None if it leaves the filter to ldap3."""
    try:
        return wire.message(1, wire.search_request(BASE, "SUBTREE", 3, 0, 0, search_filter, ["*"]))
    except wire.Unsupported:
        return None


@settings(max_examples=1500)
@given(queries)
def test_every_filter_the_gateway_renders_is_written_as_ldap3_writes_it(query):
    """Both write the same bytes, or both leave it (ldap3 refuses `(uid=**)`, a contains of "")."""
    rendered = render_filter(query)
    assert _wire_bytes(rendered) == _ldap3_bytes(rendered), rendered


@settings(max_examples=3000)
@given(junk)
def test_a_filter_wire_writes_is_written_as_ldap3_writes_it(text):
    ours = _wire_bytes(text)
    if ours is not None:  # what wire.py leaves, ldap3 writes or refuses, as before
        assert ours == _ldap3_bytes(text), text
