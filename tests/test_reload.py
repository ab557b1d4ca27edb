"""SIGHUP to `scim-gateway serve`: a new map is served without dropping a request; a broken
one is refused with its file and line in the log, and the last good one keeps serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from gateway.credentials import CredentialFile
from gateway.reload import LastGood, Reloader
from gateway.yamlfile import ConfigError
from tests.conftest import OPENLDAP_MAP, write_settings
from tests.sandbox.children import free_port

REPO = Path(__file__).resolve().parents[1]
TITLE_LINE = "    title: title                       # Entra: jobTitle\n"


def _wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _answer(url: str, headers: dict) -> int | None:
    try:
        return requests.get(url, headers=headers, timeout=5).status_code
    except requests.ConnectionError:
        return None


@pytest.fixture
def gateway(slapd, directory, tmp_path):
    """A real `scim-gateway serve` (gunicorn master and two workers) on a map we can rewrite."""
    assert TITLE_LINE in OPENLDAP_MAP.read_text()
    mapping = tmp_path / "map.yaml"
    mapping.write_text(OPENLDAP_MAP.read_text().replace(TITLE_LINE, ""))
    # no rate limit: the test asks as fast as it can, and a 429 is not what it is about
    settings = write_settings(tmp_path, slapd, mapping, tenant_yaml="    limits: {rate: null}\n")
    token = CredentialFile(tmp_path / "tokens.yaml").add("entra")
    port = free_port()
    log = tmp_path / "gateway.log"
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
        _wait_for(lambda: _answer(f"{base}/healthz", {}) == 200, "the gateway to start")
        yield process, mapping, log, f"{base}/scim/v2", {"Authorization": f"Bearer {token}"}
    finally:
        process.terminate()
        process.wait(30)


def test_sighup_serves_a_new_map_and_refuses_a_broken_one(gateway):
    process, mapping, log, tenant_url, headers = gateway
    by_title = f'{tenant_url}/Users?filter=title eq "Engineer"'
    assert _answer(by_title, headers) == 400  # title is not in the map yet

    failures: list[object] = []
    stop = threading.Event()

    def keep_asking():
        while not stop.is_set():
            status = _answer(f"{tenant_url}/Users?count=1", headers)
            if status != 200:
                failures.append(status)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        mapping.write_text(OPENLDAP_MAP.read_text())
        os.kill(process.pid, signal.SIGHUP)
        _wait_for(lambda: _answer(by_title, headers) == 200, "the new map to be served")
    finally:
        stop.set()
        asker.join()
    assert failures == [], "requests failed while the workers were replaced"

    mapping.write_text(OPENLDAP_MAP.read_text().replace("    title: title", "    title: 7title"))
    os.kill(process.pid, signal.SIGHUP)
    refused = _wait_for(
        lambda: "reload refused" in log.read_text(errors="replace") and log.read_text(errors="replace"),
        "the broken map to be refused",
    )
    assert f"{mapping}:" in refused and "'7title' is not a directory attribute name" in refused
    # gunicorn replaces its (two, deploy/gunicorn.conf.py) workers after every HUP; the last two
    # are built from the last good map.
    _wait_for(lambda: log.read_text(errors="replace").count("Booting worker") >= 6, "the new workers")
    assert process.poll() is None
    assert _answer(by_title, headers) == 200
    assert _answer(f"{tenant_url}/Users?count=1", headers) == 200


def test_a_reload_that_fails_keeps_the_configuration_and_says_where(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LDAP_PASSWORD", "x")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(OPENLDAP_MAP.read_text())
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "tenants:\n  - {name: t, base_path: /scim/v2, mapping: map.yaml, tokens_file: tokens.yaml,"
        " ldap: {url: 'ldap://127.0.0.1:1', bind_dn: cn=x, password_env: LDAP_PASSWORD}}\n"
    )
    reloader = Reloader(settings)
    first = reloader.load()
    mapping.write_text("version: 1\nusers: {attributes: {}}\n")
    assert reloader.reload() is False
    assert reloader.current is first
    assert f"reload refused, still serving the previous configuration: {mapping}:2:" in caplog.text
    assert reloader.build_app().extensions["scim_gateway"].tenants
    monkeypatch.delenv("LDAP_PASSWORD")
    mapping.write_text(OPENLDAP_MAP.read_text())
    assert reloader.reload() is False  # the settings cannot be loaded either: the same rule
    assert "LDAP_PASSWORD" in caplog.text


def test_a_restart_with_a_broken_map_serves_the_last_good_copy_loudly(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LDAP_PASSWORD", "x")
    etc = tmp_path / "etc"
    etc.mkdir()
    mapping = etc / "map.yaml"
    mapping.write_text(OPENLDAP_MAP.read_text())
    settings = etc / "settings.yaml"
    settings.write_text(
        "workers: 3\ntenants:\n  - {name: t, base_path: /scim/v2, mapping: map.yaml, tokens_file: tokens.yaml,"
        " ldap: {url: 'ldap://127.0.0.1:1', bind_dn: cn=x, password_env: LDAP_PASSWORD}}\n"
    )
    state = tmp_path / "state" / "last-good"
    Reloader(settings, LastGood(state)).load()
    assert sorted(p.name for p in state.iterdir()) == ["manifest.yaml", "map-t.yaml", "settings.yaml"]

    mapping.write_text("version: 1\nusers: {attributes: {}}\n")
    with pytest.raises(ConfigError):
        Reloader(settings).load()  # without a state folder, a broken map stops the start
    restarted = Reloader(settings, LastGood(state))
    served = restarted.load()
    assert served.settings.workers == 3 and served.settings.tenants[0].tokens_file == etc / "tokens.yaml"
    assert served.mappings["t"].users.rules
    assert f"{mapping}:2:" in caplog.text and "SERVING THE LAST GOOD CONFIGURATION" in caplog.text
    assert restarted.build_app().extensions["scim_gateway"].tenants
    assert "title" in (state / "map-t.yaml").read_text()  # the broken map did not replace the copy
