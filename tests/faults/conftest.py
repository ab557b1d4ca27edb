"""Faults against real processes: a real slapd or HR API that we freeze (SIGSTOP) or kill, a real
`scim-gateway serve` (gunicorn, the shipped worker settings) in front, and clients in threads.

Short timeouts keep each test to seconds: a request has REQUEST_TIMEOUT seconds, one directory
call CALL_TIMEOUT. What the tests assert is what the product promises for any values: an answer
within the deadline plus one second (plus a second's slack for a busy test machine), 503 with
Retry-After when the downstream cannot answer, and data with no loss, no duplicate and no
orphan afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from gateway.credentials import CredentialFile
from tests.conftest import HR_MAP, OPENLDAP_MAP, SERVICE_DN
from tests.sandbox.children import free_port
from tests.sandbox.hr_api import HrApi
from tests.sandbox.slapd import Slapd

REPO = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 3.0
CALL_TIMEOUT = 2.0
PROMISE = REQUEST_TIMEOUT + 1.0  # every answer within the deadline plus one second
# What the suite asserts: the promise, plus a second for a machine shared by many test runs
# (the client's own clock includes being scheduled). tests/perf measures the promise itself.
BOUND = PROMISE + 1.0


@dataclass
class Answer:
    method: str
    user: str
    status: int | None  # None: no answer at all (the client gave up)
    seconds: float
    detail: str = ""
    retry_after: str | None = None
    finished: float = field(default_factory=time.monotonic)


@dataclass
class Gateway:
    url: str  # the Tenant URL
    headers: dict
    log: Path
    process: subprocess.Popen
    answers: list[Answer] = field(default_factory=list)

    def send(self, method: str, path: str, user: str = "", json: dict | None = None) -> Answer:
        started = time.monotonic()
        try:
            response = requests.request(method, self.url + path, json=json, headers=self.headers, timeout=BOUND + 30)
        except requests.RequestException:
            answer = Answer(method, user, None, time.monotonic() - started)
        else:
            body = response.json() if response.content else {}
            answer = Answer(
                method,
                user,
                response.status_code,
                time.monotonic() - started,
                str(body.get("detail", "")),
                response.headers.get("Retry-After"),
            )
        self.answers.append(answer)
        return answer

    def served_again(self, within: float = 10.0) -> bool:
        """Whether a read is answered 200 within `within` seconds (each worker's breaker probes
        every two seconds, so a worker that saw the failure answers 503 until its probe)."""
        until = time.monotonic() + within
        while time.monotonic() < until:
            if self.send("GET", "/Users?count=1").status == 200:
                return True
            time.sleep(0.2)
        return False

    def total(self) -> int:
        """The number of users, as a listing counts them (`count=0`), each time on a new
        connection: any worker may answer (retried until the gateway answers)."""
        for _ in range(100):
            response = requests.get(f"{self.url}/Users", params={"count": "0"}, headers=self.headers, timeout=30)
            if response.status_code == 200:
                return response.json()["totalResults"]
            time.sleep(0.2)
        raise AssertionError("the gateway did not answer a listing")

    def find(self, user: str) -> list[dict]:
        """Users by userName, as Entra looks them up (retried until the gateway answers)."""
        for _ in range(100):
            response = requests.get(
                f"{self.url}/Users", params={"filter": f'userName eq "{user}"'}, headers=self.headers, timeout=30
            )
            if response.status_code == 200:
                return response.json()["Resources"]
            time.sleep(0.2)
        raise AssertionError(f"the gateway did not answer a lookup of {user}")


def _settings(folder: Path, tenant: str, request_timeout: float, top: str = "") -> Path:
    settings = folder / "settings.yaml"
    settings.write_text(
        top + f"request_timeout: {request_timeout}\n"
        "tenants:\n"
        "  - name: faults\n"
        "    base_path: /scim/v2\n"
        "    tokens_file: tokens.yaml\n"
        "    limits: {rate: null}\n" + tenant
    )
    return settings


@contextmanager
def serve(folder: Path, tenant: str, request_timeout: float = REQUEST_TIMEOUT, top: str = "") -> Iterator[Gateway]:
    """A real `scim-gateway serve` with the shipped gunicorn settings (2 workers x 4 threads);
    `top` adds top-level settings (audit_log, ...)."""
    settings = _settings(folder, tenant, request_timeout, top)
    token = CredentialFile(folder / "tokens.yaml").add("entra")
    port = free_port()
    log = folder / "gateway.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "serve",
                "--config",
                str(settings),
                "--listen",
                f"127.0.0.1:{port}",
                "--gunicorn-config",
                str(REPO / "deploy" / "gunicorn.conf.py"),
            ],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")
            time.sleep(0.1)
        yield Gateway(f"{base}/scim/v2", {"Authorization": f"Bearer {token}"}, log, process)
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def own_slapd(tmp_path) -> Iterator[Slapd]:
    server = Slapd(tmp_path / "slapd")
    server.start()
    yield server
    os.kill(server.process.pid, signal.SIGCONT) if server.process and server.process.poll() is None else None
    server.stop()


def ldap_tenant(slapd: Slapd, call_timeout: float = CALL_TIMEOUT) -> str:
    return (
        f"    mapping: {OPENLDAP_MAP}\n"
        "    ldap:\n"
        f"      url: {slapd.url}\n"
        f"      bind_dn: {SERVICE_DN}\n"
        f"      password_file: {slapd.service_password_file}\n"
        f"      timeout: {call_timeout}\n"
        "      retry_after: 5\n"
    )


@pytest.fixture
def ldap_gateway(own_slapd, tmp_path) -> Iterator[Gateway]:
    with serve(tmp_path, ldap_tenant(own_slapd)) as gateway:
        yield gateway


@pytest.fixture
def own_hr_api(tmp_path) -> Iterator[HrApi]:
    server = HrApi(tmp_path / "hr-api", rate=100000, burst=100000)
    server.start()
    yield server
    os.kill(server.process.pid, signal.SIGCONT) if server.process and server.process.poll() is None else None
    server.stop()


@pytest.fixture
def rest_gateway(own_hr_api, tmp_path) -> Iterator[Gateway]:
    tenant = (
        f"    mapping: {HR_MAP}\n"
        "    rest:\n"
        f"      base_url: {own_hr_api.url}\n"
        f"      auth: {{type: api_key, header: X-Api-Key, key_file: {own_hr_api.key_file}}}\n"
        f"      timeout: {CALL_TIMEOUT - 1}\n"
        f"      retry_budget: {CALL_TIMEOUT}\n"
        "      retry_after: 5\n"
    )
    with serve(tmp_path, tenant) as gateway:
        yield gateway
