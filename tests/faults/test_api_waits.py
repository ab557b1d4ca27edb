"""Waits on the way to the API that no socket timeout ends, each bounded by the request's deadline:
a host name lookup that hangs, an HTTP proxy that trickles its answer to CONNECT, and an API that
never reads the body it is sent. A wait before the connection is made sent nothing, so a write
is refused (not "may or may not have been made"); a body cut off half sent is in doubt."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from tests.conftest import HR_MAP
from tests.faults.fronts import TRICKLE_FOR, HttpsFront, PlainFront, TricklingProxy
from tests.faults.scenario import UNKNOWN
from tests.sandbox.pki import make_pki

DEADLINE = 2  # the gateway's request_timeout in these tests; its call timeout is 2 s too
SLACK = 1 + 1  # the promised second, and a second for a busy test machine
USER = {"userName": "waited", "active": True, "name": {"givenName": "W", "familyName": "Aited"}}


def _timed(send) -> tuple:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def _audited(trail) -> dict:
    (line,) = [json.loads(text) for text in trail.read_text().splitlines()]
    assert line["name"] == "waited", line
    return line


def _refused_in_time(response, elapsed: float, employees, trail) -> None:
    """503 with Retry-After by the deadline, and not in doubt: nothing reached the API."""
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert UNKNOWN not in response.json["detail"]
    assert elapsed < DEADLINE + SLACK
    assert _audited(trail)["outcome"] == "refused"
    assert employees.by_login("waited") is None


# --- a resolver that hangs -----------------------------------------------------------------------

HUNG = "hr-api.hung.test"  # the name the stand-in resolver hangs on


class HungResolver:
    """socket.getaddrinfo in this process (the gateway's), hanging on HUNG (after answering the
    first `pass_first` lookups) until released or for TRICKLE_FOR, then answering 127.0.0.1.

    The one stand-in in these tests: the machine's resolver (resolv.conf, nsswitch) is not the
    tests' to break, and what the gateway must bound is this one call, which nothing interrupts."""

    def __init__(self, pass_first: int = 0):
        self.pass_first = pass_first
        self.asked = 0
        self.released = threading.Event()
        self.real = socket.getaddrinfo

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host == HUNG:
            self.asked += 1
            if self.asked > self.pass_first:
                self.released.wait(TRICKLE_FOR)
            host = "127.0.0.1"
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def hung_resolver(monkeypatch):
    resolver = HungResolver()
    monkeypatch.setattr(socket, "getaddrinfo", resolver.getaddrinfo)
    yield resolver
    resolver.released.set()


def test_a_read_whose_api_host_name_lookup_hangs_is_503_by_the_deadline(make_client, employees, hr_api, hung_resolver):
    employee = employees.add(login="looked-up")
    with PlainFront(hr_api, HUNG) as api:
        client = make_client(HR_MAP, base_url=api.url, top_yaml=f"request_timeout: {DEADLINE}\n")
        response, elapsed = _timed(lambda: client.get(f"/Users/{employee['emp_id']}"))
        assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
        assert elapsed < DEADLINE + SLACK and api.heard == []
        hung_resolver.released.set()  # the resolver answers again: so does the API
        assert client.get(f"/Users/{employee['emp_id']}").status_code == 200


def test_a_create_whose_api_host_name_lookup_hangs_was_not_sent_and_is_refused_not_in_doubt(
    make_client, employees, hr_api, hung_resolver, tmp_path
):
    trail = tmp_path / "audit.log"
    hung_resolver.pass_first = 1  # the uniqueness lookup's connection is made
    with PlainFront(hr_api, HUNG) as api:
        client = make_client(HR_MAP, base_url=api.url, top_yaml=f"request_timeout: {DEADLINE}\naudit_log: {trail}\n")
        response, elapsed = _timed(lambda: client.post("/Users", USER))
    _refused_in_time(response, elapsed, employees, trail)
    assert api.heard == ["GET"]


def test_a_hung_resolver_holds_one_lookup_thread_per_name_however_many_requests_wait(
    make_client, employees, hr_api, hung_resolver
):
    def lookup_threads() -> int:
        return sum(t.name == f"resolve-{HUNG}" for t in threading.enumerate())

    employee = employees.add(login="looked-up")
    before = lookup_threads()
    with PlainFront(hr_api, HUNG) as api:
        client = make_client(HR_MAP, base_url=api.url, top_yaml=f"request_timeout: {DEADLINE}\n")
        for _ in range(3):
            assert client.get(f"/Users/{employee['emp_id']}").status_code == 503
    assert hung_resolver.asked == 1 and lookup_threads() <= before + 1


# --- an HTTP proxy that trickles its answer to CONNECT ------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def through_proxy(monkeypatch):
    """The gateway's calls to an https API go through the proxy HTTPS_PROXY names, as they would
    on a site whose only way out is one."""

    def use(proxy: TricklingProxy, variable: str = "HTTPS_PROXY") -> None:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, proxy.url)

    return use


@pytest.mark.parametrize(("trickle", "status"), [(False, 200), (True, 503)])
def test_a_read_through_a_proxy_that_trickles_its_connect_answer_is_503_by_the_deadline(
    make_client, employees, hr_api, pki, through_proxy, trickle, status
):
    employee = employees.add(login="proxied")
    with HttpsFront(hr_api, pki, None) as api, TricklingProxy(trickle) as proxy:
        through_proxy(proxy)
        client = make_client(
            HR_MAP, base_url=api.url, ca_file=pki / "ca.pem", top_yaml=f"request_timeout: {DEADLINE}\n"
        )
        response, elapsed = _timed(lambda: client.get(f"/Users/{employee['emp_id']}"))
    assert response.status_code == status, response.json
    assert proxy.tunnels >= 1  # the call went through the proxy
    if status == 503:
        assert response.headers["Retry-After"] == "17" and api.served == []
    assert elapsed < DEADLINE + SLACK


@pytest.mark.parametrize(
    ("proxy_does", "detail", "logged"),
    [
        ("trickle", "the API did not answer in time; retry later", None),
        ("refuse", "the API cannot be reached through the proxy; retry later", "407 Proxy Authentication Required"),
    ],
)
def test_a_create_whose_proxy_tunnel_never_opens_was_not_sent_and_is_refused_not_in_doubt(
    make_client, employees, hr_api, pki, through_proxy, tmp_path, caplog, proxy_does, detail, logged
):
    """A tunnel still trickling at the deadline, or refused (a proxy that wants a login: 407):
    nothing reached the API."""
    trail = tmp_path / "audit.log"
    refuse = proxy_does == "refuse"
    # the first tunnel, the uniqueness lookup's, opens at once
    with HttpsFront(hr_api, pki, None) as api, TricklingProxy(not refuse, pass_first=1, refuse=refuse) as proxy:
        through_proxy(proxy)
        client = make_client(
            HR_MAP,
            base_url=api.url,
            ca_file=pki / "ca.pem",
            top_yaml=f"request_timeout: {DEADLINE}\naudit_log: {trail}\n",
        )
        response, elapsed = _timed(lambda: client.post("/Users", USER))
    _refused_in_time(response, elapsed, employees, trail)
    assert response.json["detail"] == detail
    assert api.served == ["GET"]  # the POST's tunnel never opened
    if logged:  # what to fix, for the operator
        [told] = [r.getMessage() for r in caplog.records if "the proxy to" in r.getMessage()]
        assert logged in told and "HTTPS_PROXY" in told


def test_a_plain_http_api_behind_a_proxy_that_wants_a_login_is_503_and_the_log_says_so(
    make_client, employees, hr_api, through_proxy, caplog
):
    """Through HTTP_PROXY a plain http call goes to the proxy whole, and its 407 comes back as
    the answer: only a proxy answers 407, so the API never had the call (it was a 500 before)."""
    with PlainFront(hr_api) as api, TricklingProxy(False, refuse=True) as proxy:
        through_proxy(proxy, "HTTP_PROXY")
        client = make_client(HR_MAP, base_url=api.url, top_yaml=f"request_timeout: {DEADLINE}\n")
        response = client.post("/Users", USER)
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert response.json["detail"] == "the API cannot be reached through the proxy; retry later"
    assert proxy.tunnels >= 1 and api.heard == []
    [told] = [r.getMessage() for r in caplog.records if "the proxy wants a login" in r.getMessage()]
    assert "407" in told and "HTTP_PROXY" in told  # what to fix, for the operator


# --- an API that never reads the body it is sent ------------------------------------------------

BODY = 8 * 1024 * 1024  # characters of one attribute: more than the socket buffers on both sides take


def test_a_create_whose_body_the_api_never_reads_is_in_doubt_by_the_deadline(make_client, employees, hr_api, tmp_path):
    """The request's head reached the API and part of its body may have: the gateway cannot know
    what the API made of it, so it says that, in time, to Entra and in the audit trail."""
    trail = tmp_path / "audit.log"
    top = f"request_timeout: {DEADLINE}\naudit_log: {trail}\nmax_body_bytes: {2 * BODY}\n"
    with PlainFront(hr_api, deaf=True) as api:
        client = make_client(HR_MAP, base_url=api.url, top_yaml=top)
        response, elapsed = _timed(lambda: client.post("/Users", {**USER, "title": "t" * BODY}))
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert UNKNOWN in response.json["detail"]
    assert elapsed < DEADLINE + SLACK
    assert api.heard == ["GET", "POST"]  # the uniqueness lookup, then the create's head
    assert _audited(trail)["outcome"] == "unknown"
    assert employees.by_login("waited") is None  # this API never got the whole body
