"""An HTTPS API that accepts the connection and then trickles its TLS handshake a byte at a time,
or says nothing: the gateway answers by the request's deadline, and a write whose connection
was never made was not sent, so it is refused (not "may or may not have been made")."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import HR_MAP
from tests.faults.fronts import HttpsFront
from tests.faults.scenario import UNKNOWN
from tests.sandbox.pki import make_pki

DEADLINE = 2  # the gateway's request_timeout in these tests
SLACK = 1 + 1  # the promised second, and a second for a busy test machine


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def _timed(send) -> tuple:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


@pytest.mark.parametrize(("handshake", "status"), [(None, 200), ("trickle", 503), ("stall", 503)])
def test_a_read_from_an_api_whose_handshake_trickles_or_stalls_is_503_by_the_deadline(
    make_client, employees, hr_api, pki, handshake, status
):
    employee = employees.add(login="shaken")
    with HttpsFront(hr_api, pki, handshake) as api:
        client = make_client(
            HR_MAP, base_url=api.url, ca_file=pki / "ca.pem", top_yaml=f"request_timeout: {DEADLINE}\n"
        )
        response, elapsed = _timed(lambda: client.get(f"/Users/{employee['emp_id']}"))
    assert response.status_code == status, response.json
    if status == 503:
        assert response.headers["Retry-After"] == "17" and api.served == []
    assert elapsed < DEADLINE + SLACK


@pytest.mark.parametrize("handshake", ["trickle", "stall"])
@pytest.mark.parametrize("timeout", [DEADLINE, DEADLINE / 4])  # the deadline ends the handshake, or its own timeout
def test_a_create_whose_handshake_never_ends_was_not_sent_and_is_refused_not_in_doubt(
    make_client, employees, hr_api, pki, tmp_path, handshake, timeout
):
    trail = tmp_path / "audit.log"
    with HttpsFront(hr_api, pki, handshake, pass_first=1) as api:  # the uniqueness lookup gets through
        client = make_client(
            HR_MAP,
            base_url=api.url,
            ca_file=pki / "ca.pem",
            timeout=timeout,
            top_yaml=f"request_timeout: {DEADLINE}\naudit_log: {trail}\n",
        )
        user = {"userName": "shaken", "active": True, "name": {"givenName": "S", "familyName": "Haken"}}
        response, elapsed = _timed(lambda: client.post("/Users", user))
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert UNKNOWN not in response.json["detail"]
    assert elapsed < DEADLINE + SLACK
    assert api.served == ["GET"]  # the POST's connection never got past its handshake
    (line,) = [json.loads(text) for text in trail.read_text().splitlines()]
    assert line["name"] == "shaken" and line["outcome"] != "unknown", line
    assert employees.by_login("shaken") is None
