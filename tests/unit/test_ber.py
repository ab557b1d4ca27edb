"""The BER the python-ldap client reads and writes itself (gateway/backends/ldap/ber.py), checked
against pyasn1's encoder (ldap3's protocol definitions) rather than against itself."""

from __future__ import annotations

import pytest
from ldap3.protocol.rfc2696 import RealSearchControlValue
from ldap3.protocol.rfc4511 import SearchResultEntry
from pyasn1.codec.ber import decoder, encoder

from gateway.backends.ldap import ber


@pytest.mark.parametrize(("size", "cookie"), [(0, b""), (100, b"\x01\x02"), (500, b"c" * 300), (2**31 - 1, b"x")])
def test_the_paged_request_is_what_pyasn1_reads(size, cookie):
    decoded, rest = decoder.decode(ber.paged_request(size, cookie), asn1Spec=RealSearchControlValue())
    assert rest == b""
    assert (int(decoded["size"]), bytes(decoded["cookie"])) == (size, cookie)


def test_the_paged_response_reads_what_pyasn1_writes():
    value = RealSearchControlValue()
    value["size"] = 1234
    value["cookie"] = b"\x00" * 200
    assert ber.paged_response(encoder.encode(value)) == (1234, b"\x00" * 200)


def test_a_post_read_entry_reads_what_pyasn1_writes():
    entry = SearchResultEntry()
    entry["object"] = "uid=zoë,ou=People,dc=example,dc=com"
    attributes = entry["attributes"]
    values = {"uid": [b"zo\xc3\xab"], "member": [f"uid=u{i},dc=x".encode() for i in range(300)], "empty": []}
    for position, (name, given) in enumerate(values.items()):
        attribute = attributes.getComponentByPosition(position)
        attribute["type"] = name
        for index, value in enumerate(given):
            attribute["vals"].setComponentByPosition(index, value)
    dn, found = ber.search_result_entry(encoder.encode(entry))
    assert dn == "uid=zoë,ou=People,dc=example,dc=com"
    assert found == values


@pytest.mark.parametrize("broken", [b"", b"\x64", b"\x64\x05\x04\x01", b"\x30\x00", b"\x64\x84\xff\xff\xff\xff"])
def test_broken_bytes_are_a_ber_error_not_a_crash(broken):
    with pytest.raises(ber.BerError):
        ber.search_result_entry(broken)


def _ldap3_assertion(ldap_filter: str) -> tuple[str, bool, bytes]:
    from ldap3.operation.search import compile_filter, parse_filter
    from ldap3.protocol.controls import build_control

    from gateway.backends.ldap import controls
    from gateway.backends.ldap.capabilities import ASSERTION

    parsed = parse_filter(ldap_filter, None, False, False, None, False)
    return controls.kept(build_control(ASSERTION, True, compile_filter(parsed.elements[0])))


# ids as each directory has them, values that need escaping, and one long enough for a long length
VALUES = ["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "zoë ångström", "x(*)\\y\0", "a=b", "", "v" * 300]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("entryUUID", v) for v in VALUES]
    + [("nsUniqueId", v) for v in VALUES]
    + [("scim-Id", "42")]
    + [("objectGUID", "b0f6a5f3-1234-4cde-9abc-0123456789ab")],  # AD's: sent as its 16 bytes
)
def test_the_assertion_of_an_id_is_what_ldap3_and_pyasn1_encode(attribute, value):
    """The control guarding a write by a remembered DN: the filter render_filter writes for the
    id, written by wire.py, byte for byte what ldap3's parser and pyasn1 make of it."""
    from gateway.backends.ldap import controls, wire
    from gateway.backends.ldap.compose import render_filter
    from gateway.store import Match

    ldap_filter = render_filter(Match(attribute, "eq", value))
    wire.filter_bytes(ldap_filter)  # wire.py writes it (it raises Unsupported for what it leaves)
    assert controls.assertion(ldap_filter) == _ldap3_assertion(ldap_filter)


@pytest.mark.parametrize(
    "ldap_filter",
    ["(&(uid=a)(cn=b))", "(uid=a*)", "(uid>=a)", "(uid~=a)", "(cn;lang-en=a)", "(1.2.3=a)", "(uid=\\zz)", "(uid=\\4)"],
)
def test_any_other_assertion_is_what_ldap3_and_pyasn1_encode(ldap_filter):
    from gateway.backends.ldap import controls

    assert controls.assertion(ldap_filter) == _ldap3_assertion(ldap_filter)
