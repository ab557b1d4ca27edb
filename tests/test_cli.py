"""The scim-gateway command and the quick start, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from gateway.cli import main
from tests.sandbox.children import free_port

REPO = Path(__file__).resolve().parents[1]


def test_mapping_check_accepts_the_shipped_map(capsys):
    assert main(["mapping", "check", str(REPO / "mappings" / "openldap.yaml")]) == 0
    assert "ok: users (23 attributes)" in capsys.readouterr().out


def test_mapping_check_reports_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nusers:\n  ldap: {base: x, dn: 'uid={uid},x', object_classes: [a]}\n  attributes:\n    userName: uid\n    nosuch: x\n"
    )
    assert main(["mapping", "check", str(bad)]) == 2
    assert f"{bad}:6: 'nosuch' is not an attribute of User" in capsys.readouterr().err


def test_token_create_list_revoke(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PW", "x")
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "tenants:\n  - {name: t, base_path: /scim/v2, mapping: m.yaml, tokens_file: tokens.yaml,"
        " ldap: {url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: PW}}\n"
    )
    assert main(["token", "create", "--config", str(settings), "--name", "entra"]) == 0
    token = capsys.readouterr().out.split("Secret Token: ")[1].strip()
    assert token.startswith("scimgw_") and token not in (tmp_path / "tokens.yaml").read_text()
    assert main(["token", "list", "--config", str(settings)]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("entra\tscim\t") and token not in listing
    assert main(["token", "revoke", "--config", str(settings), "--name", "entra"]) == 0
    assert main(["token", "revoke", "--config", str(settings), "--name", "entra"]) == 1


def start_quickstart(state: Path, port: int, *options: str) -> tuple[subprocess.Popen, str, str]:
    """Run the quick start as a user does; return it with the Tenant URL and token it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.quickstart", *options, "--port", str(port), "--state", str(state)]
        + ([] if "--metrics-port" in options else ["--metrics-port", str(free_port())]),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = process.stdout.readline().strip()
    token = process.stdout.readline().strip()
    assert url == f"Tenant URL: http://127.0.0.1:{port}/scim/v2", url
    assert token.startswith("Secret Token: scimgw_"), token
    return process, url.split(": ", 1)[1], token.split(": ", 1)[1]


def _running(state: Path) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
        except OSError:
            continue
        if str(state) in command and stat != "Z" and int(pid) != os.getpid():
            found.append(command)
    return found


def test_quickstart_prints_the_portal_values_serves_entra_and_stops_cleanly(tmp_path, capsys):
    state = tmp_path / "state"
    port = free_port()
    process, tenant_url, token = start_quickstart(state, port)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        probe = requests.get(
            f"{tenant_url}/Users", params={"filter": 'userName eq "cf4d78e8-guid"'}, headers=headers, timeout=10
        )
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0
        created = requests.post(
            f"{tenant_url}/Users", json={"userName": "kept", "active": True}, headers=headers, timeout=10
        )
        assert created.status_code == 201
        assert (
            requests.get(f"{tenant_url}/Users", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code
            == 401
        )
        # Metrics on their own loopback port, no credential; the audit trail in the state folder.
        metrics_url = yaml.safe_load((state / "settings.yaml").read_text())["metrics_listen"]
        scraped = requests.get(f"http://{metrics_url}/metrics", timeout=10).text
        assert (
            'scim_gateway_requests_total{method="POST",resource="Users",status="201",tenant="quickstart"} 1.0'
            in scraped
        )
        assert main(["history", "--config", str(state / "settings.yaml"), "--json", "kept"]) == 0
        capsys.readouterr()
        # its directory is set up as the README says: check has nothing to warn about or leave untold
        assert main(["check", "--config", str(state / "settings.yaml")]) == 0
        report = capsys.readouterr().out
        assert report.rstrip().splitlines()[-1].startswith("all "), report
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        process.stdout.close()
    deadline = time.monotonic() + 5
    while _running(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(state) == []
    assert token not in "".join(
        p.read_text(errors="replace") for p in state.rglob("*") if p.is_file() and p.suffix in (".yaml", ".log")
    )

    # A second run starts on the same directory, with a new token; SIGTERM stops it as well.
    started = time.monotonic()
    process, tenant_url, second = start_quickstart(state, port)
    try:
        assert time.monotonic() - started < 15
        assert second != token
        kept = requests.get(
            f"{tenant_url}/Users",
            params={"filter": 'userName eq "kept"'},
            headers={"Authorization": f"Bearer {second}"},
            timeout=10,
        )
        assert kept.json()["totalResults"] == 1
        assert (
            requests.get(f"{tenant_url}/Users", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
            == 401
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        process.stdout.close()
