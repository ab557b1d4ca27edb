"""decoded.py turns search entries and post-read controls into the dicts ldap3 makes of them:
each generated answer is read both ways (ldap3's converters, and decoded.py's installed on a
strategy) from the same bytes, and the two must be equal, value types and all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.strategy.base import BaseStrategy
from ldap3.utils.asn1 import decode_message_fast
from ldap3.utils.ciDict import CaseInsensitiveDict

from gateway.backends.ldap import decoded
from gateway.backends.ldap.ber import INTEGER, OCTET_STRING, SEQUENCE, SET, integer, tlv

POST_READ = "1.3.6.1.1.13.2"
names = st.sampled_from(
    [
        "cn",
        "uid",
        "mail",
        "objectGUID",
        "jpegPhoto",
        "supportedldapversion",
        "1.2.840.113556.1.4.906",
        "member;range=0-*",
        "CN",
    ]
)
raw_values = st.one_of(
    st.text(max_size=12).map(lambda text: text.encode("utf-8")),
    st.binary(max_size=16),  # not UTF-8, often: ldap3 keeps these as bytes, or reads them as latin-1
    st.sampled_from([b"", b"12", b"\xff\xfe", b"caf\xe9"]),
)
attributes = st.lists(st.tuples(names, st.lists(raw_values, max_size=3)), max_size=6)
dns = st.one_of(st.text(max_size=20).map(lambda text: text.encode("utf-8")), st.binary(max_size=20))


class _Server:
    schema = None
    custom_formatter = None


class _Connection:
    server = _Server()
    check_names = True


class _Strategy(BaseStrategy):
    def __init__(self):  # what the converters read of a strategy: its connection
        self.connection = _Connection()


def _entry(dn: bytes, pairs: list) -> bytes:
    listed = b"".join(
        tlv(SEQUENCE, tlv(OCTET_STRING, name.encode()) + tlv(SET, b"".join(tlv(OCTET_STRING, v) for v in values)))
        for name, values in pairs
    )
    return tlv(0x64, tlv(OCTET_STRING, dn) + tlv(SEQUENCE, listed))


def _both(message: bytes) -> tuple[dict, dict]:
    ldap3s, ours = _Strategy(), _Strategy()
    decoded.read_entries(ours)
    return ldap3s.decode_response_fast(decode_message_fast(message)), ours.decode_response_fast(
        decode_message_fast(message)
    )


def _plain(answer):
    """The answer with every case-insensitive dict as a plain one (and so compared by value),
    and a note of which were case-insensitive."""
    if isinstance(answer, CaseInsensitiveDict):
        return ("case-insensitive", {key: _plain(value) for key, value in answer.items()})
    if isinstance(answer, dict):
        return {key: _plain(value) for key, value in answer.items()}
    if isinstance(answer, list):
        return [_plain(value) for value in answer]
    return (type(answer).__name__, answer)


@settings(max_examples=600)
@given(dns, attributes)
def test_a_search_entry_reads_as_ldap3_reads_it(dn, pairs):
    message = tlv(SEQUENCE, tlv(INTEGER, integer(5)) + _entry(dn, pairs))
    theirs, ours = _both(message)
    assert _plain(ours) == _plain(theirs)


@settings(max_examples=600)
@given(dns, attributes, st.sampled_from([0, 32, 122]))
def test_a_post_read_control_reads_as_ldap3_reads_it(dn, pairs, code):
    result = tlv(0x0A, integer(code)) + tlv(OCTET_STRING, b"") + tlv(OCTET_STRING, b"")
    control = tlv(SEQUENCE, tlv(OCTET_STRING, POST_READ.encode()) + tlv(OCTET_STRING, _entry(dn, pairs)))
    message = tlv(SEQUENCE, tlv(INTEGER, integer(9)) + tlv(0x67, result) + tlv(0xA0, control))
    theirs, ours = _both(message)
    assert _plain(ours) == _plain(theirs)
    assert POST_READ in ours["controls"]


def test_other_controls_and_a_critical_post_read_are_read_by_ldap3():
    paged = tlv(SEQUENCE, tlv(INTEGER, integer(0)) + tlv(OCTET_STRING, b"cookie"))
    controls = tlv(SEQUENCE, tlv(OCTET_STRING, b"1.2.840.113556.1.4.319") + tlv(OCTET_STRING, paged))
    critical = tlv(0x01, b"\xff")
    controls += tlv(SEQUENCE, tlv(OCTET_STRING, POST_READ.encode()) + critical + tlv(OCTET_STRING, _entry(b"cn=x", [])))
    done = tlv(0x0A, integer(0)) + tlv(OCTET_STRING, b"") + tlv(OCTET_STRING, b"")
    message = tlv(SEQUENCE, tlv(INTEGER, integer(3)) + tlv(0x65, done) + tlv(0xA0, controls))
    theirs, ours = _both(message)
    assert _plain(ours) == _plain(theirs)
    assert ours["controls"]["1.2.840.113556.1.4.319"]["value"] == {"size": 0, "cookie": b"cookie"}
    assert ours["controls"][POST_READ]["criticality"] is True


def test_a_connection_that_has_read_a_schema_gets_ldap3s_reading():
    """A bind with get_info=SCHEMA reads the schema after the connection was made: from then on
    ldap3 formats values by it, so its own converters read the answers."""
    message = tlv(SEQUENCE, tlv(INTEGER, integer(5)) + _entry(b"cn=x", [("cn", [b"x"])]))
    strategy = _Strategy()
    strategy.connection = _Connection()
    strategy.connection.server = _Server()
    decoded.read_entries(strategy)
    calls = []
    strategy.connection.server.schema = _CountingSchema(calls)
    strategy.decode_response_fast(decode_message_fast(message))
    assert calls, "ldap3's converter did not look at the schema"


class _CountingSchema:
    """A schema that says it has no attribute types, and notes that someone looked."""

    def __init__(self, calls: list):
        self._calls = calls

    @property
    def attribute_types(self):
        self._calls.append("attribute_types")
        return {}
