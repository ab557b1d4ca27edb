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
