"""/readyz's bookkeeping: a probe's answer is reused for a few seconds, a failing one says why."""

from __future__ import annotations

from gateway.backends.base import Unavailable
from gateway.checks import READY_CACHE, Readiness
from tests.unit.clock import Clock


def test_a_probe_is_asked_once_per_cache_period_and_its_problem_is_the_answer():
    clock, asked = Clock(), []

    def directory(timeout: float) -> None:
        asked.append(timeout)
        if len(asked) > 1:
            raise Unavailable("the directory cannot be reached")

    readiness = Readiness({"hr": directory, "lab": None}, clock=clock)
    assert readiness.status() == {"hr": None, "lab": None}
    assert readiness.status() == {"hr": None, "lab": None} and len(asked) == 1  # cached
    clock.now += READY_CACHE + 0.1
    assert readiness.status() == {"hr": "the directory cannot be reached", "lab": None}
    assert len(asked) == 2 and asked[0] <= 2.0  # a short timeout, whatever the tenant's own


def test_a_probe_that_breaks_unexpectedly_is_not_ready_not_a_crash():
    def broken(timeout: float) -> None:
        raise KeyError("x")

    assert Readiness({"hr": broken}).status() == {"hr": "the probe failed: KeyError"}
