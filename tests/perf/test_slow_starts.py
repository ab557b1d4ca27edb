"""Benchmark: how long the gateway takes to answer, with a 2 s deadline, when the API is slow
before any call is sent: a TLS handshake that trickles or stalls, an OAuth token endpoint that
trickles its answer (to the request fetching the token, and to one waiting for another's fetch).

Run by hand (not part of the suite):  .venv/bin/pytest -m perf -s tests/perf/test_slow_starts.py
The gateway runs in the test process (Flask's test client, the process's real watchdog) in
front of the servers of tests/faults/fronts.py and the reference HR API. Printed per case: the
answers' statuses, how many said the outcome of a write is unknown, and the time to the answer
(median and slowest of ROUNDS), and the load average.
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import pytest

from tests.conftest import HR_MAP
from tests.faults.fronts import HttpsFront, OAuthApi
from tests.faults.scenario import UNKNOWN
from tests.sandbox.children import write_private
from tests.sandbox.pki import make_pki

pytestmark = pytest.mark.perf

DEADLINE = 2
ROUNDS = 5
USER = {"userName": "slow-start", "active": True, "name": {"givenName": "S", "familyName": "Start"}}


def _send(client, method: str):
    return client.post("/Users", USER) if method == "POST" else client.get('/Users?filter=userName eq "slow-start"')


def _timed(client, method: str) -> tuple[int, bool, float]:
    """The answer's status, whether it says the outcome is unknown, and the seconds it took."""
    started = time.monotonic()
    response = _send(client, method)
    elapsed = time.monotonic() - started
    return response.status_code, UNKNOWN in (response.json or {}).get("detail", ""), elapsed


def _report(case: str, timed: list[tuple[int, bool, float]]) -> None:
    seconds = [elapsed for _, _, elapsed in timed]
    statuses = sorted({status for status, _, _ in timed})
    unknown = sum(1 for _, said, _ in timed if said)
    print(
        f"\n{case:<40} {statuses} unknown {unknown}/{len(timed)}, median {statistics.median(seconds):.2f} s,"
        f" slowest {max(seconds):.2f} s  (load {os.getloadavg()[0]:.2f})"
    )


@pytest.mark.parametrize("handshake", [None, "trickle", "stall"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_answer_time_when_the_tls_handshake_trickles_or_stalls(
    make_client, employees, hr_api, tmp_path, handshake, method
):
    pki = make_pki(tmp_path)
    timed = []
    for _ in range(ROUNDS):
        employees.clear()
        with HttpsFront(hr_api, pki, handshake, pass_first=1 if method == "POST" else 0) as api:
            client = make_client(
                HR_MAP,
                base_url=api.url,
                ca_file=pki / "ca.pem",
                top_yaml=f"request_timeout: {DEADLINE}\naudit_log: {tmp_path / 'audit.log'}\n",
            )
            timed.append(_timed(client, method))
    _report(f"TLS handshake {handshake or 'at once'}, {method}", timed)


@pytest.mark.parametrize("who", ["in time", "fetching", "waiting"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_answer_time_when_the_token_endpoint_trickles(make_client, employees, hr_api, tmp_path, who, method):
    secret = tmp_path / "client.secret"
    write_private(secret, "cs_perf-secret")
    timed = []
    for _ in range(ROUNDS):
        employees.clear()
        with OAuthApi(hr_api) as api:
            auth = (
                f"{{type: oauth2, token_url: {api.base}/oauth2/token, client_id: perf, client_secret_file: {secret}}}"
            )
            client = make_client(
                HR_MAP,
                base_url=f"{api.base}/api/v1",
                auth=auth,
                top_yaml=f"request_timeout: {DEADLINE}\naudit_log: {tmp_path / 'audit.log'}\n",
            )
            probing = None
            if who != "in time":
                api.hold()
            if who == "waiting":  # the readiness probe fetches, outside any request
                probing = threading.Thread(target=client.app.test_client().get, args=("/readyz",))
                probing.start()
                while api.asked == 0:
                    time.sleep(0.01)
            timed.append(_timed(client, method))
            api.release()
            if probing is not None:
                probing.join()
    _report(f"token endpoint, request {who}, {method}", timed)
