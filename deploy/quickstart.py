"""The quick start: a throwaway OpenLDAP and the gateway in front of it, in the foreground.

Prints the two values the Azure portal asks for (Tenant URL and Secret Token), then waits.
Ctrl-C (SIGINT) or SIGTERM stops the gateway, then slapd, and leaves nothing running.
The directory's data is kept in the state folder between runs (Entra remembers the ids it
was given); `--fresh` starts from an empty directory. A new token is minted on every run and
only its hash is written to disk.

`--backend hr-rest` runs the reference legacy HR REST API (tests/hr_api) instead of slapd, with
mappings/hr-rest-example.yaml; everything else is the same.

It runs from a source checkout (`./deploy/quickstart.sh`, or `python -m deploy.quickstart` from the
top folder), never from an installed package: the throwaway servers are the tests' own
(tests/sandbox).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from gateway.credentials import StoredCredential, digest, mint, write_tokens
from tests.sandbox import children
from tests.sandbox.hr_api import HrApi
from tests.sandbox.slapd import SERVICE_DN, Slapd, SlapdError

REPO = Path(__file__).resolve().parents[1]


def write_settings(
    state: Path, connection: dict, mapping: Path, base_path: str, metrics_port: int, exposed: bool = False
) -> Path:
    """The settings file: one tenant, its map, and the connection block of its downstream; the
    audit trail in the state folder (so `scim-gateway history` works), metrics on loopback.
    `exposed`: --host names an address other hosts reach, a demo exposed on purpose."""
    tenant = {
        "name": "quickstart",
        "base_path": base_path,
        "mapping": str(mapping),
        "tokens_file": "tokens.yaml",
        **connection,
    }
    settings = state / "settings.yaml"
    top: dict = {"audit_log": str(state / "audit.log"), "metrics_listen": f"127.0.0.1:{metrics_port}"}
    if exposed:
        top["accept_direct_exposure"] = True
    body = yaml.safe_dump({**top, "tenants": [tenant]}, sort_keys=False, default_flow_style=False)
    settings.write_text("# Written by the quick start on every run.\n" + body)
    return settings


def ldap_connection(slapd: Slapd) -> dict:
    return {"ldap": {"url": slapd.url, "bind_dn": SERVICE_DN, "password_file": str(slapd.service_password_file)}}


def rest_connection(hr_api: HrApi) -> dict:
    auth = {"type": "api_key", "header": "X-Api-Key", "key_file": str(hr_api.key_file)}
    return {"rest": {"base_url": hr_api.url, "auth": auth}}


def downstream(backend: str, state: Path) -> tuple[Slapd | HrApi, Path, str]:
    """What the gateway writes to: the server (not started), its map, and how to name it."""
    if backend == "hr-rest":
        return HrApi(state / "hr-api"), REPO / "mappings" / "hr-rest-example.yaml", "the HR API"
    # the README's read access to cn=config, so that `scim-gateway check` compares the indexes too
    return Slapd(state / "slapd", config_readable=True), REPO / "mappings" / "openldap.yaml", "slapd"


def fresh_token(state: Path) -> str:
    """One new token per run; older quick-start tokens stop working."""
    token = mint()
    write_tokens(
        state / "tokens.yaml",
        [StoredCredential("quickstart", digest(token), "scim", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))],
    )
    return token


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode} before it was ready")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the gateway did not answer {url} within {timeout:.0f}s")


def watch(gateway: subprocess.Popen, server: Slapd | HrApi, name: str, stopping: dict) -> int:
    """Wait for a signal (0), or for the gateway or its downstream to die (1)."""
    while stopping["signal"] is None:
        if gateway.poll() is not None:
            print(f"the gateway exited with {gateway.returncode}", file=sys.stderr)
            return 1
        if server.process is not None and server.process.poll() is not None:
            log = "slapd.log" if isinstance(server, Slapd) else "hr-api.log"
            print(f"{name} exited; see its log in {server.root / log}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/quickstart.sh", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the gateway's port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--metrics-port", type=int, default=9464, help="/metrics on 127.0.0.1, no credential (default 9464)"
    )
    parser.add_argument(
        "--state", type=Path, default=REPO / ".quickstart", help="where the directory and settings live"
    )
    parser.add_argument("--fresh", action="store_true", help="start from an empty directory")
    parser.add_argument(
        "--backend",
        choices=["ldap", "hr-rest"],
        default="ldap",
        help="what the gateway writes to: a throwaway OpenLDAP (default) or the reference HR REST API",
    )
    args = parser.parse_args(argv)

    if not port_is_free(args.host, args.port):
        print(f"port {args.port} on {args.host} is in use; choose another with --port N", file=sys.stderr)
        return 1
    if not port_is_free("127.0.0.1", args.metrics_port):
        print(f"port {args.metrics_port} is in use; choose another with --metrics-port N", file=sys.stderr)
        return 1
    args.state.mkdir(parents=True, exist_ok=True)
    stopping = {"signal": None}

    def on_signal(number, _frame):
        stopping["signal"] = number

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    server, mapping, name = downstream(args.backend, args.state)
    if args.fresh:
        server.wipe()
    gateway: subprocess.Popen | None = None
    try:
        server.start()
        connection = ldap_connection(server) if isinstance(server, Slapd) else rest_connection(server)
        exposed = args.host not in ("127.0.0.1", "localhost", "::1")
        settings = write_settings(args.state, connection, mapping, "/scim/v2", args.metrics_port, exposed)
        token = fresh_token(args.state)
        # Ctrl-C reaches us only (the child has a session of its own); we stop the children in order.
        gateway = children.spawn(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "serve",
                "--config",
                str(settings),
                "--listen",
                f"{args.host}:{args.port}",
                "--gunicorn-config",
                str(REPO / "deploy" / "gunicorn.conf.py"),
            ],
        )
        shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        wait_until_healthy(f"http://{shown_host}:{args.port}/healthz", gateway)
        print(f"Tenant URL: http://{shown_host}:{args.port}/scim/v2", flush=True)
        print(f"Secret Token: {token}", flush=True)
        where = "directory" if isinstance(server, Slapd) else "HR API"
        print(f"({where}: {server.url}, data in {server.root}; Ctrl-C stops everything)", file=sys.stderr, flush=True)
        print(
            f"(metrics: http://127.0.0.1:{args.metrics_port}/metrics; audit trail: {args.state / 'audit.log'},"
            f" read it with: scim-gateway history --config {settings} USERNAME)",
            file=sys.stderr,
            flush=True,
        )
        return watch(gateway, server, name, stopping)
    except (SlapdError, RuntimeError) as error:
        print(f"quick start failed: {error}", file=sys.stderr)
        return 1
    finally:
        children.stop(gateway, timeout=15)
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
