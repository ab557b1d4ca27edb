"""What a real API process cannot easily show, with requests-mock: timeouts, 5xx bursts, 429 with
Retry-After, OAuth tokens expiring mid-run, malformed JSON, and secrets kept out of everything.

Time is fake: `sleep` advances `clock`, so retries and budgets are exact and tests take no time.
"""

from __future__ import annotations

import logging
import socket

import pytest
import requests
import urllib3
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from gateway import deadline
from gateway.backends.base import AlreadyExists, BackendError, InvalidData, NotFound, Throttled, Unavailable
from gateway.backends.rest import cutoff
from gateway.backends.rest.settings import ApiAuthSettings, RestSettings
from gateway.backends.rest.transport import Transport, retry_after

BASE = "https://hr.example.com/api/v1"
TOKEN_URL = "https://login.example.com/oauth2/token"
KEY = "hrk_very-secret-key"
CLIENT_SECRET = "cs_also-very-secret"


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(deadline, "clock", fake.clock)  # the request's deadline runs on the same clock
    return fake


def _transport(fake_time: FakeTime, auth: ApiAuthSettings | None = None, budget: float = 10.0) -> Transport:
    settings = RestSettings(
        BASE, auth or ApiAuthSettings("api_key", KEY), timeout=5, retry_budget=budget, retry_after=30
    )
    transport = Transport(settings)
    transport.clock = fake_time.clock
    transport.sleep = fake_time.sleep
    if hasattr(transport.auth, "clock"):
        transport.auth.clock = fake_time.clock
    return transport


def _oauth(fake_time: FakeTime) -> Transport:
    auth = ApiAuthSettings("oauth2", CLIENT_SECRET, token_url=TOKEN_URL, client_id="scim-gateway", scope="hr.write")
    return _transport(fake_time, auth)


def _refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/", reason))


def test_the_api_key_goes_in_its_header_and_json_comes_back(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees/7", json={"emp_id": 7})
    reply = _transport(fake_time).request("GET", "/employees/7", idempotent=True)
    assert reply.body == {"emp_id": 7}
    assert requests_mock.last_request.headers["X-Api-Key"] == KEY
    assert requests_mock.last_request.timeout == (5, 5)


def test_a_read_that_times_out_is_retried_with_backoff_then_answers_503(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees/7", exc=requests.ReadTimeout)
    with pytest.raises(Unavailable, match="did not answer in time"):
        _transport(fake_time, budget=2).request("GET", "/employees/7", idempotent=True)
    assert requests_mock.call_count >= 3
    assert len(fake_time.slept) == requests_mock.call_count - 1  # a pause before every retry
    assert sum(fake_time.slept) <= 2  # and all of them within the budget


def test_a_post_that_timed_out_is_never_sent_again_and_its_outcome_is_unknown(requests_mock, fake_time):
    requests_mock.post(f"{BASE}/employees", exc=requests.ReadTimeout)
    with pytest.raises(Unavailable) as raised:
        _transport(fake_time).request("POST", "/employees", body={"login": "a"}, idempotent=False)
    assert requests_mock.call_count == 1
    assert raised.value.in_doubt


def test_a_post_that_never_connected_is_not_in_doubt(requests_mock, fake_time):
    requests_mock.post(f"{BASE}/employees", exc=_refused())
    with pytest.raises(Unavailable) as raised:
        _transport(fake_time, budget=0).request("POST", "/employees", body={"login": "a"}, idempotent=False)
    assert not raised.value.in_doubt


def test_a_write_whose_first_try_may_have_arrived_stays_in_doubt_whatever_the_retries_meet(requests_mock, fake_time):
    dropped = requests.ConnectionError("Connection aborted: RemoteDisconnected")  # sent, then the API died
    requests_mock.put(f"{BASE}/employees/7", [{"exc": dropped}, {"exc": _refused()}])
    with pytest.raises(Unavailable) as raised:
        _transport(fake_time, budget=0.5).request("PUT", "/employees/7", body={}, idempotent=True)
    assert raised.value.in_doubt
    requests_mock.put(f"{BASE}/employees/8", [{"exc": requests.ReadTimeout}, {"status_code": 503}])
    with pytest.raises(Unavailable) as raised:
        _transport(fake_time, budget=0.5).request("PUT", "/employees/8", body={}, idempotent=True)
    assert raised.value.in_doubt
    requests_mock.get(f"{BASE}/employees/9", [{"exc": dropped}, {"exc": _refused()}])
    with pytest.raises(Unavailable) as raised:
        _transport(fake_time, budget=0.5).request("GET", "/employees/9", idempotent=True)
    assert not raised.value.in_doubt  # a read changes nothing


def test_an_answer_cut_off_mid_body_is_a_lost_connection_not_a_500(requests_mock, fake_time):
    cut = requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")  # the API died answering
    requests_mock.get(f"{BASE}/employees", [{"exc": cut}, {"json": []}])
    assert _transport(fake_time).request("GET", "/employees", idempotent=True).body == []  # a read is sent again
    requests_mock.post(f"{BASE}/employees", exc=cut)
    with pytest.raises(Unavailable) as raised:
        _transport(fake_time).request("POST", "/employees", body={"login": "a"}, idempotent=False)
    assert requests_mock.call_count == 3  # the POST went once
    assert raised.value.in_doubt


@pytest.mark.parametrize(
    "method, idempotent, in_doubt", [("GET", True, False), ("PUT", True, True), ("POST", False, True)]
)
def test_an_answer_cut_off_at_the_deadline_is_not_sent_again_and_a_cut_write_is_in_doubt(
    requests_mock, fake_time, method, idempotent, in_doubt
):
    """The real watchdog and a trickling API: tests/faults/test_api_faults.py. Here, its verdict."""

    def trickled_until_the_deadline(request, context):
        fake_time.now += 5
        call = cutoff._in_flight.get()
        with socket.socket() as sock:
            assert call.sending(sock)  # what the connection does as the request leaves
            call.cut()  # what the watchdog does at the deadline
        raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")

    requests_mock.register_uri(method, f"{BASE}/employees/7", text=trickled_until_the_deadline)
    with deadline.within(5), pytest.raises(Unavailable) as raised:
        _transport(fake_time).request(method, "/employees/7", body={}, idempotent=idempotent)
    assert raised.value.in_doubt is in_doubt and requests_mock.call_count == 1
    assert in_doubt or isinstance(raised.value, deadline.OutOfTime)


def test_every_call_gets_only_the_time_left_of_the_request_and_no_retry_past_it(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees/7", exc=requests.ReadTimeout)
    with deadline.within(0.5), pytest.raises(Unavailable):
        _transport(fake_time).request("GET", "/employees/7", idempotent=True)
    timeout = requests_mock.request_history[0].timeout
    assert 0 < timeout[0] <= 0.5 and timeout[0] == timeout[1]
    assert sum(fake_time.slept) < 0.5  # backoffs that would pass the deadline are not taken
    with deadline.within(0), pytest.raises(deadline.OutOfTime):
        _transport(fake_time).request("GET", "/employees/7", idempotent=True)


def test_a_post_whose_connection_was_refused_is_sent_again(requests_mock, fake_time):
    requests_mock.post(f"{BASE}/employees", [{"exc": _refused()}, {"status_code": 201, "json": {"emp_id": 1}}])
    reply = _transport(fake_time).request("POST", "/employees", body={"login": "a"}, idempotent=False)
    assert (reply.status, requests_mock.call_count) == (201, 2)


@pytest.mark.parametrize("failure", [NewConnectionError(None, "refused"), ConnectTimeoutError(None, "timed out")])
def test_a_post_whose_proxy_could_not_be_reached_is_sent_again(requests_mock, fake_time, failure):
    """requests calls it a ProxyError, not a refused connection or a connect timeout: the POST
    never left all the same (it was 'in doubt' before)."""
    unreachable = requests.exceptions.ProxyError(
        MaxRetryError(None, "/", urllib3.exceptions.ProxyError("Unable to connect to proxy", failure))
    )
    requests_mock.post(f"{BASE}/employees", [{"exc": unreachable}, {"status_code": 201, "json": {"emp_id": 1}}])
    reply = _transport(fake_time).request("POST", "/employees", body={"login": "a"}, idempotent=False)
    assert (reply.status, requests_mock.call_count) == (201, 2)


def test_a_burst_of_5xx_on_a_read_is_ridden_out(requests_mock, fake_time):
    requests_mock.get(
        f"{BASE}/employees",
        [{"status_code": 503}, {"status_code": 502, "text": "<html>bad gateway</html>"}, {"json": {"items": []}}],
    )
    reply = _transport(fake_time).request("GET", "/employees", idempotent=True)
    assert reply.body == {"items": []}
    assert requests_mock.call_count == 3 and len(fake_time.slept) == 2


def test_a_5xx_to_a_post_is_503_at_once(requests_mock, fake_time):
    requests_mock.post(f"{BASE}/employees", status_code=500, json={"error": {"message": "database locked"}})
    with pytest.raises(Unavailable, match="answered 500") as caught:
        _transport(fake_time).request("POST", "/employees", body={}, idempotent=False)
    assert requests_mock.call_count == 1
    assert caught.value.retry_after is None  # the tenant's configured value applies


def test_a_5xx_whose_retry_after_exceeds_the_budget_is_passed_on(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees", status_code=503, headers={"Retry-After": "120"})
    with pytest.raises(Unavailable) as caught:
        _transport(fake_time).request("GET", "/employees", idempotent=True)
    assert (caught.value.retry_after, requests_mock.call_count, fake_time.slept) == (120, 1, [])


def test_a_429_within_the_budget_is_waited_out_even_for_a_post(requests_mock, fake_time):
    requests_mock.post(
        f"{BASE}/employees",
        [{"status_code": 429, "headers": {"Retry-After": "2"}}, {"status_code": 201, "json": {"emp_id": 5}}],
    )
    reply = _transport(fake_time).request("POST", "/employees", body={"login": "a"}, idempotent=False)
    assert reply.body == {"emp_id": 5}
    assert fake_time.slept == [2.0]


def test_a_429_beyond_the_budget_is_throttled_with_the_api_retry_after(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees", status_code=429, headers={"Retry-After": "60"})
    with pytest.raises(Throttled) as caught:
        _transport(fake_time).request("GET", "/employees", idempotent=True)
    assert caught.value.retry_after == 60
    assert requests_mock.call_count == 1


def test_repeated_429s_stop_when_the_budget_is_spent(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees", status_code=429, headers={"Retry-After": "1"})
    with pytest.raises(Throttled):
        _transport(fake_time, budget=3).request("GET", "/employees", idempotent=True)
    assert fake_time.slept == [1.0, 1.0, 1.0]


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("17") == 17
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after("soon") is None and retry_after(None) is None


def test_oauth_token_is_cached_and_fetched_again_before_it_expires(requests_mock, fake_time):
    tokens = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "token-1", "token_type": "Bearer", "expires_in": 3600}},
            {"json": {"access_token": "token-2", "token_type": "Bearer", "expires_in": "3600"}},
        ],
    )
    api = requests_mock.get(f"{BASE}/employees", json={"items": []})
    transport = _oauth(fake_time)
    transport.request("GET", "/employees", idempotent=True)
    fake_time.now += 3000  # still well inside the hour
    transport.request("GET", "/employees", idempotent=True)
    assert tokens.call_count == 1
    fake_time.now += 560  # 40 s before expiry: too close to send it
    transport.request("GET", "/employees", idempotent=True)
    assert tokens.call_count == 2
    assert [r.headers["Authorization"] for r in api.request_history] == ["Bearer token-1"] * 2 + ["Bearer token-2"]
    form = tokens.request_history[0].text
    assert "grant_type=client_credentials" in form and "scope=hr.write" in form and CLIENT_SECRET not in form
    assert tokens.request_history[0].headers["Authorization"].startswith("Basic ")


def test_a_token_refused_mid_run_is_replaced_once_even_for_a_post(requests_mock, fake_time):
    tokens = requests_mock.post(
        TOKEN_URL, [{"json": {"access_token": "revoked", "expires_in": 3600}}, {"json": {"access_token": "fresh"}}]
    )
    api = requests_mock.post(f"{BASE}/employees", [{"status_code": 401}, {"status_code": 201, "json": {"emp_id": 1}}])
    reply = _oauth(fake_time).request("POST", "/employees", body={}, idempotent=False)
    assert reply.status == 201
    assert tokens.call_count == 2
    assert [r.headers["Authorization"] for r in api.request_history] == ["Bearer revoked", "Bearer fresh"]


def test_credentials_the_api_keeps_refusing_are_503_and_logged(requests_mock, fake_time, caplog):
    requests_mock.post(TOKEN_URL, json={"access_token": "t", "expires_in": 3600})
    requests_mock.get(f"{BASE}/employees", status_code=401)
    with pytest.raises(Unavailable, match="refused the gateway's credentials"):
        _oauth(fake_time).request("GET", "/employees", idempotent=True)
    assert "401" in caplog.text


def test_a_token_endpoint_that_refuses_is_503_without_the_secret_anywhere(requests_mock, fake_time, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    with pytest.raises(Unavailable, match="token endpoint refused") as caught:
        _oauth(fake_time).request("GET", "/employees", idempotent=True)
    assert "invalid_client" in caplog.text
    assert CLIENT_SECRET not in caplog.text and CLIENT_SECRET not in str(caught.value)


def test_malformed_json_from_the_api_is_503_and_logged_without_secrets(requests_mock, fake_time, caplog):
    requests_mock.get(f"{BASE}/employees/7", text=f"<html>proxy error for key {KEY}</html>")
    with pytest.raises(Unavailable, match="not JSON"):
        _transport(fake_time).request("GET", "/employees/7", idempotent=True)
    assert "proxy error" in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (422, {"error": {"code": "validation", "message": "manager_id must be an integer"}}, InvalidData, "manager_id"),
        (400, {"errors": [{"msg": "login too long"}, {"msg": "bad email"}]}, InvalidData, "login too long; bad email"),
        (404, {"message": "employee 7 does not exist"}, NotFound, "employee 7"),
        (409, {"detail": "login alice is taken"}, AlreadyExists, "login alice is taken"),
        (403, {"message": "no delete rights"}, BackendError, "check its access rights"),
        (418, "I'm a teapot", BackendError, "answered 418"),
    ],
)
def test_api_refusals_become_backend_errors_with_the_api_message(
    requests_mock, fake_time, status, body, error, message
):
    kwargs = {"json": body} if isinstance(body, dict) else {"text": body}
    requests_mock.put(f"{BASE}/employees/7", status_code=status, **kwargs)
    with pytest.raises(error) as caught:
        _transport(fake_time).request("PUT", "/employees/7", body={}, idempotent=True)
    assert message in str(caught.value)
    assert requests_mock.call_count == 1


def test_the_api_message_is_passed_on_with_secrets_stripped_and_shortened(requests_mock, fake_time, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(
        f"{BASE}/employees", status_code=422, json={"error": {"message": f"key {KEY} may not create " + "x" * 500}}
    )
    with pytest.raises(InvalidData) as caught:
        _transport(fake_time).request("POST", "/employees", body={}, idempotent=False)
    assert "key *** may not create" in str(caught.value)
    assert KEY not in str(caught.value) and len(str(caught.value)) < 350
    assert KEY not in caplog.text


def test_a_redirect_is_not_followed(requests_mock, fake_time):
    requests_mock.get(f"{BASE}/employees", status_code=301, headers={"Location": "https://evil.example.com/x"})
    with pytest.raises(BackendError, match="redirected"):
        _transport(fake_time).request("GET", "/employees", idempotent=True)
    assert requests_mock.call_count == 1


def test_a_repeated_delete_that_finds_nothing_left_succeeded(requests_mock, fake_time):
    requests_mock.delete(f"{BASE}/employees/7", [{"exc": requests.ReadTimeout}, {"status_code": 404}])
    reply = _transport(fake_time).request("DELETE", "/employees/7", idempotent=True, gone_is_done=True)
    assert reply.status == 204


def test_a_first_delete_that_finds_nothing_is_not_found(requests_mock, fake_time):
    requests_mock.delete(f"{BASE}/employees/7", status_code=404)
    with pytest.raises(NotFound):
        _transport(fake_time).request("DELETE", "/employees/7", idempotent=True, gone_is_done=True)


def test_one_session_per_process_made_on_first_use_and_again_after_a_fork(monkeypatch, fake_time):
    transport = _transport(fake_time)
    assert transport._session is None  # nothing is opened at construction (gunicorn forks after it)
    first = transport.session
    assert transport.session is first and first.verify is True
    monkeypatch.setattr("os.getpid", lambda: 999_999)
    assert transport.session is not first


def test_a_private_ca_file_is_what_tls_verifies_against(tmp_path, fake_time):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = RestSettings(BASE, ApiAuthSettings("none"), ca_file=str(ca))
    assert Transport(settings).session.verify == str(ca)


def test_settings_and_auth_never_show_their_secret():
    settings = RestSettings(BASE, ApiAuthSettings("api_key", KEY))
    assert KEY not in repr(settings) and KEY not in str(settings)
