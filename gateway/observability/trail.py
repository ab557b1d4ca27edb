"""The audit trail: one JSON line for every change the gateway applied, or tried to apply, to a
directory or an API -- who, from where, what, and how it ended.

    {"audit": 1, "time": "2026-12-02T17:40:00.123Z", "tenant": "default", "credential": "entra",
     "client": "203.0.113.9", "request_id": "a94f...", "operation": "patch", "resource_type": "User",
     "id": "4f0c...", "name": "jdoe", "key": "uid=jdoe,ou=People,dc=example,dc=com",
     "changes": [{"attribute": "title", "op": "replace", "values": ["CTO"], "old": ["CEO"]}],
     "outcome": "applied"}

`outcome` is `applied`, `refused` (with `reason`: the directory or API said no, or could not be
reached, so nothing was written) or `unknown` (with `reason`: the request may or may not have
been applied, e.g. a timeout after it was sent; a backend says so by raising an error whose
`in_doubt` attribute is true). When the request still ends in a success (the service read the
write back and found it done), a second line with the same request id says `applied`, its
reason starting with `settled:`. `old` is given where the gateway read it anyway (the read before
a PATCH or PUT), never at the cost of an extra read. A reference (a member, a manager) shows
the SCIM id it points at (an old value read from the directory: its DN). Attributes the map marks `sensitive` (and
passwords) show `***` for every value.

A write the gateway makes on its own after the request's (a directory without referential
integrity: a renamed or deleted user's DN rewritten in the groups and managers that held it)
gets a line of its own, `"operation": "integrity"`, keyed by the entry written and naming the
`cause` (the key of the entry renamed or deleted).

`AuditedBackend` wraps any backend, so both backends are audited in this one place. A line is
written with one `write()` to a file opened for appending (or to stdout), before the answer is
sent: a worker killed after that loses nothing. A worker killed before it (SIGKILL, while the
directory has not answered) leaves the line in its journal of writes in flight, and its master
writes it, `unknown` (inflight.py). The file is reopened when it was moved or
removed, so logrotate needs no signal (deploy/logrotate).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.backends.base import Backend, BackendError, Update
from gateway.observability import context, metrics
from gateway.observability.inflight import JOURNAL, write_all
from gateway.observability.logs import utc_timestamp
from gateway.store import Change, Entry, Record, Ref

MASK = "***"
STDOUT = "stdout"
OPERATIONS = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
log = logging.getLogger(__name__)


class AuditTrail:
    """Where audit lines go: a file (appended to, one write per line) or stdout."""

    def __init__(self, destination: str = STDOUT):
        self.destination = destination
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file _fd writes to
        self._pid = 0
        self._lock = threading.Lock()

    def write(self, line: dict) -> None:
        """Append one line; if that fails, the line goes to the error log instead (never lost silently)."""
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        try:
            if self.destination == STDOUT:
                sys.stdout.write(text)
                sys.stdout.flush()
                return
            with self._lock:
                write_all(self._file(), text.encode("utf-8"))
        except OSError as error:
            metrics.AUDIT_FAILURES.inc()
            log.error("cannot write the audit trail to %s (%s); the line: %s", self.destination, error, text.strip())

    def _file(self) -> int:
        """The file's descriptor, opened again if it was rotated away, removed, or we forked."""
        try:
            found = os.stat(self.destination)
            identity = (found.st_dev, found.st_ino)
        except FileNotFoundError:
            identity = None
        if self._fd is not None and (identity != self._identity or self._pid != os.getpid()):
            self.close()
        if self._fd is None:
            self._fd = os.open(self.destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            found = os.fstat(self._fd)
            self._identity, self._pid = (found.st_dev, found.st_ino), os.getpid()
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


@dataclass(frozen=True)
class AuditedKind:
    """What the trail needs to know of one kind of object ("users", "groups")."""

    resource_type: str  # "User", "Group"
    name_attribute: str | None = None  # holds userName (Groups: displayName), lower case
    sensitive: frozenset[str] = frozenset()  # attributes whose values are masked, lower case


class AuditedBackend:
    """A backend whose every write leaves a line in the audit trail; reads pass straight through."""

    def __init__(self, backend: Backend, trail: AuditTrail, kinds: dict[str, AuditedKind]):
        self.backend = backend
        self.trail = trail
        self.kinds = kinds

    def __getattr__(self, name: str) -> Any:  # get, search, resolve, close, specs, pool, ...
        return getattr(self.backend, name)

    def create(self, kind: str, record: Record, attributes: list[str]) -> Entry:
        changes = [{"attribute": key, "op": "add", "values": values} for key, values in record.items() if values]
        name = _name(record, self.kinds[kind])
        shown = self._shown(kind, changes)
        with self._in_flight(kind, "create", shown, None, None, name):
            try:
                entry = self.backend.create(kind, record, attributes)
            except BaseException as error:
                self._record(
                    self._line(kind, "create", shown, None, getattr(error, "locator", None), name, error), error
                )
                raise
            self._record(self._line(kind, "create", shown, entry.id, entry.locator, name, None), None)
        return entry

    def modify(self, kind: str, update: Update, attributes: list[str] | None) -> Entry:
        before = update.before
        described = [_change(change, before) for change in update.changes]
        name = _name(update.after or {}, self.kinds[kind]) or _name(before.attributes, self.kinds[kind])
        shown = self._shown(kind, described)
        with self._in_flight(kind, "modify", shown, update.id, before.locator, name):
            try:
                after = self.backend.modify(kind, update, attributes)
            except BaseException as error:
                key = before.locator or getattr(error, "locator", None)
                self._record(self._line(kind, "modify", shown, update.id, key, name, error), error)
                raise
            name = name or _name(after.attributes, self.kinds[kind])  # a PATCH sent without a read (mapping/blind.py)
            moved = before.locator and after.locator and before.locator != after.locator
            extra = {"old_key": before.locator} if moved else {}
            key = after.locator or before.locator
            self._record(self._line(kind, "modify", shown, update.id, key, name, None, extra), None)
            self._follow_ups(key)
        return after

    def delete(self, kind: str, id: str) -> str:
        with self._in_flight(kind, "delete", [], id, None, None):
            try:
                removed = self.backend.delete(kind, id)
            except BaseException as error:
                self._record(self._line(kind, "delete", [], id, getattr(error, "locator", None), None, error), error)
                raise
            self._record(self._line(kind, "delete", [], id, removed, None, None), None)
            self._follow_ups(removed)
        return removed

    @contextmanager
    def _in_flight(
        self, kind: str, call: str, shown: list[dict], id: str | None, key: str | None, name: str | None
    ) -> Iterator[None]:
        """The block sends one write: the line it gets if the worker dies first (inflight.py)."""
        token = JOURNAL.begin(self._line(kind, call, shown, id, key, name, None), self.trail.destination)
        try:
            yield
        finally:
            JOURNAL.end(token)

    def _shown(self, kind: str, changes: list[dict]) -> list[dict]:
        """The changes as the trail shows them: attributes as the map spells them, values masked."""
        spec = self.backend.specs.get(kind)
        sensitive = self.kinds[kind].sensitive
        return [
            _masked(
                {**change, "attribute": spec.name(change["attribute"].lower()) if spec else change["attribute"]},
                sensitive,
            )
            for change in changes
        ]

    def _follow_ups(self, cause: str | None) -> None:
        """A line for each write the backend made on its own after this one (references to the
        renamed or deleted entry, integrity.py), each naming the entry that caused it."""
        serving = context.current()
        if serving is None:
            return
        done, serving.follow_ups = serving.follow_ups, []
        for kind, key, changes, refused in done:
            error = BackendError(refused) if refused else None
            extra = {"operation": "integrity", "cause": cause}
            line = self._line(kind, "integrity", self._shown(kind, changes), None, key, None, error, extra)
            self._record(line, error, primary=False)

    # --- the line ------------------------------------------------------------------------------

    def _record(self, line: dict, error: BaseException | None, primary: bool = True) -> None:
        """Write the line of one write (`_line`)."""
        self.trail.write(line)
        if primary:  # for the request's log line
            context.note(scim_id=line.get("id"), name=line.get("name"), locator=line.get("key"))
        serving = context.current()
        if serving is not None and getattr(error, "in_doubt", False):
            serving.unsettled.append((self.trail, line))

    def _line(
        self,
        kind: str,
        call: str,
        shown: list[dict],
        id: str | None,
        key: str | None,
        name: str | None,
        error: BaseException | None,
        extra: dict | None = None,
    ) -> dict:
        """The line of one write; `shown`: its changes as `_shown` gives them."""
        serving = context.current()
        line: dict[str, Any] = {
            "audit": 1,
            "time": utc_timestamp(time.time()),
            "tenant": serving.tenant if serving else None,
            "credential": serving.credential if serving else None,
            "client": serving.client if serving else None,
            "request_id": serving.request_id if serving else None,
            "operation": OPERATIONS.get(serving.method, call) if serving else call,
            "resource_type": self.kinds[kind].resource_type,
            "id": id,
            "name": name,
            "key": key or None,
            **(extra or {}),
            "changes": shown,
            **_outcome(error),
        }
        return {k: v for k, v in line.items() if v is not None}


def settle(serving: context.RequestContext, status: int) -> None:
    """After a write in doubt, the service reads back what it can (an add by its unique key, a
    modify by the entry): a successful answer means it found the write done. Say so in a second
    line, before that answer is sent; an answer that is not a success leaves the outcome unknown."""
    if not 200 <= status < 300:
        return
    for trail, line in serving.unsettled:
        trail.write(
            {
                **line,
                "time": utc_timestamp(time.time()),
                "id": line.get("id") or serving.scim_id,
                "outcome": "applied",
                "reason": "settled: the write had gone unanswered, and reading it back showed it done",
            }
        )
    serving.unsettled.clear()


def _outcome(error: BaseException | None) -> dict:
    if error is None:
        return {"outcome": "applied"}
    if getattr(error, "in_doubt", False) or not isinstance(error, BackendError):
        return {"outcome": "unknown", "reason": str(error) or type(error).__name__}
    return {"outcome": "refused", "reason": str(error)}


def _change(change: Change, before: Entry) -> dict:
    described: dict[str, Any] = {"attribute": change.attribute, "op": change.op, "values": list(change.values)}
    if change.op == "replace" and before.attributes:  # the read before a PATCH or PUT had every attribute
        described["old"] = list(before.attributes.get(change.attribute.lower(), []))
    return described


def _masked(change: dict, sensitive: frozenset[str]) -> dict:
    masked = change["attribute"].lower() in sensitive
    shown = dict(change)
    for side in ("values", "old"):
        if side in shown:
            shown[side] = [MASK if masked else _plain(value) for value in shown[side]]
    return shown


def _plain(value: Any) -> Any:
    if isinstance(value, Ref):  # a member or manager: its SCIM id, which survives renames (else its DN)
        return value.id or value.locator
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _name(record: Record, audited: AuditedKind) -> str | None:
    values: Iterable = record.get(audited.name_attribute or "", ()) if audited.name_attribute else ()
    for value in values:
        if isinstance(value, str):
            return value
    return None
