"""The LDAP requests the gateway sends most, written as BER bytes (RFC 4511 section 4, X.690).

ldap3 builds every request as a tree of pyasn1 objects and encodes it with pyasn1, then turns
the tree back into a dict to keep beside the message: for a search, an add, a modify or a
delete that is about 0.5 ms of CPU, more than the rest of a SCIM request (issue 14). Here the
same requests are written straight into bytes, the same bytes ldap3 sends: tests/unit/
test_wire.py compares them with ldap3's, byte for byte, and fuzzes the filter parser against
ldap3's. Anything this module does not take (a filter it cannot parse, a value of another
type) raises `Unsupported`, and the caller lets ldap3 encode that request as before.

Filters are parsed from RFC 4515 text: the gateway's filters are built, escaped, in one place
(compose.py), and the directory-specific code writes its own; both stay text.
"""

from __future__ import annotations

import re

from gateway.backends.ldap.ber import BOOLEAN, ENUMERATED, INTEGER, OCTET_STRING, SEQUENCE, SET, integer, tlv

SEARCH_REQUEST, ADD_REQUEST, MODIFY_REQUEST, DEL_REQUEST = 0x63, 0x68, 0x66, 0x4A  # [APPLICATION n]
CONTROLS = 0xA0  # LDAPMessage's controls [0]
AND, OR, NOT = 0xA0, 0xA1, 0xA2
EQUALITY, SUBSTRINGS, GREATER_OR_EQUAL, LESS_OR_EQUAL, PRESENT, APPROX, EXTENSIBLE = (
    0xA3, 0xA4, 0xA5, 0xA6, 0x87, 0xA8, 0xA9,
)  # fmt: skip
INITIAL, ANY, FINAL = 0x80, 0x81, 0x82  # SubstringFilter's choices
RULE, TYPE, MATCH_VALUE, DN_ATTRIBUTES = 0x81, 0x82, 0x83, 0x84  # MatchingRuleAssertion's fields
SCOPES = {"BASE": 0, "LEVEL": 1, "SUBTREE": 2}
TRUE, FALSE = b"\xff", b"\x00"
MAX_DEPTH = 64  # nested &, | and !: deeper than any filter written by hand or by compose.py
ATTRIBUTE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.;-]*\Z")  # a descriptor or numeric OID, with options
HEX = frozenset(b"0123456789abcdefABCDEF")


class Unsupported(ValueError):
    """A request this module does not write; ldap3 writes it instead."""


def message(message_id: int, operation: bytes, controls: bytes = b"") -> bytes:
    """LDAPMessage ::= SEQUENCE { messageID, protocolOp, controls [0] Controls OPTIONAL }"""
    return tlv(SEQUENCE, tlv(INTEGER, integer(message_id)) + operation + controls)


def controls_field(controls: list | tuple | None) -> bytes:
    """The message's controls field (empty when there are none), from ldap3's (oid,
    criticality, value) triples."""
    if not controls:
        return b""
    if not isinstance(controls, list | tuple):
        raise Unsupported("controls that are not a list")
    return tlv(CONTROLS, b"".join(_control(control) for control in controls))


def search_request(
    base: str, scope: str, deref: int, size_limit: int, time_limit: int, search_filter: str, attributes: list[str]
) -> bytes:
    if scope not in SCOPES:
        raise Unsupported(f"scope {scope!r}")
    return tlv(
        SEARCH_REQUEST,
        _string(base)
        + tlv(ENUMERATED, integer(SCOPES[scope]))
        + tlv(ENUMERATED, integer(deref))
        + tlv(INTEGER, integer(size_limit))
        + tlv(INTEGER, integer(time_limit))
        + tlv(BOOLEAN, FALSE)  # typesOnly
        + filter_bytes(search_filter)
        + tlv(SEQUENCE, b"".join(_string(name) for name in attributes)),
    )


def add_request(dn: str, attributes: dict) -> bytes:
    """AddRequest ::= [APPLICATION 8] SEQUENCE { entry, attributes SEQUENCE OF { type, vals } }"""
    return tlv(ADD_REQUEST, _string(dn) + tlv(SEQUENCE, b"".join(_attribute(n, v) for n, v in attributes.items())))


def modify_request(dn: str, changes: list[tuple[int, str, list]]) -> bytes:
    """ModifyRequest ::= [APPLICATION 6] SEQUENCE { object, changes SEQUENCE OF SEQUENCE {
    operation ENUMERATED, modification PartialAttribute } }; `changes` as (operation, name, values)."""
    written = b"".join(
        tlv(SEQUENCE, tlv(ENUMERATED, integer(operation)) + _attribute(name, values))
        for operation, name, values in changes
    )
    return tlv(MODIFY_REQUEST, _string(dn) + tlv(SEQUENCE, written))


def delete_request(dn: str) -> bytes:
    return tlv(DEL_REQUEST, dn.encode("utf-8"))


def value_bytes(value) -> bytes:
    """A value as ldap3 sends it (without a schema): text as UTF-8, numbers as their digits."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int | float):  # bool too, as ldap3 does: str(True)
        return str(value).encode("utf-8")
    raise Unsupported(f"a value of type {type(value).__name__}")


def filter_bytes(text: str) -> bytes:
    """An RFC 4515 filter as its BER Filter (RFC 4511 section 4.5.1)."""
    if not isinstance(text, str):
        raise Unsupported("a filter that is not text")
    text = text.strip()
    encoded, end = _filter(text, 0, 0)
    if end != len(text):
        raise Unsupported("text after the filter")
    return encoded


def _filter(text: str, at: int, depth: int) -> tuple[bytes, int]:
    if depth > MAX_DEPTH or at >= len(text) or text[at] != "(":
        raise Unsupported("a filter must be in parentheses")
    kind = text[at + 1 : at + 2]
    if kind in ("&", "|"):
        at += 2
        parts = []
        while at < len(text) and text[at] == "(":
            part, at = _filter(text, at, depth + 1)
            parts.append(part)
        if not parts or at >= len(text) or text[at] != ")":
            raise Unsupported("an & or | with no filter, or unclosed")
        return tlv(AND if kind == "&" else OR, b"".join(parts)), at + 1
    if kind == "!":
        part, at = _filter(text, at + 2, depth + 1)
        if at >= len(text) or text[at] != ")":
            raise Unsupported("an unclosed !")
        return tlv(NOT, part), at + 1
    end = text.find(")", at + 1)
    if end < 0:
        raise Unsupported("an unclosed filter")
    return _item(text[at + 1 : end]), end + 1


def _item(item: str) -> bytes:
    left, equals, value = item.partition("=")
    if not equals:
        raise Unsupported("an item with no =")
    if value != value.strip():
        raise Unsupported("a value with white space at an end")  # ldap3 strips it: its call
    tag = {"~": APPROX, ">": GREATER_OR_EQUAL, "<": LESS_OR_EQUAL, ":": EXTENSIBLE}.get(left[-1:])
    if tag and "*" in value:
        raise Unsupported("a * in a value that is not a substring")
    if tag == EXTENSIBLE:
        return _extensible(left[:-1], value)
    attribute = _attribute_name(left[:-1] if tag else left)
    if tag:
        return tlv(tag, _string(attribute) + tlv(OCTET_STRING, _unescape(value)))
    if value == "*":
        return tlv(PRESENT, attribute.encode("utf-8"))
    if "*" not in value:
        return tlv(EQUALITY, _string(attribute) + tlv(OCTET_STRING, _unescape(value)))
    pieces = value.split("*")
    initial, middle, final = pieces[0], pieces[1:-1], pieces[-1]
    if any(piece == "" for piece in middle):
        raise Unsupported("two * in a row")
    written = tlv(INITIAL, _unescape(initial)) if initial else b""
    written += b"".join(tlv(ANY, _unescape(piece)) for piece in middle)
    written += tlv(FINAL, _unescape(final)) if final else b""
    return tlv(SUBSTRINGS, _string(attribute) + tlv(SEQUENCE, written))


def _extensible(left: str, value: str) -> bytes:
    """[type] [":dn"] [":" rule] ":=" value: MatchingRuleAssertion, dnAttributes only when set."""
    parts = left.split(":")
    attribute, options = parts[0], [part.lower() for part in parts[1:]]
    dn = "dn" in options
    rules = [part for part in parts[1:] if part.lower() != "dn"]
    if len(rules) > 1 or (not attribute and not rules) or options.count("dn") > 1:
        raise Unsupported("an extensible match this module does not read")
    written = tlv(RULE, _attribute_name(rules[0]).encode("utf-8")) if rules else b""
    written += tlv(TYPE, _attribute_name(attribute).encode("utf-8")) if attribute else b""
    written += tlv(MATCH_VALUE, _unescape(value))
    written += tlv(DN_ATTRIBUTES, TRUE) if dn else b""
    return tlv(EXTENSIBLE, written)


def _attribute_name(name: str) -> str:
    if not ATTRIBUTE.match(name):
        raise Unsupported(f"an attribute description {name!r}")
    return name


def _unescape(value: str) -> bytes:
    """RFC 4515 valueencoding: UTF-8, with \\XX for any byte; a stray backslash, or a ( or NUL
    that should have been escaped, is not ours to read."""
    if "(" in value or "\x00" in value:
        raise Unsupported("a ( or NUL in a value, unescaped")
    raw = value.encode("utf-8")
    if b"\\" not in raw:
        return raw
    out = bytearray()
    at = 0
    while at < len(raw):
        byte = raw[at]
        if byte == 0x5C:
            pair = raw[at + 1 : at + 3]
            if len(pair) != 2 or not all(b in HEX for b in pair):
                raise Unsupported("a backslash that is not an escape")
            out.append(int(pair, 16))
            at += 3
        else:
            out.append(byte)
            at += 1
    return bytes(out)


def _attribute(name: str, values) -> bytes:
    """PartialAttribute ::= SEQUENCE { type, vals SET OF value }"""
    if isinstance(values, list | tuple | set):
        written = b"".join(tlv(OCTET_STRING, value_bytes(value)) for value in values)
    else:
        written = tlv(OCTET_STRING, value_bytes(values))
    return tlv(SEQUENCE, _string(name) + tlv(SET, written))


def _control(control) -> bytes:
    """Control ::= SEQUENCE { controlType, criticality BOOLEAN DEFAULT FALSE, controlValue OPTIONAL }"""
    if not isinstance(control, list | tuple) or len(control) != 3 or not isinstance(control[1], bool):
        raise Unsupported("a control that is not (oid, criticality, value)")
    oid, critical, value = control
    written = _string(oid) + (tlv(BOOLEAN, TRUE) if critical else b"")  # the DEFAULT is left out, as ldap3 does
    if value is not None:
        written += tlv(OCTET_STRING, value_bytes(value))
    return tlv(SEQUENCE, written)


def _string(text: str) -> bytes:
    if not isinstance(text, str):
        raise Unsupported(f"a name or DN of type {type(text).__name__}")
    return tlv(OCTET_STRING, text.encode("utf-8"))
