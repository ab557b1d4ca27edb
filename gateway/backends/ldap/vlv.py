"""Pages that cost a page: the directory sorts (RFC 2891) and positions (Virtual List View,
draft-ietf-ldapext-ldapv3-vlv-09), and counts with VLV's contentCount.

Without it, a SCIM page at `startIndex=50000` or a `totalResults` reads every DN of the subtree
(paging.py): seconds at 100,000 users. With it, the directory answers with the window and the
count. OpenLDAP needs the sssvlv overlay; 389 DS and AD have both controls built in. Whether the
directory offers them is read from the rootDSE (`supportedControl`); without them, or when the
directory refuses a sorted search, paging.py's way is used.

This module speaks the two controls (their BER, one sorted search: `read_window`) and says what
keeps a directory from sorting (`problems`); views.py keeps the sorted lists between requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import ldap3
from ldap3.core.results import RESULT_CODES
from ldap3.protocol.controls import build_control
from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

from gateway.backends.ldap import results
from gateway.backends.ldap.capabilities import SORT, UNKNOWN, VLV, Capabilities
from gateway.backends.ldap.compose import all_filters
from gateway.backends.ldap.controls import kept
from gateway.backends.ldap.target import LdapSpec

log = logging.getLogger(__name__)

VLV_RESPONSE = "2.16.840.1.113730.3.4.10"
BUSY = 51
VLV_ERROR = 76
OUT_OF_RANGE = 61  # the VLV result when the offset is past the end of the list

# ldap3 2.9 knows no result code 76 (virtualListViewError, the draft's) and fails decoding a
# response that carries it with a KeyError: teach its table the name once.
RESULT_CODES.setdefault(VLV_ERROR, "virtualListViewError")


def _context(number: int, constructed: bool = False):
    return tag.Tag(tag.tagClassContext, tag.tagFormatConstructed if constructed else tag.tagFormatSimple, number)


class _SortKey(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attributeType", univ.OctetString()),
        namedtype.OptionalNamedType("orderingRule", univ.OctetString().subtype(implicitTag=_context(0))),
        namedtype.DefaultedNamedType("reverseOrder", univ.Boolean(False).subtype(implicitTag=_context(1))),
    )


class _SortKeyList(univ.SequenceOf):
    componentType = _SortKey()


class _ByOffset(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("offset", univ.Integer()), namedtype.NamedType("contentCount", univ.Integer())
    )


class _Target(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("byOffset", _ByOffset().subtype(implicitTag=_context(0, constructed=True))),
        namedtype.NamedType("greaterThanOrEqual", univ.OctetString().subtype(implicitTag=_context(1))),
    )


class _VlvRequest(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("beforeCount", univ.Integer()),
        namedtype.NamedType("afterCount", univ.Integer()),
        namedtype.NamedType("target", _Target()),
        namedtype.OptionalNamedType("contextID", univ.OctetString()),
    )


class _VlvResponse(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("targetPosition", univ.Integer()),
        namedtype.NamedType("contentCount", univ.Integer()),
        namedtype.NamedType("virtualListViewResult", univ.Enumerated()),
        namedtype.OptionalNamedType("contextID", univ.OctetString()),
    )


def sort_control(*attributes: str):
    """Sort by the first attribute, equal values by the next."""
    keys = _SortKeyList()
    for position, attribute in enumerate(attributes):
        key = _SortKey()
        key["attributeType"] = attribute
        keys.setComponentByPosition(position, key)
    return kept(build_control(SORT, True, keys))


def vlv_control(offset: int, after: int, context: bytes | None = None):
    """The window [offset, offset + after] of the sorted list (1-based; contentCount 0: the server's)."""
    request = _VlvRequest()
    request["beforeCount"] = 0
    request["afterCount"] = after
    target = _Target()
    by_offset = target.getComponentByName("byOffset")
    by_offset["offset"] = offset
    by_offset["contentCount"] = 0
    request["target"] = target
    if context:
        request["contextID"] = context
    return kept(build_control(VLV, True, request))


@dataclass(frozen=True)
class VlvAnswer:
    content_count: int
    result: int  # the VLV result code (0 success, 61 offset out of range, ...)
    context: bytes | None


def vlv_answer(connection: ldap3.Connection) -> VlvAnswer | None:
    control = ((connection.result or {}).get("controls") or {}).get(VLV_RESPONSE)
    if not control or not isinstance(control.get("value"), bytes):
        return None
    try:
        decoded = decoder.decode(control["value"], asn1Spec=_VlvResponse())[0]
    except PyAsn1Error:
        return None
    context = decoded["contextID"].asOctets() if decoded["contextID"].isValue else None
    return VlvAnswer(int(decoded["contentCount"]), int(decoded["virtualListViewResult"]), context)


def offered(connection: ldap3.Connection) -> bool:
    """Does the directory list both the sort and the VLV control in its rootDSE?"""
    connection.search("", "(objectClass=*)", ldap3.BASE, attributes=["supportedControl"])
    if results.code(connection) != 0:
        return False
    found = results.entries(connection)
    controls = (found[0]["attributes"].get("supportedControl") or []) if found else []
    return SORT in controls and VLV in controls


class Refused(Exception):
    """The directory would not sort this search (busy, no ordering rule, limits): use paging."""


@dataclass(frozen=True)
class Window:
    total: int
    entries: list[dict]
    tail: list[str] = field(default_factory=list)  # ids of new entries that follow `entries`, in order


@dataclass(frozen=True)
class Search:
    kind: str
    base: str
    scope: str
    filter: str
    sort_key: str
    filtered: bool = True  # False: every entry of the kind (the list a changed value cannot change)
    by_creation: bool = False  # sorted by the creation time: a new entry sorts last
    tie_break: str | None = None  # the second sort key, for equal values of the first

    @property
    def sort_keys(self) -> tuple[str, ...]:
        return (self.sort_key, self.tie_break) if self.tie_break else (self.sort_key,)


def listing(spec: LdapSpec, search_filter: str | None = None, capabilities: Capabilities = UNKNOWN) -> Search:
    """A listing of `spec`'s entries (matching `search_filter`; default: all of them), sorted by
    creation (by id where the map names no `created:` attribute), equal creation times by id
    where the directory would order them differently from one sort to the next."""
    target = spec.target
    every = all_filters(target.scope_filter)
    search_filter = search_filter or every
    created = spec.created_attribute
    sort_key = created or spec.id_attribute
    tie_break = spec.id_attribute if created and capabilities.unstable_sort else None
    return Search(
        spec.kind, target.base, target.scope, search_filter, sort_key, search_filter != every, bool(created), tie_break
    )


def read_window(
    connection: ldap3.Connection,
    search: Search,
    start: int,
    count: int,
    attributes: list[str],
    context: bytes | None = None,
) -> tuple[Window, bytes | None]:
    """One sorted VLV search: the window, the count, and the list's context ID for the next one.
    Refused when the directory will not sort it (busy, no ordering rule, limits)."""
    connection.search(
        search.base,
        search.filter,
        ldap3.LEVEL if search.scope == "one" else ldap3.SUBTREE,
        attributes=attributes if count > 0 else ["1.1"],
        controls=[sort_control(*search.sort_keys), vlv_control(start, max(count - 1, 0), context)],
    )
    answer = vlv_answer(connection)
    code = results.code(connection)
    if code == results.NO_SUCH_OBJECT:
        results.check(connection, base=search.base)  # the map's base is missing: the operator's to fix
    if answer is None or code not in (0, VLV_ERROR) or (code == VLV_ERROR and answer.result != OUT_OF_RANGE):
        detail = (connection.result or {}).get("description") or code
        if code != BUSY:
            log.warning(
                "the directory would not sort %s (%s); listing them by paged search (scim-gateway check says why)",
                search.kind,
                detail,
            )
        raise Refused(str(detail))
    if code == VLV_ERROR or count == 0:  # VLV_ERROR here: start is past the end of the list
        return Window(answer.content_count, []), answer.context
    return Window(answer.content_count, results.entries(connection)), answer.context


def problems(connection: ldap3.Connection, searches: list[Search]) -> list[str]:
    """What keeps listings from costing a page, one line each, for an online check of a tenant:
    the directory offers no sorting and VLV, or will not sort a kind by its key. None of it is
    an error (listings still work, reading every DN below the base). The sorted lists it makes
    stay on `connection` until the caller closes it."""
    if not offered(connection):
        return [
            "the directory lists no server-side sorting and VLV in its rootDSE: every page and total of a"
            " listing reads every DN below the base (OpenLDAP: load the sssvlv overlay; README, 'Large directories')"
        ]
    found = []
    for search in searches:
        try:
            read_window(connection, search, 1, 0, [])
        except Refused as refusal:
            found.append(
                f"{search.kind}: the directory will not sort by {', '.join(search.sort_keys)} ({refusal}), so listings read"
                " every DN below the base; the map's `created:` attribute needs an ordering rule"
            )
    return found
