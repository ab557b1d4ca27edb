"""A real reference HR API frozen (SIGSTOP) and killed under concurrent requests."""

from __future__ import annotations

import time

from tests.faults.conftest import BOUND, frozen
from tests.faults.scenario import check_data, run_clients


def test_a_frozen_api_answers_within_the_deadline_and_loses_nothing(own_hr_api, rest_gateway):
    def freeze():
        with frozen(own_hr_api.process):
            time.sleep(5)

    clients = run_clients(rest_gateway, 8, freeze)
    answers = rest_gateway.answers
    assert {a.status for a in answers} <= {200, 201, 503}, [a for a in answers if a.status not in (200, 201, 503)]
    assert any(a.status == 503 for a in answers) and all(a.retry_after for a in answers if a.status == 503)
    slowest = max(answers, key=lambda a: a.seconds)
    assert slowest.seconds <= BOUND, slowest
    counts = check_data(rest_gateway, clients)
    assert counts["created"] > 0


def test_a_killed_api_is_503_and_served_again_after_it_restarts(own_hr_api, rest_gateway):
    def kill_and_restart():
        own_hr_api.process.kill()
        own_hr_api.process.wait()
        time.sleep(3)
        own_hr_api.start()  # the same port, the same employees

    clients = run_clients(rest_gateway, 8, kill_and_restart)
    answers = rest_gateway.answers
    assert {a.status for a in answers} <= {200, 201, 503}, [a for a in answers if a.status not in (200, 201, 503)]
    assert any(a.status == 503 for a in answers)
    slowest = max(answers, key=lambda a: a.seconds)
    assert slowest.seconds <= BOUND, slowest
    assert rest_gateway.served_again()
    check_data(rest_gateway, clients)
