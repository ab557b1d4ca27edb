"""The in-process rate-limit windows (gateway/web/throttle.py LocalWindows), on a fake clock."""

from __future__ import annotations

import threading
import time

from limits import parse

from gateway.web.throttle import SWEEP_SECONDS, LocalWindows, Throttle
from tests.unit.clock import Clock


def test_at_most_the_rate_in_any_window():
    """Hit for hit, the moving window's rule, over a run of bursts and pauses."""
    clock = Clock()
    windows = LocalWindows(clock)
    item = parse("5/second")
    pattern = [0.0] * 7 + [0.3] * 4 + [0.5] + [0.0] * 3 + [1.1] + [0.0] * 6 + [0.25] * 8
    answers = []
    for pause in pattern:
        clock.now += pause
        answers.append(windows.hit(item, "rate", "t"))
    assert answers[:7] == [True] * 5 + [False] * 2
    assert answers == _moving_window(pattern, 5, 1.0)
    assert answers.count(False) == 10  # 2 at once, 3 in the next second, 2 after the gap, 3 at the end


def _moving_window(pauses: list[float], amount: int, window: float) -> list[bool]:
    """The rule itself, written out: a hit counts if fewer than `amount` counted hits are
    younger than `window`."""
    now, counted, answers = 0.0, [], []
    for pause in pauses:
        now += pause
        recent = [t for t in counted if t > now - window]
        answers.append(len(recent) < amount)
        if answers[-1]:
            counted.append(now)
    return answers


def test_keys_and_rates_are_counted_apart():
    clock = Clock()
    windows = LocalWindows(clock)
    per_second, per_minute = parse("2/second"), parse("3/minute")
    assert [windows.hit(per_second, "rate", "a") for _ in range(3)] == [True, True, False]
    assert windows.hit(per_second, "rate", "b")
    assert [windows.hit(per_minute, "rate", "a") for _ in range(4)] == [True, True, True, False]


def test_the_wait_is_until_the_oldest_hit_leaves_the_window():
    clock = Clock()
    windows = LocalWindows(clock)
    item = parse("2/minute")
    windows.hit(item, "failed", "t", "address:1")
    clock.now += 20
    windows.hit(item, "failed", "t", "address:1")
    assert not windows.hit(item, "failed", "t", "address:1")
    stats = windows.get_window_stats(item, "failed", "t", "address:1")
    assert stats.remaining == 0
    assert 39 <= stats.reset_time - time.time() <= 41  # the first hit leaves 40 s from now
    throttle = Throttle()
    throttle.limiter = windows
    assert throttle.hit("2/minute", "failed", "t", "address:1") == 40


def test_keys_whose_window_passed_are_forgotten_and_no_thread_is_started():
    """A flood of failed logins from many addresses leaves nothing behind once their windows
    pass; counting never starts a thread (limits' MemoryStorage started one per 10 ms)."""
    clock = Clock()
    windows = LocalWindows(clock)
    item = parse("10/minute")
    threads = threading.active_count()
    for address in range(1000):
        windows.hit(item, "failed", "t", f"address:10.0.{address // 256}.{address % 256}")
    assert threading.active_count() == threads
    assert len(windows._hits) == 1000
    clock.now += SWEEP_SECONDS + 1
    windows.hit(item, "rate", "t")
    assert list(windows._hits) == [(10, 60, "rate", "t")]
