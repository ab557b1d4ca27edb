"""A real reference HR API frozen (SIGSTOP), killed, and trickling its answers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import HR_MAP
from tests.faults.conftest import BOUND
from tests.faults.fronts import TRICKLE_EVERY, TRICKLE_FOR, call_api
from tests.faults.scenario import UNKNOWN, check_data, run_clients
from tests.sandbox.children import frozen
from tests.sandbox.hr_api import HrApi


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


# --- an API that trickles its answers ------------------------------------------------------------

DEADLINE = 2  # the gateway's request_timeout in these tests; its call timeout is 2 s too


class TricklingApi:
    """The reference HR API behind a proxy that answers one method's calls a piece at a time.

    The call is forwarded and done by the real API; then the answer's status line comes, and
    either a header line (`where="headers"`) or a byte of the body (`where="body"`) every
    TRICKLE_EVERY seconds. `requests`' read timeout is per socket read, so it never ends this."""

    def __init__(self, api: HrApi, method: str, where: str):
        self.api = api
        self.method = method
        self.where = where
        self.stop = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real API: the gateway reuses connections

            def do_GET(self) -> None:
                proxy.answer(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/v1"

    @property
    def key_file(self):
        return self.api.key_file

    def __enter__(self) -> TricklingApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        forwarded = call_api(handler, self.api)
        body = forwarded.content
        until = time.monotonic() + (TRICKLE_FOR if handler.command == self.method else 0)
        try:
            handler.send_response(forwarded.status_code)
            if self.where == "headers":  # the status line, then a line now and then; the real ones last
                handler.flush_headers()
                while time.monotonic() < until and not self.stop.is_set():
                    handler.wfile.write(b"X-Still-Working: yes\r\n")
                    time.sleep(TRICKLE_EVERY)
            for name in ("Content-Type", "ETag", "Location", "Retry-After"):
                if name in forwarded.headers:
                    handler.send_header(name, forwarded.headers[name])
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            while body and time.monotonic() < until and not self.stop.is_set():
                handler.wfile.write(body[:1])
                body = body[1:]
                time.sleep(TRICKLE_EVERY)
            handler.wfile.write(body)
        except OSError:  # the gateway hung up
            handler.close_connection = True


def _within_the_deadline(send) -> tuple:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


@pytest.mark.parametrize("where", ["headers", "body"])
def test_an_api_that_trickles_a_read_is_cut_off_at_the_deadline(make_client, employees, hr_api, where):
    employee = employees.add(login="trickled")
    with TricklingApi(hr_api, "GET", where) as api:
        client = make_client(HR_MAP, server=api, top_yaml=f"request_timeout: {DEADLINE}\n")
        response, elapsed = _within_the_deadline(lambda: client.get(f"/Users/{employee['emp_id']}"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert elapsed < DEADLINE + 1 + 1  # the deadline, the promised second, a second of slack


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_create_the_api_answers_by_the_trickle_is_in_doubt_at_the_deadline(
    make_client, employees, hr_api, tmp_path, where
):
    """The API did the POST and is slow to say so: the gateway cannot know, and says that, in
    time, to Entra and in the audit trail (whose line must not claim `applied`)."""
    trail = tmp_path / "audit.log"
    with TricklingApi(hr_api, "POST", where) as api:
        client = make_client(HR_MAP, server=api, top_yaml=f"request_timeout: {DEADLINE}\naudit_log: {trail}\n")
        user = {"userName": "trickled", "active": True, "name": {"givenName": "T", "familyName": "Rickled"}}
        response, elapsed = _within_the_deadline(lambda: client.post("/Users", user))
    assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.json
    assert UNKNOWN in response.json["detail"]
    assert elapsed < DEADLINE + 1 + 1  # the deadline, the promised second, a second of slack
    (line,) = [json.loads(text) for text in trail.read_text().splitlines()]
    assert line["name"] == "trickled" and line["outcome"] == "unknown", line
    assert employees.by_login("trickled") is not None  # done after all: "unknown" was the truth
