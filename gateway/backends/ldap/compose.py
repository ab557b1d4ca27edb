r"""Builds LDAP filters and DNs. The only place a value is put into either, so the only place
values are escaped: RFC 4515 for filters, RFC 4514 for DNs. Nothing else in the gateway
concatenates a filter or a DN.

ldap3's own helpers (`escape_filter_chars`, `escape_rdn`) are not enough on their own, as the
fuzzers in tests/fuzz found: ldap3 strips whitespace (Python's idea of it, `\x85` included)
from both ends of every assertion value before sending it, so `userName eq " "` went out as
`(uid=)`; and `escape_rdn` leaves `#` inside a value and control characters bare, which
ldap3's DN parser then refuses, and turns a lone space into a DN that reads back as `\`.
So whitespace, control characters and the RFC's specials are written as `\XX` escapes, which
every parser reads back as exactly the bytes sent.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from ldap3.utils.dn import parse_dn

from gateway.backends.base import InvalidData
from gateway.backends.ldap.target import GUID_ATTRIBUTES, PLACEHOLDER
from gateway.store import AllOf, AnyOf, Exists, Match, Negate, Query, Record, Ref, Value

MATCH_NONE = "(!(objectClass=*))"
BITWISE_AND = "1.2.840.113556.1.4.803"  # LDAP_MATCHING_RULE_BIT_AND (AD, Samba, 389, OpenLDAP)

MATCH_ALL = "(objectClass=*)"
# What escape_filter_value escapes among printable ASCII (NUL, tabs and the like are not printable).
_FILTER_SPECIALS = re.compile(r"[*()\\ ]")


def render_filter(query: Query, locators: dict[Ref, str] | None = None) -> str:
    """The LDAP filter for a query; Refs are replaced by the DNs in `locators`."""
    if isinstance(query, AllOf):
        if not query.items:
            return MATCH_ALL
        return "(&" + "".join(render_filter(q, locators) for q in query.items) + ")"
    if isinstance(query, AnyOf):
        if not query.items:
            return MATCH_NONE
        return "(|" + "".join(render_filter(q, locators) for q in query.items) + ")"
    if isinstance(query, Negate):
        return "(!" + render_filter(query.inner, locators) + ")"
    if isinstance(query, Exists):
        return f"({query.attribute}=*)"
    if isinstance(query, Match):
        return _match(query, locators or {})
    raise TypeError(f"not a query: {query!r}")


def _match(match: Match, locators: dict[Ref, str]) -> str:
    value = match.value
    if isinstance(value, Ref):
        located = value.locator or locators.get(value)
        if located is None:
            return MATCH_NONE  # an id nobody has: nothing can point at it
        value = located
    attribute = match.attribute
    if attribute.lower() in GUID_ATTRIBUTES:
        return _guid_match(attribute, match.op, str(value))
    text = escape_filter_value(_text(value))
    return {
        "bits": lambda: f"({attribute}:{BITWISE_AND}:={int(str(value))})",
        "eq": lambda: f"({attribute}={text})",
        "co": lambda: f"({attribute}=*{text}*)",
        "sw": lambda: f"({attribute}={text}*)",
        "ew": lambda: f"({attribute}=*{text})",
        "ge": lambda: f"({attribute}>={text})",
        "le": lambda: f"({attribute}<={text})",
        "gt": lambda: f"(&({attribute}>={text})(!({attribute}={text})))",
        "lt": lambda: f"(&({attribute}<={text})(!({attribute}={text})))",
    }[match.op]()


def _guid_match(attribute: str, op: str, value: str) -> str:
    try:
        raw = uuid.UUID(value.strip("{}")).bytes_le
    except ValueError:
        return MATCH_NONE  # not a GUID: no entry has it (Entra's Test Connection sends such ids)
    if op != "eq":
        raise InvalidData(f"{attribute} is a binary id: it can only be compared with eq")
    escaped = "".join(f"\\{byte:02x}" for byte in raw)
    return f"({attribute}={escaped})"


def guid_text(raw: bytes) -> str:
    """A binary GUID as the string AD's tools show (lower case, no braces)."""
    return str(uuid.UUID(bytes_le=bytes(raw))) if len(raw) == 16 else raw.hex()


def escape_filter_value(value: str) -> str:
    """RFC 4515: the filter specials, NUL, whitespace and unprintables as `\\XX` (UTF-8 bytes)."""
    if value.isascii() and value.isprintable() and not _FILTER_SPECIALS.search(value):
        return value  # most values (userNames, ids, e-mail addresses): nothing to escape
    return "".join(_hex(char) if char in "*()\\\0" or _unsafe(char) else char for char in value)


def escape_dn_value(value: str) -> str:
    """RFC 4514: one attribute value that stays one value, whatever it holds."""
    escaped = []
    for index, char in enumerate(value):
        edge = index == 0 or index == len(value) - 1
        if char in ',+"\\<>;=#':
            escaped.append("\\" + char)
        elif _unsafe(char) and not (char == " " and not edge):
            escaped.append(_hex(char))
        else:
            escaped.append(char)
    return "".join(escaped)


def _unsafe(char: str) -> bool:
    return char.isspace() or not char.isprintable()


def _hex(char: str) -> str:
    return "".join(f"\\{byte:02x}" for byte in char.encode("utf-8"))


def _text(value: Value) -> str:
    if isinstance(value, datetime):
        return generalized_time(value)
    return str(value)


def all_filters(*filters: str) -> str:
    filters = tuple(f for f in filters if f and f != MATCH_ALL)
    if not filters:
        return MATCH_ALL
    return filters[0] if len(filters) == 1 else "(&" + "".join(filters) + ")"


def build_dn(template: str, record: Record) -> str:
    """Fill a DN template from a record; each value is escaped as an RDN value."""

    def fill(match) -> str:
        name = match.group(1)
        values = record.get(name.lower()) or []
        if not values or not isinstance(values[0], str) or not values[0]:
            raise InvalidData(f"the entry's name needs a value for {name}, and it has none")
        return escape_dn_value(values[0])

    return PLACEHOLDER.sub(fill, template)


def normalized_dn(dn: str) -> tuple[tuple[str, str], ...]:
    """A DN for comparison: escapes undone, types and values folded to lower case."""
    return tuple((attr.strip().lower(), _unescape(value).lower()) for attr, value, _ in parse_dn(dn, escape=False))


def rdn_text(dn: str) -> str:
    """The first RDN's value with escapes undone, case kept."""
    return _unescape(parse_dn(dn, escape=False)[0][1])


def _unescape(value: str) -> str:
    """RFC 4514 escapes (`\\,` and `\\2C` alike) back to the characters."""
    raw = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            pair = value[index + 1 : index + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                raw.append(int(pair, 16))
                index += 3
                continue
            raw.extend(value[index + 1].encode())
            index += 2
            continue
        raw.extend(char.encode())
        index += 1
    return raw.decode("utf-8", errors="replace")


def split_dn(dn: str) -> tuple[str, str]:
    """('uid=alice', 'ou=People,dc=example,dc=com')."""
    parts = parse_dn(dn, escape=False)
    first = f"{parts[0][0]}={parts[0][1]}"
    parent = ",".join(f"{attr}={value}" for attr, value, _ in parts[1:])
    return first, parent


def generalized_time(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%d%H%M%SZ")


def iso_time(generalized: str | None) -> str | None:
    """'20261123125413Z' (or with .123Z) -> '2026-11-23T12:54:13Z'; None if it is no such time."""
    if not generalized:
        return None
    digits = generalized.rstrip("Z").split(".")[0][:14]
    if len(digits) != 14 or not digits.isdigit():
        return None
    try:  # ISO 8601's basic form; strptime costs several times as much (a lock, a locale check)
        moment = datetime.fromisoformat(f"{digits[:8]}T{digits[8:]}")
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
