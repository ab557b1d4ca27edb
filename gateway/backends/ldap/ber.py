"""BER as the gateway reads and writes it itself (X.690, definite lengths): a tag, a length and
a content (`tlv`), and the few structures it reads: the post-read control's entry (RFC 4527)
and the paged-results control (RFC 2696). pyasn1 (python-ldap's and ldap3's way to these
controls) costs as much CPU as the operation they ride on. The requests ldap3 sends, and the
filter an assertion control carries, are written by wire.py on top of this."""

from __future__ import annotations

SEQUENCE, SET, OCTET_STRING, INTEGER, BOOLEAN, ENUMERATED = 0x30, 0x31, 0x04, 0x02, 0x01, 0x0A
SEARCH_RESULT_ENTRY = 0x64  # [APPLICATION 4], constructed


class BerError(ValueError):
    """Bytes that are not the structure they should be."""


def _element(data: bytes, at: int, tag: int) -> tuple[int, int]:
    """The content (start, end) of the element at `at`, which must carry `tag`."""
    if at + 2 > len(data) or data[at] != tag:
        raise BerError(f"expected tag 0x{tag:02x} at {at}")
    length, start = data[at + 1], at + 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4:
            raise BerError("an indefinite or oversized length")
        length, start = int.from_bytes(data[start : start + size], "big"), start + size
    if start + length > len(data):
        raise BerError("an element runs past the end")
    return start, start + length


def search_result_entry(data: bytes) -> tuple[str, dict[str, list[bytes]]]:
    """SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName, SEQUENCE OF
    SEQUENCE { type, SET OF value } }: the DN and the values of each attribute."""
    dn, pairs = search_result_entry_pairs(data)
    return dn.decode("utf-8"), {name.decode("utf-8"): values for name, values in pairs}


def search_result_entry_pairs(data: bytes) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
    """The same entry as bytes, undecoded: the DN, and each attribute's name and values in the
    order sent (a name sent twice is there twice)."""
    at, end = _element(data, 0, SEARCH_RESULT_ENTRY)
    start, stop = _element(data, at, OCTET_STRING)
    dn = data[start:stop]
    at, end = _element(data, stop, SEQUENCE)
    pairs = []
    while at < end:
        attribute_at, attribute_end = _element(data, at, SEQUENCE)
        start, stop = _element(data, attribute_at, OCTET_STRING)
        name = data[start:stop]
        value_at, values_end = _element(data, stop, SET)
        values = []
        while value_at < values_end:
            start, stop = _element(data, value_at, OCTET_STRING)
            values.append(data[start:stop])
            value_at = stop
        pairs.append((name, values))
        at = attribute_end
    return dn, pairs


def paged_request(size: int, cookie: bytes) -> bytes:
    """realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING }"""
    return tlv(SEQUENCE, tlv(INTEGER, integer(size)) + tlv(OCTET_STRING, cookie))


def paged_response(data: bytes) -> tuple[int, bytes]:
    at, _ = _element(data, 0, SEQUENCE)
    start, stop = _element(data, at, INTEGER)
    size = int.from_bytes(data[start:stop], "big", signed=True)
    start, stop = _element(data, stop, OCTET_STRING)
    return size, data[start:stop]


def integer(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)


def tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content
