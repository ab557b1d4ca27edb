"""Pages that cost a page: the directory sorts (RFC 2891) and positions (Virtual List View,
draft-ietf-ldapext-ldapv3-vlv-09), and counts with VLV's contentCount.

Without it, a SCIM page at `startIndex=50000` or a `totalResults` reads every DN of the subtree
(paging.py): seconds at 100,000 users. With it, the directory answers with the window and the
count. OpenLDAP needs the sssvlv overlay; 389 DS and AD have both controls built in. Whether the
directory offers them is read from the rootDSE (`supportedControl`); without them, or when the
directory refuses a sorted search, paging.py's way is used.

OpenLDAP builds the sorted list of a VLV search in memory and keeps it on the connection: the
list's context ID lets the next request read another window of the same list without sorting
again (a fresh sort of 100,000 entries costs slapd about a quarter of a second; a window of a
kept list, a few milliseconds). sssvlv frees a list only when its connection closes, so each
list this worker keeps lives on a connection of its own (`Views`), for `keep_seconds` at most.
AD (Samba measured) keeps its lists too; 389 DS answers no context ID and sorts afresh each time.

A kept list is a snapshot: entries added since are not in it, entries deleted since leave a
gap (the window skips them) and its count stays. This worker's own writes are kept track of
instead of sorting again (a provisioning cycle writes all the time):
- a new entry sorts last in a list sorted by creation, so it is kept as the list's tail (its
  entries are read by id when a page reaches them) and counted;
- a deleted entry of that tail simply leaves it; any other delete drops the list (whether the
  entry is in the sorted list cannot be told: another worker may have made it after the sort);
- any other change that could move an entry into or out of a filtered list, or rename one,
  drops the list.
This holds only for lists whose sort ended before the write began (else the entry may already
be in it): any other list is dropped. The other workers of the gateway tell of their writes
(marks.py): a list is not reused after one of them created, deleted or renamed an entry (a
filtered list: after any write of theirs). A listing is thus exact for the gateway's own writes
and a snapshot, at most `keep_seconds` old, of what other replicas and tools did (a total may be
off by those changes until then).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.core.results import RESULT_CODES
from ldap3.protocol.controls import build_control
from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

from gateway.backends.ldap import results
from gateway.backends.ldap.capabilities import SORT, UNKNOWN, VLV, Capabilities
from gateway.backends.ldap.compose import all_filters
from gateway.backends.ldap.controls import kept
from gateway.backends.ldap.marks import ENTRIES, VALUES, Marks
from gateway.backends.ldap.settings import KEEP_SORTED_LISTS
from gateway.backends.ldap.target import LdapSpec

log = logging.getLogger(__name__)

VLV_RESPONSE = "2.16.840.1.113730.3.4.10"
BUSY = 51
VLV_ERROR = 76
KEEP_SECONDS = KEEP_SORTED_LISTS  # the setting's default
KEPT_VIEWS = 2  # per worker; OpenLDAP's sssvlv allows olcSssVlvMax sorted lists at once, in all
KEPT_TAIL = 1000  # new entries kept as a list's tail; past that a fresh sort costs less
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


@dataclass
class _View:
    connection: ldap3.Connection
    opened: float
    asked: int = 0  # on the marks' clock, before the list was asked for (its sort began after)
    context: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    sorted: float | None = None  # when the directory's first answer (its sort) came back
    count: int | None = None  # the sorted list's own count, as the directory gave it
    tail: list[str] = field(default_factory=list)  # ids this worker created since, in order

    def extends(self, search: Search, since: float) -> bool:
        """Can this worker's write begun at `since` be kept track of rather than sorted again?
        Only on a list the directory keeps (a context ID), sorted before the write began, of
        every entry of its kind."""
        return bool(self.context) and self.sorted is not None and self.sorted < since and not search.filtered


class Views:
    """The sorted lists this worker keeps, one connection each (see the module docstring).

    `open_connection` opens and binds a connection outside the request pool; `close_connection`
    unbinds it (which is what makes the directory free the list). `marks`: how this worker and
    the others tell each other of their writes (None: a process alone)."""

    def __init__(
        self,
        open_connection: Callable[[], ldap3.Connection],
        close_connection: Callable[[ldap3.Connection], None],
        bound: Callable[[ldap3.Connection], AbstractContextManager[None]] = lambda connection: nullcontext(),
        keep_seconds: float = KEEP_SECONDS,
        kept: int = KEPT_VIEWS,
        clock: Callable[[], float] = time.monotonic,
        marks: Marks | None = None,
    ):
        self._open = open_connection
        self._close = close_connection
        self._bound = bound  # the request's deadline on a kept connection's reads
        self.keep_seconds = keep_seconds
        self.kept = kept
        self.clock = clock
        self.marks = marks
        self._views: OrderedDict[Search, _View] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def window(self, search: Search, start: int, count: int, attributes: list[str]) -> Window:
        """Entries start..start+count-1 of the sorted search, and how many there are in all."""
        for attempt in (1, 2):
            view, kept = self._take(search)
            try:
                with view.lock, self._bound(view.connection):
                    window = self._read(view, search, start, count, attributes)
            except LDAPException as error:
                self._drop(search, view)
                if kept and attempt == 1:
                    continue  # the directory closed the idle kept connection: sort afresh
                raise Refused(type(error).__name__) from None  # paged search, with the pool's retry
            except Exception:
                self._drop(search, view)  # refused, or a connection in an unknown state: not kept
                raise
            if self.keep_seconds <= 0:
                self._drop(search, view)  # never reused: its connection is not kept idle either
            return window
        raise AssertionError("unreachable")

    def _take(self, search: Search) -> tuple[_View, bool]:
        """The kept view of this search (True), or a new one on a new connection (False)."""
        with self._lock:
            if os.getpid() != self._pid:  # forked: the parent's connections are not ours
                self._views.clear()
                self._pid = os.getpid()
            view = self._views.get(search)
            fresh = view is not None and self.clock() - view.opened <= self.keep_seconds
            if view is not None and fresh and not self._others_wrote(search, view):
                self._views.move_to_end(search)
                return view, True
            stale = [self._views.pop(search)] if view is not None else []
            while len(self._views) >= self.kept:
                stale.append(self._views.popitem(last=False)[1])
        for old in stale:
            self._close_quietly(old)
        asked = self.marks.clock() if self.marks else 0
        view = _View(self._open(), self.clock(), asked)
        with self._lock:
            self._views[search] = view
        return view, False

    def _others_wrote(self, search: Search, view: _View) -> bool:
        """Did another worker write, since `view` was asked for, what could change its list?"""
        return self.marks is not None and self.marks.since(view.asked, VALUES if search.filtered else ENTRIES)

    def _read(self, view: _View, search: Search, start: int, count: int, attributes: list[str]) -> Window:
        with self._lock:
            tail = list(view.tail)
        if view.context and view.count is not None and start > view.count:
            entries = []  # in the tail, or past the end: the sorted list has nothing there
        else:
            window, context = read_window(view.connection, search, start, count, attributes, view.context)
            if view.sorted is None:
                view.sorted, view.count = self.clock(), window.total
            view.context = context or view.context
            if not view.context:
                return window  # sorted afresh each time (389 DS): nothing to add or take away
            entries = window.entries
        assert view.count is not None
        before = max(start - 1 - view.count, 0)  # tail entries before the window
        wanted = max(start + count - 1 - view.count, 0) - before
        return Window(view.count + len(tail), entries, tail[before : before + wanted])

    def created(self, kind: str, id: str, since: float) -> None:
        """This worker created entry `id` of `kind` in a write begun at `since`: the lists of
        its kind it extends keep it as their tail, the others are dropped."""

        def add_to_tail(view: _View) -> bool:
            view.tail.append(id)
            return bool(id) and len(view.tail) <= KEPT_TAIL

        self._changed(kind, since, add_to_tail)

    def deleted(self, kind: str, id: str, since: float) -> None:
        """This worker deleted entry `id` of `kind` in a write begun at `since`: one of a list's
        own tail simply leaves it; any other list is dropped. Whether the entry is in the sorted
        list cannot be told (another worker may have created it after the sort): counting it out
        regardless made a total one too low, even -1 (found by hand on Samba AD)."""

        def take_from_tail(view: _View) -> bool:
            folded = [t.lower() for t in view.tail]
            if id.lower() not in folded:
                return False
            del view.tail[folded.index(id.lower())]
            return True

        self._changed(kind, since, take_from_tail)

    def _changed(self, kind: str, since: float, keep: Callable[[_View], bool]) -> None:
        """Lists of `kind` that `extends` a write are kept if `keep` (which notes the write)
        says so, its other lists dropped; of other kinds, the filtered ones (a membership may
        have changed with it)."""
        with self._lock:
            stale = []
            for search, view in self._views.items():
                if search.kind == kind:
                    if not (view.extends(search, since) and keep(view)):
                        stale.append(search)
                elif search.filtered:
                    stale.append(search)
            views = [self._views.pop(search) for search in stale]
        for view in views:
            self._close_quietly(view)
        self._tell(ENTRIES, VALUES)

    def forget(self, filtered_only: bool = False) -> None:
        """This worker changed entries: its kept lists are out of date (a user's change may
        change a group's list through memberOf, and the other way round). A change of values
        that neither adds, removes nor renames an entry leaves the lists of every entry of a
        kind right (their order is by creation, their values are read when a page is sent):
        `filtered_only` keeps those. The other workers are told (marks.py)."""
        with self._lock:
            stale = [search for search in self._views if search.filtered or not filtered_only]
            views = [self._views.pop(search) for search in stale]
        for view in views:
            self._close_quietly(view)
        self._tell(*((VALUES,) if filtered_only else (ENTRIES, VALUES)))

    def _tell(self, *events: str) -> None:
        if self.marks is not None:
            self.marks.wrote(events)

    def _drop(self, search: Search, view: _View) -> None:
        with self._lock:
            if self._views.get(search) is view:
                del self._views[search]
        self._close_quietly(view)

    def _close_quietly(self, view: _View) -> None:
        with view.lock:
            try:
                self._close(view.connection)
            except Exception:
                log.debug("closing a sorted list's connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            views, self._views = list(self._views.values()), OrderedDict()
            forked = os.getpid() != self._pid
        if not forked:
            for view in views:
                self._close_quietly(view)


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
