"""Write marks: how the workers of one gateway tell each other that they changed a directory, so
that none reuses a sorted list it keeps (views.py) after another changed what the list holds.

A kept list is exact for its own worker's writes (views.Views keeps track of them), but gunicorn
runs several workers, and each keeps lists of its own: a user created through one worker was
missing from another's listings, and its totals, for up to views.KEEP_SECONDS (seen by hand on
Samba AD with two workers: totals of 2, 0 and 0 as the requests went from worker to worker).

So each worker owns two empty files per directory in the folder every process of the gateway
shares (gateway/observability/multiprocess.py), and sets their modification time after each write it
made there, before the write is answered:
- `<owner>.<directory>.entries` when it created, deleted or renamed an entry: the lists of every
  entry of a kind are no longer whole;
- `<owner>.<directory>.values` after any write: a filtered list may have gained or lost one.
A worker about to reuse a kept list reads the folder (one directory read, a stat per file): a
file of another worker stamped at or after the moment the list was asked for means the list may
miss that write, and it is sorted afresh. A write applied after the directory sorted the list
is stamped after the list was asked for, so none is missed; some are counted that the list
already holds (a fresh sort too many, never a change too few).

The stamps are CLOCK_MONOTONIC, one clock for every process of the host: a step of the wall
clock cannot hide a write. The files are a worker's alone (`<pid>-<n>`: each backend, as a
reload builds new ones). When it exits, the master renames them `exited-<n>` and stamps them
with that moment: a worker killed in the middle of a write may have done it, and told no one.
Without the shared folder (one process: the
development server, tests) there is no one to tell. Other replicas (Kubernetes) and other tools
that write to the directory are not told: their changes show when a list is next sorted.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from gateway.observability import multiprocess

log = logging.getLogger(__name__)

ENTRIES = "entries"  # an entry was created, deleted or renamed
VALUES = "values"  # any write

_backends = itertools.count(1)


class Marks:
    """This worker's marks on one directory (`directory`: its host name), and a look at the others'."""

    def __init__(self, folder: Path, directory: str, clock: Callable[[], int] = time.monotonic_ns):
        self.folder = folder
        self.clock = clock
        self._directory = hashlib.blake2s(directory.lower().encode(), digest_size=6).hexdigest()
        self._backend = next(_backends)
        self._warned = False

    @classmethod
    def of_this_gateway(cls, directory: str) -> Marks | None:
        """Marks in the folder this gateway's processes share; None when there is none."""
        folder = multiprocess.shared_folder()
        return cls(folder, directory) if folder is not None else None

    def _owner(self) -> str:
        return f"{os.getpid()}-{self._backend}"  # the pid at the time: a backend made before a fork

    def wrote(self, events: Iterable[str]) -> None:
        """Tell the other workers: this one just wrote to the directory (ENTRIES, VALUES)."""
        now = self.clock()
        for event in events:
            path = self.folder / f"{self._owner()}.{self._directory}.{event}"
            try:
                try:
                    os.utime(path, ns=(now, now))
                except FileNotFoundError:  # this worker's first write of its kind
                    self.folder.mkdir(parents=True, exist_ok=True)
                    path.touch()
                    os.utime(path, ns=(now, now))
            except OSError as error:
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "cannot mark a write in %s (%s): other workers' kept listings may miss it until they sort again",
                        self.folder,
                        error.strerror or error,
                    )

    def since(self, stamp: int, event: str) -> bool:
        """Did another worker write to this directory (`event`) at or after `stamp`?"""
        own = self._owner() + "."
        suffix = f".{self._directory}.{event}"
        try:
            with os.scandir(self.folder) as files:
                for file in files:
                    if not file.name.endswith(suffix) or file.name.startswith(own):
                        continue
                    try:
                        if file.stat().st_mtime_ns >= stamp:
                            return True
                    except FileNotFoundError:
                        continue  # its worker exited
        except FileNotFoundError:
            return False  # no worker has written yet
        except OSError:
            return True  # cannot tell: sort afresh
        return False
