"""deploy/install.sh on this host, then the README's steps as an operator runs them: the skeleton
refuses to start until filled in, `check` passes as the service user, the service answers
/readyz and Entra's Test Connection, and an unreadable tokens file stops it with exit 2."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.sandbox.children import free_port
from tests.sandbox.slapd import SERVICE_DN

REPO = Path(__file__).resolve().parents[1]
USER = "scimgw-test"
# What an operator following the README has: not the test run's choice of LDAP client (tests/run.sh
# runs the suite a second time on python-ldap, an extra this install does not include).
README_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "SCIM_GATEWAY_LDAP_CLIENT"}

pytestmark = pytest.mark.skipif(
    os.getuid() != 0 or not Path("/usr/bin/python3").exists() or shutil.which("runuser") is None,
    reason="the install script runs as root on a Debian/Ubuntu host",
)


@pytest.fixture(scope="module")
def host():
    """The package installed by deploy/install.sh into a folder every user may enter."""
    root = Path(tempfile.mkdtemp(prefix="scim-gateway-install-", dir="/var/tmp"))
    root.chmod(0o755)
    paths = {
        "PREFIX": root / "opt",
        "ETC": root / "etc",
        "STATE": root / "var" / "lib" / "scim-gateway",
        "UNIT_DIR": root / "systemd",
    }
    env = {
        **README_ENVIRONMENT,
        **{k: str(v) for k, v in paths.items()},
        "SERVICE_USER": USER,
        "PYTHON": "/usr/bin/python3",
    }
    done = subprocess.run([REPO / "deploy" / "install.sh"], env=env, capture_output=True, text=True)
    try:
        assert done.returncode == 0, done.stderr
        assert "installed. Next" in done.stderr
        again = subprocess.run([REPO / "deploy" / "install.sh"], env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr  # a second run upgrades and keeps the settings
        yield paths
    finally:
        subprocess.run(["userdel", USER], capture_output=True)
        subprocess.run(["groupdel", USER], capture_output=True)
        shutil.rmtree(root)


def _run(host, *args, user: str | None = None, **options) -> subprocess.CompletedProcess:
    command = [str(host["PREFIX"] / "bin" / "scim-gateway"), *args]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    options.setdefault("env", README_ENVIRONMENT)
    return subprocess.run(command, capture_output=True, text=True, **options)


@contextlib.contextmanager
def _serving(host, settings: Path, state: Path, log: Path):
    """`scim-gateway serve` as the service user (as the unit runs it), until /readyz answers."""
    port = free_port()
    serve = [str(host["PREFIX"] / "bin" / "scim-gateway"), "serve", "--config", str(settings)]
    with open(log, "wb") as output:
        service = subprocess.Popen(
            ["runuser", "-u", USER, "--", *serve, "--listen", f"127.0.0.1:{port}"],
            env={**README_ENVIRONMENT, "STATE_DIRECTORY": str(state)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and service.poll() is None:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert service.poll() is None, log.read_text()
        yield base
    finally:
        # SIGTERM to the gunicorn master, as systemd stops the unit: runuser would kill it 2 s
        # after a SIGTERM of its own, before it removed its metrics folder in /dev/shm.
        children = Path(f"/proc/{service.pid}/task/{service.pid}/children")
        for master in children.read_text().split() if service.poll() is None else []:
            os.kill(int(master), signal.SIGTERM)
        service.wait(30)


def test_the_install_makes_the_user_the_folders_and_a_skeleton_that_says_what_to_fill_in(host):
    etc, state = host["ETC"], host["STATE"]
    assert subprocess.run(["id", USER], capture_output=True).returncode == 0
    assert (etc.owner(), etc.group(), etc.stat().st_mode & 0o777) == ("root", USER, 0o750)
    assert (state.owner(), state.stat().st_mode & 0o777) == (USER, 0o750)
    for name in ("settings.yaml", "openldap.yaml", "ldap.password"):
        assert ((etc / name).owner(), (etc / name).group(), (etc / name).stat().st_mode & 0o777) == (
            "root",
            USER,
            0o640,
        )
    refused = _run(host, "check", "--config", str(etc / "settings.yaml"))
    assert refused.returncode == 2
    assert f"{etc / 'ldap.password'} is empty" in refused.stderr


def test_the_unit_is_hardened_and_does_not_restart_a_broken_configuration(host):
    unit = host["UNIT_DIR"] / f"{USER}.service"
    text = unit.read_text()
    assert "RestartPreventExitStatus=2" in text and f"User={USER}" in text
    assert f"{host['PREFIX']}/bin/scim-gateway serve --config {host['ETC']}/settings.yaml" in text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    verified = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    for checked in (unit, REPO / "deploy" / "scim-gateway.service"):
        rating = subprocess.run([analyze, "security", "--offline=true", str(checked)], capture_output=True, text=True)
        level = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", rating.stdout).group(1))
        assert level <= 2.5, rating.stdout


def test_the_readme_steps_take_it_to_entras_test_connection(host, slapd):
    etc, state = host["ETC"], host["STATE"]
    settings = etc / "settings.yaml"
    (etc / "ldap.password").write_text(slapd.service_password_file.read_text())
    document = yaml.safe_load(settings.read_text())
    document["tenants"][0]["ldap"].update(url=slapd.url, bind_dn=SERVICE_DN)
    settings.write_text(yaml.safe_dump(document, sort_keys=False))

    created = _run(host, "token", "create", "--config", str(settings))
    assert created.returncode == 0, created.stderr
    token = created.stdout.split("Secret Token: ")[1].strip()
    assert (state / "tokens.yaml").owner() == USER
    checked = _run(host, "check", "--config", str(settings), user=USER)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    with _serving(host, settings, state, state.parent / "serve.log") as base:
        assert requests.get(f"{base}/readyz", timeout=5).json() == {"status": "ready", "tenants": {"default": "ok"}}
        test_connection = requests.get(
            f"{base}/scim/v2/Users",
            params={"filter": 'userName eq "2b2f5ee5-6f3e-4c6e-9d8e-1c1f1e0f6a1b"'},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert test_connection.status_code == 200 and test_connection.json()["totalResults"] == 0
    assert (state / "last-good" / "manifest.yaml").exists()

    mapping = etc / "openldap.yaml"
    mapping.chmod(0o600)  # root's alone: the service user cannot read the map any more
    log = state.parent / "restart.log"
    with _serving(host, settings, state, log) as base:
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
    restarted = log.read_text()
    assert f"{mapping}: cannot read: Permission denied (as user {USER})" in restarted
    assert "SERVING THE LAST GOOD CONFIGURATION" in restarted
    mapping.chmod(0o640)

    (state / "tokens.yaml").chmod(0o600)
    os.chown(state / "tokens.yaml", 0, 0)  # as `token create` once left it, run as root
    refused = _run(
        host, "serve", "--config", str(settings), user=USER, env={**README_ENVIRONMENT, "STATE_DIRECTORY": str(state)}
    )
    assert refused.returncode == 2
    assert f"cannot read {state / 'tokens.yaml'} as user {USER}" in refused.stderr
