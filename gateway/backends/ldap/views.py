"""The sorted lists a worker keeps between requests, so the next page of a listing costs a page.

OpenLDAP builds the sorted list of a VLV search (vlv.py) in memory and keeps it on the
connection: the list's context ID lets the next request read another window of the same list
without sorting again (a fresh sort of 100,000 entries costs slapd about a quarter of a second;
a window of a kept list, a few milliseconds). sssvlv frees a list only when its connection
closes, so each list this worker keeps lives on a connection of its own (`Views`), for
`keep_seconds` at most (the `ldap:` block's `keep_sorted_lists`). AD (Samba measured) keeps its
lists too; 389 DS answers no context ID and sorts afresh each time.

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

from gateway.backends.ldap.marks import ENTRIES, VALUES, Marks
from gateway.backends.ldap.settings import KEEP_SORTED_LISTS
from gateway.backends.ldap.vlv import Refused, Search, Window, read_window

log = logging.getLogger(__name__)

KEEP_SECONDS = KEEP_SORTED_LISTS  # the setting's default
KEPT_VIEWS = 2  # per worker; OpenLDAP's sssvlv allows olcSssVlvMax sorted lists at once, in all
KEPT_TAIL = 1000  # new entries kept as a list's tail; past that a fresh sort costs less


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
