"""The quick start: a throwaway OpenLDAP and the gateway in front of it, in the foreground.

Prints the two values the Azure portal asks for (Tenant URL and Secret Token), then waits.
Ctrl-C (SIGINT) or SIGTERM stops the gateway, then slapd, and leaves nothing running.
The directory's data is kept in the state folder between runs (Entra remembers the ids it
was given); `--fresh` starts from an empty directory. A new token is minted on every run and
only its hash is written to disk.
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

from gateway.sandbox.slapd import SERVICE_DN, Slapd, SlapdError, _die_with_parent
from gateway.tokens import StoredToken, digest, mint, write_tokens

REPO = Path(__file__).resolve().parents[2]


def write_settings(state: Path, slapd: Slapd, mapping: Path, base_path: str) -> Path:
    settings = state / "settings.yaml"
    settings.write_text(
        "# Written by the quick start on every run.\n"
        "tenants:\n"
        "  - name: quickstart\n"
        f"    base_path: {base_path}\n"
        f"    mapping: {mapping}\n"
        "    tokens_file: tokens.yaml\n"
        "    ldap:\n"
        f"      url: {slapd.url}\n"
        f"      bind_dn: {SERVICE_DN}\n"
        f"      password_file: {slapd.service_password_file}\n"
    )
    return settings


def fresh_token(state: Path) -> str:
    """One new token per run; older quick-start tokens stop working."""
    token = mint()
    write_tokens(
        state / "tokens.yaml",
        [StoredToken("quickstart", digest(token), "scim", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))],
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


def stop(process: subprocess.Popen | None, timeout: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/quickstart.sh", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the gateway's port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--state", type=Path, default=REPO / ".quickstart", help="where the directory and settings live"
    )
    parser.add_argument("--fresh", action="store_true", help="start from an empty directory")
    args = parser.parse_args(argv)

    if not port_is_free(args.host, args.port):
        print(f"port {args.port} on {args.host} is in use; choose another with --port N", file=sys.stderr)
        return 1
    args.state.mkdir(parents=True, exist_ok=True)
    stopping = {"signal": None}

    def on_signal(number, _frame):
        stopping["signal"] = number

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    slapd = Slapd(args.state / "slapd")
    if args.fresh:
        slapd.wipe()
    gateway: subprocess.Popen | None = None
    try:
        slapd.start()
        settings = write_settings(args.state, slapd, REPO / "mappings" / "openldap.yaml", "/scim/v2")
        token = fresh_token(args.state)
        gateway = subprocess.Popen(
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
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            preexec_fn=_die_with_parent,
        )
        shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        wait_until_healthy(f"http://{shown_host}:{args.port}/healthz", gateway)
        print(f"Tenant URL: http://{shown_host}:{args.port}/scim/v2", flush=True)
        print(f"Secret Token: {token}", flush=True)
        print(f"(directory: {slapd.url}, data in {slapd.root}; Ctrl-C stops everything)", file=sys.stderr, flush=True)
        while stopping["signal"] is None:
            if gateway.poll() is not None:
                print(f"the gateway exited with {gateway.returncode}", file=sys.stderr)
                return 1
            if slapd.process is not None and slapd.process.poll() is not None:
                print("slapd exited; see its log in " + str(slapd.root / "slapd.log"), file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    except (SlapdError, RuntimeError) as error:
        print(f"quick start failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop(gateway)
        slapd.stop()


if __name__ == "__main__":
    sys.exit(main())
