"""One thread per process that runs an action at a given time unless it was called off first.

A socket read has a timeout, but a directory that trickles a byte now and then, or an
operation of several reads, can outlast any one timeout. The LDAP connection pool and the REST
transport (rest/cutoff.py) arm the watchdog with the request's deadline and the action "shut
this socket down" (`shut_down`): whatever the directory or the API does, the blocked read
returns by then and the thread is free to answer 503. (The gunicorn worker does the same to a
client that trickles its request.)

It is armed and called off several times per request, nearly always long before its time, so
neither wakes the thread unless it must: arming does only when the new alarm is due before the
thread would wake anyway, and calling off only drops the alarm (and any other called-off ones
at the front of the queue, which keeps the queue about as long as the alarms still armed).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._alarms: list[list] = []  # heap of [when, sequence, action]; a called-off alarm's action is None
        self._condition = threading.Condition()
        self._sequence = itertools.count()
        self._pid = 0
        self._waking_at = float("inf")  # when the thread wakes by itself next (inf: not until told)

    @contextmanager
    def armed(self, when: float, action: Callable[[], None]) -> Iterator[None]:
        """Run `action` at `when` (on the clock) if the block has not ended by then."""
        alarm = self.arm(when, action)
        try:
            yield
        finally:
            self.cancel(alarm)

    def arm(self, when: float, action: Callable[[], None]) -> list:
        """Run `action` at `when` unless `cancel` is called with what this returns first."""
        alarm = [when, next(self._sequence), action]
        with self._condition:
            if self._pid != os.getpid():  # first use, or forked: the parent's thread is not ours
                self._alarms = []
                self._waking_at = float("inf")
                self._pid = os.getpid()
                threading.Thread(target=self._watch, name="deadline-watchdog", daemon=True).start()
            heapq.heappush(self._alarms, alarm)
            if when < self._waking_at:
                self._condition.notify()
        return alarm

    def cancel(self, alarm: list) -> None:
        with self._condition:
            alarm[2] = None
            while self._alarms and self._alarms[0][2] is None:
                heapq.heappop(self._alarms)

    def _watch(self) -> None:
        while True:
            with self._condition:
                while self._alarms and self._alarms[0][2] is None:
                    heapq.heappop(self._alarms)
                if not self._alarms:
                    self._waking_at = float("inf")
                    self._condition.wait()
                    continue
                self._waking_at = self._alarms[0][0]
                wait = self._waking_at - self.clock()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                action = heapq.heappop(self._alarms)[2]
            try:
                action()
            except Exception:  # an action must never stop the watchdog
                log.exception("a deadline action failed")


WATCHDOG = Watchdog()


class Shuttable(Protocol):
    """A socket, or what stands for one (libldap.py's handle on its descriptor)."""

    def shutdown(self, how: int, /) -> None: ...


def shut_down(sock: Shuttable) -> None:
    """The gateway's one alarm action: a thread blocked reading `sock` returns at once, empty
    (and one about to read finds it so). Never raises: the socket may be closed already."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
