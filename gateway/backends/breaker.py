"""Fail fast while a tenant's directory or API is down: one breaker in front of any backend.

After `threshold` calls in a row failed with Unavailable (timeouts, refused or dropped
connections, an API's 5xx), the backend is marked down: calls are refused at once with 503 and
Retry-After instead of each holding a thread until its timeout, and every `probe_every`
seconds one request (never two at a time) is let through as the probe. Its success marks the
backend up again; its failure keeps it down. A call that got any other answer (not found, a
refusal, a conflict) shows the backend is alive.

Per worker process, per tenant; nothing here waits, so /healthz and /metrics can read it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway import deadline
from gateway.backends.base import Contended, Unavailable

log = logging.getLogger(__name__)

THRESHOLD = 3  # failures in a row that mark a backend down
PROBE_EVERY = 2.0  # seconds between probes while it is down
CALLS = frozenset({"create", "get", "search", "modify", "delete", "resolve"})


class BackendDown(Unavailable):
    """Refused without a call: the backend is marked down and another request is probing it."""


class Breaker:
    def __init__(
        self,
        name: str,
        threshold: int = THRESHOLD,
        probe_every: float = PROBE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.threshold = threshold
        self.probe_every = probe_every
        self.clock = clock
        self.failures = 0  # in a row
        self._next_probe = 0.0
        self._probing = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.failures >= self.threshold

    def admit(self) -> bool:
        """Let a call through (True if it is the probe) or raise BackendDown at once."""
        with self._lock:
            if not self.down:
                return False
            if self._probing or self.clock() < self._next_probe:
                raise BackendDown(f"{self.name} is down ({self.failures} failures in a row)")
            self._probing = True
            return True

    def succeeded(self, probe: bool) -> None:
        with self._lock:
            if self.down:
                log.warning("%s answers again; marked up", self.name)
            self.failures = 0
            if probe:
                self._probing = False

    def failed(self, probe: bool) -> None:
        with self._lock:
            self.failures += 1
            if probe:
                self._probing = False
            if self.failures == self.threshold:
                log.error(
                    "%s marked down after %d failures in a row; probing every %gs",
                    self.name,
                    self.failures,
                    self.probe_every,
                )
            if self.down:
                self._next_probe = self.clock() + self.probe_every


class Guarded:
    """A backend behind a breaker: the same interface, each call admitted, its outcome counted."""

    def __init__(self, backend: Any, breaker: Breaker):
        self.backend = backend
        self.breaker = breaker

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.backend, name)
        if name not in CALLS:
            return found

        def call(*args, **kwargs):
            # A request that spent its time before this call (waiting for a thread) says nothing
            # about the backend: refused without counting.
            deadline.bounded(deadline.MINIMUM, "the directory or API")
            probe = self.breaker.admit()
            try:
                result = found(*args, **kwargs)
            except BackendDown:
                raise
            except Contended:
                self.breaker.succeeded(probe)  # it answered every try: alive, only busy
                raise
            except Unavailable:
                self.breaker.failed(probe)
                raise
            except Exception:
                self.breaker.succeeded(probe)  # an answer, even a refusal: the backend is alive
                raise
            self.breaker.succeeded(probe)
            return result

        return call
