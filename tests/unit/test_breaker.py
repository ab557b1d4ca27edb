"""The breaker in front of every backend, the request deadline and the watchdog, with exact time."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from gateway import deadline
from gateway.backends.base import Contended, NotFound, Unavailable
from gateway.backends.breaker import BackendDown, Breaker, Guarded
from gateway.backends.watchdog import Watchdog
from tests.unit.clock import Clock


class Flaky:
    """A backend whose `get` raises what it is told to."""

    def __init__(self):
        self.outcome: Exception | None = None
        self.calls = 0
        self.pool = "the pool"

    def get(self, kind, id, attributes):
        self.calls += 1
        if self.outcome is not None:
            raise self.outcome
        return "entry"


def _guarded() -> tuple[Guarded, Flaky, Clock]:
    clock = Clock()
    backend = Flaky()
    return Guarded(backend, Breaker("tenant t", threshold=3, probe_every=2.0, clock=clock)), backend, clock


def test_three_failures_in_a_row_mark_it_down_and_calls_are_refused_without_a_call():
    guarded, backend, _ = _guarded()
    backend.outcome = Unavailable("the directory did not answer")
    for _ in range(3):
        with pytest.raises(Unavailable):
            guarded.get("users", "1", [])
    with pytest.raises(BackendDown, match="tenant t is down"):
        guarded.get("users", "1", [])
    assert backend.calls == 3
    assert guarded.pool == "the pool"  # everything else passes through


def test_one_probe_at_a_time_and_its_success_marks_it_up():
    guarded, backend, clock = _guarded()
    backend.outcome = Unavailable("down")
    for _ in range(3):
        with pytest.raises(Unavailable):
            guarded.get("users", "1", [])
    clock.now += 2.0
    probe = guarded.breaker.admit()  # a probe in flight: nobody else gets through
    assert probe
    with pytest.raises(BackendDown):
        guarded.get("users", "1", [])
    guarded.breaker.failed(probe)  # the probe failed: down until the next one
    with pytest.raises(BackendDown):
        guarded.get("users", "1", [])
    clock.now += 2.0
    backend.outcome = None
    assert guarded.get("users", "1", []) == "entry"  # the probe answers: up
    assert guarded.get("users", "1", []) == "entry" and not guarded.breaker.down


def test_an_answer_that_is_a_refusal_shows_the_backend_alive():
    guarded, backend, _ = _guarded()
    backend.outcome = Unavailable("down")
    for _ in range(2):
        with pytest.raises(Unavailable):
            guarded.get("users", "1", [])
    backend.outcome = NotFound("no user")
    with pytest.raises(NotFound):
        guarded.get("users", "1", [])
    assert guarded.breaker.failures == 0


def test_the_deadline_cuts_every_timeout_and_is_gone_outside_the_request():
    assert deadline.remaining() is None and deadline.bounded(10) == 10
    with deadline.within(3):
        assert 0 < deadline.bounded(10) <= 3
        assert deadline.bounded(1) == 1
    with deadline.within(0), pytest.raises(deadline.OutOfTime, match="ran out of time waiting for the API"):
        deadline.bounded(10, "the API")
    assert deadline.remaining() is None


def test_the_watchdog_wakes_a_read_that_would_block_forever_and_leaves_alone_what_ended():
    watchdog = Watchdog()
    left, right = socket.socketpair()
    fired = []
    try:
        with watchdog.armed(time.monotonic() + 60, lambda: fired.append("late")):
            pass  # ended long before: never fires
        with watchdog.armed(time.monotonic() + 0.2, lambda: left.shutdown(socket.SHUT_RDWR)):
            assert left.recv(10) == b""  # returned, empty, because the socket was shut down
        done = threading.Event()
        with watchdog.armed(time.monotonic(), done.set):
            assert done.wait(5)
        assert fired == []
    finally:
        left.close()
        right.close()


def test_the_watchdog_fires_each_alarm_on_time_whatever_order_they_were_armed_in():
    """Arming wakes the thread only for an alarm due before the one it waits for: a later
    alarm must still fire when its time comes, an earlier one must not wait for the later."""
    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    watchdog.arm(now + 0.3, lambda: (fired.append("last"), done.set()))
    watchdog.arm(now + 0.2, lambda: fired.append("second"))
    called_off = watchdog.arm(now + 0.15, lambda: fired.append("called off"))
    watchdog.arm(now + 0.1, lambda: fired.append("first"))
    watchdog.cancel(called_off)
    assert done.wait(5)
    assert fired == ["first", "second", "last"]


def test_a_request_out_of_time_before_the_call_is_refused_without_counting_against_the_backend():
    guarded, backend, _ = _guarded()
    with deadline.within(0), pytest.raises(deadline.OutOfTime):
        guarded.get("users", "1", [])
    assert (backend.calls, guarded.breaker.failures) == (0, 0)


def test_a_record_that_kept_changing_shows_the_backend_alive():
    guarded, backend, _ = _guarded()
    backend.outcome = Contended("the record kept changing while the gateway wrote it (6 tries)")
    for _ in range(5):
        with pytest.raises(Contended):
            guarded.get("users", "1", [])
    assert guarded.breaker.failures == 0 and not guarded.breaker.down
