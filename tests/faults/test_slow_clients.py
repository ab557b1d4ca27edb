"""A gateway exposed without a proxy: `serve` refuses it unless the settings say so, and silent
or slowloris sockets against a real `scim-gateway serve` (loopback only) cannot stall it for long."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from gateway.serve import check_exposure
from gateway.settings import load_settings
from gateway.worker import READ_TIMEOUT
from gateway.yamlfile import ConfigError
from tests.conftest import OPENLDAP_MAP, write_settings
from tests.faults.conftest import REPO, serve

SLOW_SOCKETS = 8  # as many as the shipped settings have threads (2 workers x 4)


def _settings(tmp_path: Path, slapd, top: str = ""):
    path = write_settings(tmp_path, slapd, OPENLDAP_MAP)
    path.write_text(top + path.read_text())
    return load_settings(path)


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "unix:/run/gw.sock"])
def test_a_loopback_or_unix_listen_address_is_accepted(tmp_path, slapd, listen):
    check_exposure(_settings(tmp_path, slapd), listen)


@pytest.mark.parametrize("top", ["behind_proxy: true\n", "trusted_proxies: 1\n", "accept_direct_exposure: true\n"])
def test_a_public_address_is_accepted_when_the_settings_say_why(tmp_path, slapd, top):
    check_exposure(_settings(tmp_path, slapd, top), "0.0.0.0:8080")


def test_serve_refuses_a_public_address_and_names_the_settings_to_change(tmp_path, slapd):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP)
    with pytest.raises(ConfigError, match=r"--listen 0\.0\.0\.0:8080 is reachable from other hosts"):
        check_exposure(load_settings(settings), "0.0.0.0:8080")
    finished = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(settings), "--listen", "0.0.0.0:1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert f"{settings}: --listen 0.0.0.0:1 is reachable from other hosts" in finished.stderr
    assert "behind_proxy: true" in finished.stderr and "accept_direct_exposure: true" in finished.stderr


def _slowloris(port: int, stop: threading.Event, closed: list) -> None:
    """A request whose headers never end: a byte every half second."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        while not stop.is_set():
            try:
                sock.sendall(b"X")
                sock.settimeout(0.5)
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        closed.append(time.monotonic())


def test_silent_and_slowloris_sockets_do_not_stall_the_gateway_for_long(tmp_path, slapd, directory):
    tenant = (
        f"    mapping: {OPENLDAP_MAP}\n    ldap:\n      url: {slapd.url}\n      bind_dn: cn=gateway,dc=example,dc=com\n"
        f"      password_file: {slapd.service_password_file}\n"
    )
    with serve(tmp_path, tenant) as gateway:
        port = int(gateway.url.split(":")[2].split("/")[0])
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        try:
            # 200 connections that say nothing hold no thread: a request goes through at once.
            assert requests.get(gateway.url.replace("/scim/v2", "/healthz"), timeout=5).status_code == 200
            stop, closed = threading.Event(), []
            started = time.monotonic()
            slow = [threading.Thread(target=_slowloris, args=(port, stop, closed)) for _ in range(SLOW_SOCKETS)]
            for thread in slow:
                thread.start()
            try:
                # Every thread may be held by a trickling request, but only until READ_TIMEOUT.
                answer = requests.get(gateway.url.replace("/scim/v2", "/healthz"), timeout=READ_TIMEOUT + 10)
                assert answer.status_code == 200
                for thread in slow:
                    thread.join(READ_TIMEOUT + 10)
                assert len(closed) == SLOW_SOCKETS  # the gateway hung up on every one of them
                assert max(closed) - started < READ_TIMEOUT + 5
            finally:
                stop.set()
        finally:
            for sock in silent:
                sock.close()
