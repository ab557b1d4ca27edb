"""Rate limits, counted by the `limits` library (moving windows) in a store of the settings' choice.

Two counters per tenant: its requests (`limits.rate`, answered with 429 and Retry-After) and
failed logins per client address (`limits.failed_logins`), which stops password guessing
against Basic users and keeps a flood of bad credentials from eating the tenant's rate.

Where they are counted is `limits_storage` in the settings: `memory://` (the default) counts in
each worker process, so the gateway as a whole admits up to workers x replicas x rate, which is
right for one small host; a shared store (`redis://host:6379`, `redis+unix:///run/redis.sock`)
counts each limit once for every worker and replica. A shared store that does not answer
(within half a second) does not stop provisioning: the request is let through and logged.
"""

from __future__ import annotations

import logging
import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

STORE_TIMEOUT = 0.5  # seconds a shared store may take to answer before the request goes on without it
log = logging.getLogger(__name__)


class Throttle:
    def __init__(self, storage: str = "memory://"):
        options = (
            {}
            if storage.startswith("memory")
            else {"socket_timeout": STORE_TIMEOUT, "socket_connect_timeout": STORE_TIMEOUT}
        )
        self.storage = storage_from_string(storage, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
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
            self._unavailable(error)
            return None

    def exhausted(self, rate: str | None, *keys: str) -> int | None:
        """The seconds to wait if the counter is full already (counts nothing)."""
        if rate is None:
            return None
        item = parse(rate)
        try:
            return None if self.limiter.test(item, *keys) else self._wait(item, keys)
        except Exception as error:
            self._unavailable(error)
            return None

    def _wait(self, item, keys: tuple[str, ...]) -> int:
        reset = self.limiter.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _unavailable(self, error: Exception) -> None:
        if time.monotonic() - self._warned > 60:  # once a minute, not once a request
            self._warned = time.monotonic()
            log.error("the rate limit store does not answer (%s); requests are not counted", type(error).__name__)
