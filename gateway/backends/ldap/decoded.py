"""ldap3's answers, the entries among them turned into its dicts for less.

ldap3 reads an answer in two steps: a generic BER reader (decode_message_fast) and a converter
into the dicts a caller sees (decode_response_fast). For a search entry or a post-read control
the converter costs about three times the reader: it looks its settings up four times per value
decoded. `read_entries` hands a synchronous connection's strategy two converters of its own, for
exactly those two cases and with the same answer, and leaves every other message and control
(results, referrals, paged results, ...) to ldap3. The same answer means: the DN and names as
ldap3's `to_unicode(from_server=True)` has them, `raw_attributes` and `attributes` in its
case-insensitive dicts, values as its default formatter (UTF-8 text, else the bytes) or, for
the few names it formats by name, its own formatter; post-read values as `decode_vals_fast`.
tests/unit/test_decoded.py compares both ways on generated entries, byte strings that are not
UTF-8 included.

Used only while nothing changes how ldap3 reads, checked for each answer: no schema (a bind
may read one later), no custom formatter, check_names on, case-insensitive names and UTF-8 as
the server's encoding (ldap3's defaults).
"""

from __future__ import annotations

from typing import Any

from ldap3.protocol.formatters.standard import format_attribute_values, standard_formatter
from ldap3.protocol.oid import Oids
from ldap3.strategy.base import BaseStrategy
from ldap3.utils.ciDict import CaseInsensitiveDict
from ldap3.utils.config import get_config_parameter
from ldap3.utils.conv import to_unicode

from gateway.backends.ldap import ber

SEARCH_RESULT_ENTRY = 4  # protocolOp of a searchResEntry, as ldap3's reader numbers it
READ_CONTROLS = ("1.3.6.1.1.13.1", "1.3.6.1.1.13.2")  # pre-read and post-read (RFC 4527)


def read_entries(strategy: BaseStrategy) -> None:
    """Give `strategy` (a connection's) the cheaper converters; each answer they are asked to
    read while ldap3 would read it otherwise (a schema read at bind, say) goes to ldap3's."""
    convert, convert_control = strategy.decode_response_fast, strategy.decode_control_fast
    connection = strategy.connection

    def decode_response_fast(message: dict) -> dict:
        if message["protocolOp"] != SEARCH_RESULT_ENTRY or message["controls"] or not _as_ldap3(connection):
            return convert(message)  # ldap3's, which decodes any control with the one below
        return search_entry(message["payload"])

    def decode_control_fast(control: list, from_server: bool = True) -> tuple[str, dict]:
        oid = control[0][3]
        if (
            len(control) != 2  # with a criticality: ldap3's
            or control[1][2] != 4
            or oid.decode("ascii", "replace") not in READ_CONTROLS
            or not _as_ldap3(connection)
        ):
            return convert_control(control, from_server)
        try:
            _, pairs = ber.search_result_entry_pairs(control[1][3])
        except ber.BerError:
            return convert_control(control, from_server)  # what ldap3's reader makes of it
        name = oid.decode("ascii")
        result = {"result": _texts_by_name(pairs)}
        return name, {"description": Oids.get(name, ""), "criticality": False, "value": result}

    strategy.decode_response_fast = decode_response_fast
    strategy.decode_control_fast = decode_control_fast


def _as_ldap3(connection: Any) -> bool:
    """Would ldap3 read this connection's entries as search_entry does? (Its defaults.)"""
    server = connection.server
    return (
        not (server and (server.schema or server.custom_formatter))
        and connection.check_names
        and get_config_parameter("CASE_INSENSITIVE_ATTRIBUTE_NAMES")
        and get_config_parameter("DEFAULT_SERVER_ENCODING") == "utf-8"
    )


def search_entry(payload: list) -> dict:
    """ldap3's search_result_entry_response_to_dict_fast, for a connection with no schema."""
    raw_dn = payload[0][3]
    raw: CaseInsensitiveDict = CaseInsensitiveDict()
    formatted: CaseInsensitiveDict = CaseInsensitiveDict()
    for attribute in payload[1][3]:
        name = _text(attribute[3][0][3])
        values = [bytes(value[3]) for value in attribute[3][1][3]]
        raw[name] = values or None
        if name in standard_formatter:
            formatted[name] = format_attribute_values(None, name, values, None)
        else:
            formatted[name] = [_unicode_or_bytes(value) for value in values]
    return {
        "raw_dn": raw_dn,
        "dn": _text(raw_dn),
        "raw_attributes": raw,
        "attributes": formatted,
        "type": "searchResEntry",
    }


def _texts_by_name(pairs: list[tuple[bytes, list[bytes]]]) -> CaseInsensitiveDict:
    """ldap3's attributes_to_dict_fast: each value as text, None for an attribute without one."""
    texts: CaseInsensitiveDict = CaseInsensitiveDict()
    for name, values in pairs:
        texts[_text(name)] = [_text(value) for value in values] if values else None
    return texts


def _text(raw: bytes) -> str:
    """to_unicode(raw, from_server=True): UTF-8, else ldap3's other server encodings."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return to_unicode(raw, from_server=True)


def _unicode_or_bytes(raw: bytes) -> Any:
    """ldap3's format_unicode: UTF-8 text, or the bytes as they are."""
    try:
        return str(raw, "utf-8", errors="strict")
    except UnicodeDecodeError:
        return raw
