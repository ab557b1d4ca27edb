"""An OAuth token endpoint that trickles its answer: the request fetching the token is cut off at
its deadline like any call, and a request waiting for another's fetch gives up at its own
deadline. No call to the API was made, so a write is refused, not in doubt."""

from __future__ import annotations

import json
import threading
import time

import pytest

from gateway import checks
from tests.conftest import HR_MAP
from tests.faults.fronts import OAuthApi
from tests.faults.scenario import UNKNOWN
from tests.sandbox.children import write_private

DEADLINE = 2  # the gateway's request_timeout in these tests; its call timeout is 2 s too
SLACK = 1 + 1  # the promised second, and a second for a busy test machine
USER = {"userName": "tokenless", "active": True, "name": {"givenName": "T", "familyName": "Okenless"}}


@pytest.fixture
def oauth_api(hr_api):
    with OAuthApi(hr_api) as api:
        yield api


@pytest.fixture
def oauth_client(make_client, employees, oauth_api, tmp_path):
    secret = tmp_path / "client.secret"
    write_private(secret, "cs_token-test-secret")
    auth = (
        f"{{type: oauth2, token_url: {oauth_api.base}/oauth2/token, client_id: scim-gateway,"
        f" client_secret_file: {secret}}}"
    )
    top = f"request_timeout: {DEADLINE}\naudit_log: {tmp_path / 'audit.log'}\n"
    return make_client(HR_MAP, base_url=f"{oauth_api.base}/api/v1", auth=auth, top_yaml=top)


def _send(client, method: str) -> tuple:
    started = time.monotonic()
    response = client.post("/Users", USER) if method == "POST" else client.get('/Users?filter=userName eq "tokenless"')
    return response, time.monotonic() - started


def _refused_in_time(response, elapsed: float, employees, trail) -> None:
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert UNKNOWN not in response.json["detail"]
    assert elapsed < DEADLINE + SLACK
    assert employees.by_login("tokenless") is None
    for line in [json.loads(text) for text in trail.read_text().splitlines()] if trail.exists() else []:
        assert line["outcome"] != "unknown", line


def test_a_token_fetched_in_time_is_used_and_kept(oauth_client, oauth_api, employees):
    response, _ = _send(oauth_client, "POST")
    assert response.status_code == 201, response.json
    assert _send(oauth_client, "GET")[0].json["totalResults"] == 1
    assert oauth_api.asked == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_request_fetching_a_token_that_trickles_is_cut_off_at_its_deadline(
    oauth_client, oauth_api, employees, tmp_path, method
):
    oauth_api.hold()
    response, elapsed = _send(oauth_client, method)
    _refused_in_time(response, elapsed, employees, tmp_path / "audit.log")
    assert oauth_api.asked == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_waiting_for_another_token_fetch_gives_up_at_its_own_deadline(
    oauth_client, oauth_api, employees, tmp_path, method, monkeypatch
):
    """The fetch the request waits for is the readiness probe's, given here longer than the
    request's deadline (its own deadline is PROBE_TIMEOUT)."""
    monkeypatch.setattr(checks, "PROBE_TIMEOUT", 10.0)
    oauth_api.hold()
    probing = threading.Thread(target=oauth_client.app.test_client().get, args=("/readyz",))
    probing.start()
    while oauth_api.asked == 0:  # the probe is fetching
        time.sleep(0.05)
    response, elapsed = _send(oauth_client, method)
    _refused_in_time(response, elapsed, employees, tmp_path / "audit.log")
    assert oauth_api.asked == 1  # it waited for the probe's token and did not ask for one of its own
    oauth_api.release()
    probing.join()


def test_the_readiness_probe_gives_the_token_lock_back_at_its_own_deadline(oauth_client, oauth_api):
    """A probe fetching a token from an endpoint that trickles would otherwise hold the token's
    lock (and every request needing a token) until the trickle ends."""
    oauth_api.hold()
    started = time.monotonic()
    response = oauth_client.app.test_client().get("/readyz")
    assert response.status_code == 503 and time.monotonic() - started < checks.READY_WAIT + SLACK
    while any(t.name.startswith("readyz-") for t in threading.enumerate()):
        assert time.monotonic() - started < checks.PROBE_TIMEOUT + SLACK, "the probe still holds the token's lock"
        time.sleep(0.05)
    oauth_api.release()
    assert _send(oauth_client, "GET")[0].status_code == 200
    assert oauth_api.asked == 2  # the probe's fetch was cut off; the request fetched its own token
