"""Writes sent and not yet in the audit trail: what a killed worker leaves to its master to say.

The audit trail's line for a write is written when the directory or the API has answered. A
worker killed in between (SIGKILL: the OOM killer, `kill -9`) would leave a write in the
directory and no line. So before each write is sent, the worker appends its would-be line, with
the outcome `unknown`, to a journal of its own in the shared folder
(gateway/observability/multiprocess.py), `audit-<pid>.inflight`, and marks it done after the
real line is written. When the worker has exited, the master reads the journal (gunicorn's
`child_exit` hook), writes every line not marked done to the audit trail it was meant for, and
removes the journal; `serve` does the same at start for journals a killed master left behind.

A journal is emptied whenever none of its worker's writes is in flight, so it stays a few lines
long. Without the shared folder (one process: the development server, tests) there is no master
to tell, and no journal.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from pathlib import Path

from gateway.observability import multiprocess

log = logging.getLogger(__name__)
PATTERN = "audit-*.inflight"


def journal_path(folder: Path, pid: int) -> Path:
    return folder / f"audit-{pid}.inflight"


class Journal:
    """This process's writes in flight. `begin` before a write is sent, `end` once its line is written."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)
        self._open: set[int] = set()
        self._fd: int | None = None
        self._pid = 0

    def begin(self, line: dict, destination: str) -> int | None:
        """Note `line` (its outcome `unknown`) as what the trail at `destination` gets if this
        process dies before `end`. None when there is no shared folder."""
        text = json.dumps({"destination": destination, "line": line}, ensure_ascii=False, default=str)
        with self._lock:
            token = next(self._tokens)
            try:
                fd = self._file()
                if fd is None:
                    return None
                write_all(fd, f"B {token} {text}\n".encode())
            except OSError as error:
                log.warning("cannot note a write in flight (%s); a killed worker would leave it unsaid", error)
                return None
            self._open.add(token)
            return token

    def end(self, token: int | None) -> None:
        if token is None:
            return
        with self._lock:
            self._open.discard(token)
            try:
                fd = self._file()
                if fd is None:
                    return
                if self._open:
                    write_all(fd, f"E {token}\n".encode())
                else:
                    os.ftruncate(fd, 0)  # nothing in flight: start the journal afresh
            except OSError as error:
                log.warning("cannot mark a write in flight done (%s)", error)

    def _file(self) -> int | None:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        folder = multiprocess.shared_folder()
        if folder is None:
            return None
        self._open.clear()  # forked: the parent's writes are the parent's
        folder.mkdir(parents=True, exist_ok=True)
        path = journal_path(folder, os.getpid())
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._pid = os.getpid()
        return self._fd


JOURNAL = Journal()


def recover(path: Path, why: str) -> int:
    """Write the lines of `path`'s writes not marked done to their audit trails, with `why` as
    their reason, then remove it. The number of lines written."""
    from gateway.observability.trail import AuditTrail  # the trail uses the journal

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    begun: dict[str, dict] = {}
    for row in text.splitlines():
        mark, _, rest = row.partition(" ")
        token, _, noted = rest.partition(" ")
        if mark == "B":
            try:
                begun[token] = json.loads(noted)
            except ValueError:
                continue  # a line cut short by the kill: the write was not sent yet
        elif mark == "E":
            begun.pop(token, None)
    trails: dict[str, AuditTrail] = {}
    for entry in begun.values():
        destination = entry["destination"]
        trail = trails.setdefault(destination, AuditTrail(destination))
        trail.write({**entry["line"], "outcome": "unknown", "reason": why})
    for trail in trails.values():
        trail.close()
    try:
        path.unlink()
    except OSError:
        pass
    if begun:
        log.warning("%s: %d write(s) in flight, each now in the audit trail as unknown", why, len(begun))
    return len(begun)


def recover_exited(folder: Path, pid: int, why: str) -> None:
    recover(journal_path(folder, pid), why)


def recover_all(folder: Path, why: str) -> None:
    for path in sorted(folder.glob(PATTERN)):
        recover(path, why)


def write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]
