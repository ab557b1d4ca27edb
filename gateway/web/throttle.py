"""Rate limits: what is counted (here) apart from where the counters live (a `limits` storage).

Two kinds of counter per tenant:
- its requests (`limits.rate`), counted once a credential is accepted; over it, 429 with
  Retry-After. Each gunicorn worker counts for itself with the default in-memory storage, so
  the gateway as a whole admits up to workers x rate.
- failed logins (`limits.failed_logins`), counted twice per failure: against the client's
  address (after proxy resolution, see `trusted_proxies`) and against the credential it tried
  (a Basic user, an OAuth client, a token's fingerprint). Over either, a failed attempt is
  answered 429 with Retry-After instead of 401. A correct credential is checked and let in
  whatever these counters say: a flood of bad tokens from the address Entra shares (a proxy, a
  NAT) never locks Entra out, and nobody can lock a Basic user out by guessing its password.

The counting is `Throttle` plus `count_failed_login`; where the counters live is a moving
window per key, in this process (`LocalWindows`, the default) or in any `limits` storage, so a
shared store (Redis) changes where, not what.

Where is `limits_storage` in the settings (`storage_for`): `memory://` (the default) counts in
each worker process, which is right for one small host but admits workers x replicas x the
limit; a shared store (`redis://host:6379`, `redis+unix:///run/redis.sock`) counts each limit
once for every worker and replica. A shared store that does not answer (within half a second)
does not stop provisioning: the request is let through uncounted and the log says so.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem
from limits import parse as parse_rate
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

STORE_TIMEOUT = 0.5  # seconds a shared store may take to answer before the request goes on without it
SWEEP_SECONDS = 60.0  # how often LocalWindows forgets keys whose window has passed
log = logging.getLogger(__name__)


def storage_for(uri: str) -> Storage | None:
    """The `limits` storage a `limits_storage` URI names (validated with the settings); None for
    `memory://`, counted in this process (LocalWindows)."""
    if uri.startswith("memory"):
        return None
    storage = storage_from_string(uri, socket_timeout=STORE_TIMEOUT, socket_connect_timeout=STORE_TIMEOUT)
    assert isinstance(storage, Storage)  # the settings allow no async+ scheme
    return storage


class LocalWindows:
    """Moving windows counted in this process: at most `amount` hits per key in any window.

    What `limits`' MemoryStorage does, without its timer: it drops expired hits from a thread
    that it starts again whenever the last one has ended, 10 ms after it began. At Entra's pace
    nearly every request started a thread, 0.4-0.6 ms of CPU each (measured on a 2-core VM,
    where a whole request costs the gateway about 1.5 ms). Here a key's expired hits are dropped
    when it is next counted, and keys nobody counted for a window (a failed login's address)
    once a minute. The same two calls as `limits`' MovingWindowRateLimiter.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._hits: dict[tuple, deque[float]] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def hit(self, item: RateLimitItem, *keys: str) -> bool:
        """Count one hit; False (and not counted) if the window already holds `amount`."""
        now = self.clock()
        with self._lock:
            hits = self._recent(item, keys, now)
            if len(hits) >= item.amount:
                return False
            hits.append(now)
            return True

    def get_window_stats(self, item: RateLimitItem, *keys: str) -> WindowStats:
        """When (wall clock) the oldest hit in the window leaves it, and the hits left."""
        now = self.clock()
        with self._lock:
            hits = self._recent(item, keys, now)
            leaves = hits[0] + item.get_expiry() - now if hits else 0.0
            return WindowStats(time.time() + leaves, max(0, item.amount - len(hits)))

    def _recent(self, item: RateLimitItem, keys: tuple[str, ...], now: float) -> deque[float]:
        if now - self._swept > SWEEP_SECONDS:
            self._swept = now
            for stale in [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - key[1]]:
                del self._hits[stale]
        window = item.get_expiry()
        hits = self._hits.setdefault((item.amount, window, *keys), deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits


@lru_cache(maxsize=64)
def parse(rate: str) -> RateLimitItem:
    """`50/second` as a `limits` item: the settings' few rates, parsed once."""
    return parse_rate(rate)


class Throttle:
    def __init__(self, storage: Storage | None = None):
        self.limiter = LocalWindows() if storage is None else MovingWindowRateLimiter(storage)
        self._warned = 0.0

    def hit(self, rate: str | None, *keys: str) -> int | None:
        """Count one event; the seconds to wait if it was one too many, else None."""
        if rate is None:
            return None
        item = parse(rate)
        try:
            if self.limiter.hit(item, *keys):
                return None
            return self._wait(item, keys)
        except Exception as error:  # the store is down: count nothing rather than refuse everyone
            if time.monotonic() - self._warned > 60:  # once a minute, not once a request
                self._warned = time.monotonic()
                log.error("the rate limit store does not answer (%s); requests are not counted", type(error).__name__)
            return None

    def _wait(self, item, keys: tuple[str, ...]) -> int:
        reset = self.limiter.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))


@dataclass(frozen=True)
class OverLimit:
    """A failed login one too many: what was over its limit (for the log and the answer), and the wait."""

    what: str
    wait: int


def count_failed_login(
    throttle: Throttle, rate: str | None, tenant: str, address: str, attempted: str
) -> OverLimit | None:
    """Count one failed login against the client's address and the credential it tried."""
    over = None
    for what, key in ((f"from {address}", f"address:{address}"), (f"for {attempted}", f"credential:{attempted}")):
        wait = throttle.hit(rate, "failed", tenant, key)
        if wait is not None and over is None:
            over = OverLimit(what, wait)
    return over
