"""A real slapd frozen (SIGSTOP) and killed under concurrent requests through `scim-gateway serve`."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time

import requests

from gateway.credentials import CredentialFile
from gateway.web.app import create_app
from tests.conftest import OPENLDAP_MAP, Client, write_settings
from tests.faults.conftest import BOUND, ldap_tenant, serve
from tests.faults.scenario import check_data, run_clients
from tests.sandbox.children import frozen


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


def test_a_directory_that_trickles_its_answer_is_cut_off_at_the_deadline(slapd, tmp_path):
    """ldap3's timeout is per socket read: a server sending a byte now and then would hold a
    thread for ever. The watchdog shuts the socket down at the request's deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                listener.settimeout(0.2)
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"\x30\x84\x00\x00\x10\x00")  # an LDAP message of 4096 bytes, coming...
                while not stop.is_set():
                    try:
                        connection.sendall(b"\x00")  # ...one byte every 0.3 s
                    except OSError:
                        break
                    time.sleep(0.3)

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP, url=f"ldap://127.0.0.1:{listener.getsockname()[1]}")
    settings.write_text("request_timeout: 2\n" + settings.read_text())
    app = create_app(settings)
    client = Client(app.test_client(), CredentialFile(tmp_path / "tokens.yaml").add("entra"), app=app)
    try:
        started = time.monotonic()
        response = client.get("/Users")
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and response.headers["Retry-After"] == "17"
        assert elapsed < 2 + 1 + 1  # the deadline, the promised second, a second of slack
    finally:
        stop.set()
        server.join(5)
        listener.close()
        app.extensions["scim_gateway"].close()


def test_a_kept_sorted_list_on_a_frozen_directory_is_cut_off_at_the_deadline(own_slapd, tmp_path):
    """A listing reads a sorted list (VLV) kept on a connection of its own, outside the pool's
    run(): its reads get the request's time left too, not the directory call timeout."""
    settings = write_settings(tmp_path, own_slapd, OPENLDAP_MAP, timeout=10, top_yaml="request_timeout: 2\n")
    app = create_app(settings)
    client = Client(app.test_client(), CredentialFile(tmp_path / "tokens.yaml").add("entra"), app=app)
    try:
        for n in range(3):
            user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"kept{n}@contoso.com"}
            assert client.post("/Users", user).status_code == 201
        assert client.get("/Users?startIndex=2&count=1").json["totalResults"] == 3  # sorted and kept
        with frozen(own_slapd.process):
            started = time.monotonic()
            response = client.get("/Users?startIndex=2&count=1")
            elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert elapsed < 2 + 1 + 1  # the deadline, the promised second, a second of slack
    finally:
        app.extensions["scim_gateway"].close()


def test_a_frozen_directory_is_said_to_not_answer_not_to_be_unreachable(own_slapd, tmp_path, caplog):
    """A stopped slapd still accepts connections (the kernel does), so the bind is what hangs,
    and the watchdog's cut reads as "session terminated by server". The operator is told the
    directory did not answer in time, with the URL, and Entra the same."""
    settings = write_settings(tmp_path, own_slapd, OPENLDAP_MAP, timeout=1, top_yaml="request_timeout: 5\n")
    app = create_app(settings)
    client = Client(app.test_client(), CredentialFile(tmp_path / "tokens.yaml").add("entra"), app=app)
    try:
        with frozen(own_slapd.process), caplog.at_level(logging.WARNING):
            response = client.get('/Users?filter=userName eq "ada@contoso.com"')
            ready = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["detail"] == "the directory did not answer in time; retry later"
        assert ready.status_code == 503  # its own 2 s deadline ran out first
        assert ready.json["tenants"]["test"] == "the request ran out of time reaching the directory"
        assert f"the directory at {own_slapd.url} did not answer within 1.0 s" in caplog.text
        assert "cannot reach" not in caplog.text and "terminated by server" not in caplog.text
        assert client.get('/Users?filter=userName eq "ada@contoso.com"').status_code == 200  # thawed
        caplog.clear()
        with frozen(own_slapd.process), caplog.at_level(logging.WARNING):  # on a pooled connection
            response = client.get('/Users?filter=userName eq "ada@contoso.com"')
        assert response.status_code == 503
        assert response.json["detail"] == "the directory did not answer in time; retry later"
        assert f"the directory at {own_slapd.url} did not answer an operation within 1.0 s" in caplog.text
        assert "was lost" not in caplog.text
    finally:
        app.extensions["scim_gateway"].close()


def test_a_worker_killed_with_a_write_in_flight_leaves_an_unknown_audit_line(own_slapd, tmp_path, monkeypatch):
    """SIGKILL (the OOM killer) gives a worker no chance to write the audit line of a write it
    sent. Its master writes it, from the worker's journal, with the outcome unknown."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))  # the shared folder, known here
    audit = tmp_path / "audit.log"
    user = "killed@contoso.com"
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user, "active": True}
    title = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "title", "value": "Lost"}],
    }
    with serve(tmp_path, ldap_tenant(own_slapd), top=f"audit_log: {audit}\n") as gateway:
        shared = tmp_path / "metrics" / "workers"
        created = requests.post(f"{gateway.url}/Users", json=body, headers=gateway.headers, timeout=BOUND)
        assert created.status_code == 201, created.text
        with frozen(own_slapd.process):  # a PATCH of plain attributes is one modify: it is sent, and hangs
            path = f"/Users/{created.json()['id']}"
            sender = threading.Thread(target=gateway.send, args=("PATCH", path, user, title))
            sender.start()
            deadline = time.monotonic() + BOUND
            journals: list = []
            while time.monotonic() < deadline and not journals:
                journals = [p for p in shared.glob("audit-*.inflight") if p.stat().st_size > 0]
                time.sleep(0.02)
            assert journals, "the PATCH never reached the directory"
            worker = int(journals[0].name.split("-")[1].split(".")[0])
            os.kill(worker, signal.SIGKILL)
            sender.join(BOUND)
        for _ in range(100):  # the master reaps the worker and reads its journal
            if not journals[0].exists():
                break
            time.sleep(0.1)
        lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert f"Worker (pid:{worker}) was sent SIGKILL" in gateway.log.read_text()
    (line,) = [line for line in lines if line["operation"] == "patch"]
    assert line["outcome"] == "unknown" and line["id"] == created.json()["id"] and line["credential"] == "entra"
    assert line["reason"] == f"the worker (pid {worker}) ended before it could record the outcome"
    assert line["changes"] == [{"attribute": "title", "op": "replace", "values": ["Lost"]}]
    assert [line["outcome"] for line in lines] == ["applied", "unknown"]  # the create's, then the PATCH's


def test_a_gateway_killed_whole_writes_its_writes_in_flight_when_it_starts_again(own_slapd, tmp_path, monkeypatch):
    """Master and workers killed at once (the unit's cgroup, OOM): nobody read the journals. The
    next `serve` on the same folder (systemd keeps RuntimeDirectory across a restart) does."""
    folder = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    audit = tmp_path / "audit.log"
    (folder / "workers").mkdir(parents=True)
    line = {"audit": 1, "operation": "patch", "resource_type": "User", "id": "42", "outcome": "applied"}
    entry = json.dumps({"destination": str(audit), "line": line})
    (folder / "workers" / "audit-4242.inflight").write_text(f"B 1 {entry}\nB 2 {entry}\nE 2\n")
    with serve(tmp_path, ldap_tenant(own_slapd), top=f"audit_log: {audit}\n"):
        (recovered,) = [json.loads(text) for text in audit.read_text().splitlines()]
    assert recovered == {
        **line,
        "outcome": "unknown",
        "reason": "the gateway was stopped before it could record the outcome",
    }
    assert not (folder / "workers" / "audit-4242.inflight").exists()
