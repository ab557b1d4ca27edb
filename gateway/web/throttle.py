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

The counting is `Throttle` plus `count_failed_login`; the storage is any `limits` storage
(`MemoryStorage` by default), so a shared store (Redis) changes where, not what.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter


class Throttle:
    def __init__(self, storage: Storage | None = None):
        self.limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    def hit(self, rate: str | None, *keys: str) -> int | None:
        """Count one event; the seconds to wait if it was one too many, else None."""
        if rate is None:
            return None
        item = parse(rate)
        if self.limiter.hit(item, *keys):
            return None
        return self._wait(item, keys)

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
