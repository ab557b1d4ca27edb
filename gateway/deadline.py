"""The time a request has left: set once by the web layer, read by every call downstream.

Entra gives up on a request after a while and retries it later; an answer after that is
wasted, and a thread that waits on a frozen directory is a thread no other request gets. So
each request gets one deadline (the settings' `request_timeout`), held in a context variable:
the LDAP connection pool and the REST transport give every call only the time that is left,
stop retrying when it is gone, and a request that runs out is answered 503 with Retry-After.

Outside a request (the CLI, a preview) there is no deadline and calls keep their own timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from gateway.backends.base import Unavailable

MINIMUM = 0.05  # seconds: a call given less than this is not worth sending
clock = time.monotonic  # replaced by tests that make time exact
_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)
# When the server saw the request (gateway/worker.py sets it; None: when the app got it).
ARRIVED: ContextVar[float | None] = ContextVar("arrived", default=None)


class OutOfTime(Unavailable):
    """The request's deadline passed before (or while) the downstream answered."""


@contextmanager
def within(seconds: float | None, since: float | None = None) -> Iterator[None]:
    """Everything in this block shares one deadline `seconds` from `since` (default: now;
    None seconds: no deadline)."""
    token = _deadline.set(None if seconds is None else (clock() if since is None else since) + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def at() -> float | None:
    """The deadline on the `clock` (time.monotonic), or None."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left (never below 0), or None when there is no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - clock())


def bounded(timeout: float, what: str = "the downstream system") -> float:
    """`timeout`, cut to the time left; OutOfTime when there is none left to spend on `what`."""
    left = remaining()
    if left is None:
        return timeout
    if left < MINIMUM:
        raise OutOfTime(f"the request ran out of time waiting for {what}")
    return min(timeout, left)
