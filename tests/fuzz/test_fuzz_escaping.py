"""Escaping, fuzzed: no value widens an LDAP filter or changes the structure of a DN.

Checked against ldap3's own filter parser (the one that encodes the filter on the wire) and
its DN parser, so the property is "what the directory receives", not "what we meant".
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.operation.search import MATCH_EQUAL, MATCH_GREATER_OR_EQUAL, MATCH_LESS_OR_EQUAL, MATCH_SUBSTRING
from ldap3.operation.search import parse_filter as ldap3_parse_filter
from ldap3.protocol.convert import prepare_filter_for_sending
from ldap3.utils.dn import parse_dn

from gateway.backends.ldap.compose import build_dn, normalized_dn, rdn_text, render_filter
from gateway.store import Match
from tests.fuzz.strategies import hostile_text

TAGS = {"eq": MATCH_EQUAL, "ge": MATCH_GREATER_OR_EQUAL, "le": MATCH_LESS_OR_EQUAL}
non_empty = hostile_text.filter(bool)


def _sent(rendered: str) -> tuple[int, dict]:
    """The filter as ldap3 puts it on the wire (Connection's defaults: auto_escape, auto_encode):
    its one node's type and its assertion with every value as the bytes sent."""
    root = ldap3_parse_filter(rendered, None, True, True, None, False)
    assert len(root.elements) == 1, rendered
    node = root.elements[0]
    assertion = {
        key: [prepare_filter_for_sending(v) for v in value] if isinstance(value, list) else value
        for key, value in node.assertion.items()
    }
    for key in ("value", "initial", "final"):
        if key in assertion:
            assertion[key] = prepare_filter_for_sending(assertion[key])
    return node.tag, assertion


@settings(max_examples=1500)
@given(non_empty, st.sampled_from(["eq", "ge", "le"]))
def test_a_compared_value_reaches_the_directory_as_exactly_one_assertion_of_itself(value, op):
    tag, assertion = _sent(render_filter(Match("uid", op, value)))
    assert tag == TAGS[op]
    assert assertion == {"attr": "uid", "value": value.encode("utf-8")}


@settings(max_examples=1500)
@given(non_empty, st.sampled_from(["co", "sw", "ew"]))
def test_a_substring_value_reaches_the_directory_as_exactly_one_substring_of_itself(value, op):
    tag, assertion = _sent(render_filter(Match("cn", op, value)))
    assert tag == MATCH_SUBSTRING
    where = {"co": "any", "sw": "initial", "ew": "final"}[op]
    expected = [value.encode("utf-8")] if op == "co" else value.encode("utf-8")
    assert assertion == {"attr": "cn", where: expected}


@settings(max_examples=1500)
@given(non_empty)
def test_a_dn_value_stays_one_rdn_value_and_reads_back_unchanged(value):
    dn = build_dn("uid={uid},ou=People,dc=example,dc=com", {"uid": [value]})
    parts = parse_dn(dn)
    assert len(parts) == 4, dn
    assert parts[0][0] == "uid" and parts[1][:2] == ("ou", "People")
    assert rdn_text(dn) == value
    assert normalized_dn(dn)[0] == ("uid", value.lower())


@settings(max_examples=1500)
@given(hostile_text)
def test_an_asserted_id_reaches_the_directory_as_exactly_the_id(value):
    """The assertion control a write by a remembered DN carries (controls.py has wire.py write
    it): the id's own bytes in one equalityMatch, byte for byte what ldap3 and pyasn1 send."""
    from ldap3.operation.search import compile_filter
    from pyasn1.codec.ber import encoder

    from gateway.backends.ldap import ber, controls

    rendered = render_filter(Match("entryUUID", "eq", value))
    oid, critical, sent = controls.assertion(rendered)
    assert (oid, critical) == ("1.3.6.1.1.12", True)
    equality_match = 0xA3  # RFC 4511 section 4.5.1: equalityMatch [3] { attributeDesc, assertionValue }
    assert sent == ber.tlv(
        equality_match, ber.tlv(ber.OCTET_STRING, b"entryUUID") + ber.tlv(ber.OCTET_STRING, value.encode())
    )
    assert sent == encoder.encode(
        compile_filter(ldap3_parse_filter(rendered, None, False, False, None, False).elements[0])
    )
