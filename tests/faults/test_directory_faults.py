"""A real slapd frozen (SIGSTOP) and killed under concurrent requests through `scim-gateway serve`."""

from __future__ import annotations

import time

import requests

from tests.faults.conftest import BOUND, frozen
from tests.faults.scenario import check_data, run_clients


def test_a_frozen_directory_answers_within_the_deadline_and_loses_nothing(own_slapd, ldap_gateway):
    health = []

    def freeze():
        with frozen(own_slapd.process):
            time.sleep(3)
            health.append(requests.get(ldap_gateway.url.replace("/scim/v2", "/healthz"), timeout=BOUND))
            time.sleep(3)

    clients = run_clients(ldap_gateway, 8, freeze)
    answers = ldap_gateway.answers
    assert {a.status for a in answers} <= {200, 201, 503}, [a for a in answers if a.status not in (200, 201, 503)]
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable and all(a.retry_after for a in unavailable)
    slowest = max(answers, key=lambda a: a.seconds)
    assert slowest.seconds <= BOUND, slowest
    counts = check_data(ldap_gateway, clients)
    assert counts["created"] > 0
    assert health[0].status_code == 200 and health[0].json()["backends"]["faults"] in ("up", "down")


def test_a_killed_directory_is_503_at_once_and_served_again_soon_after_it_restarts(own_slapd, ldap_gateway):
    def kill_and_restart():
        port = own_slapd.port
        own_slapd.process.kill()
        own_slapd.process.wait()
        time.sleep(3)
        own_slapd.port = port
        own_slapd.start()

    clients = run_clients(ldap_gateway, 8, kill_and_restart)
    answers = ldap_gateway.answers
    assert {a.status for a in answers} <= {200, 201, 503}, [a for a in answers if a.status not in (200, 201, 503)]
    assert any(a.status == 503 for a in answers)
    slowest = max(answers, key=lambda a: a.seconds)
    assert slowest.seconds <= BOUND, slowest
    assert ldap_gateway.served_again()
    check_data(ldap_gateway, clients)
