"""Rate limits, counted by the `limits` library (moving windows, in this process's memory).

Two counters per tenant: its requests (`limits.rate`, answered with 429 and Retry-After) and
failed logins per client address (`limits.failed_logins`), which stops password guessing
against Basic users and keeps a flood of bad credentials from eating the tenant's rate. Each
gunicorn worker counts for itself, so the gateway as a whole admits up to workers x rate.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class Throttle:
    def __init__(self):
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, rate: str | None, *keys: str) -> int | None:
        """Count one event; the seconds to wait if it was one too many, else None."""
        if rate is None:
            return None
        item = parse(rate)
        if self.limiter.hit(item, *keys):
            return None
        return self._wait(item, keys)

    def exhausted(self, rate: str | None, *keys: str) -> int | None:
        """The seconds to wait if the counter is full already (counts nothing)."""
        if rate is None:
            return None
        item = parse(rate)
        return None if self.limiter.test(item, *keys) else self._wait(item, keys)

    def _wait(self, item, keys: tuple[str, ...]) -> int:
        reset = self.limiter.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))
