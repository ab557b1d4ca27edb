"""The reference legacy HR API (tests/hr_api/server.py) as a child process, for the quick start
and the tests, the way slapd.py runs a throwaway OpenLDAP.

Its folder holds the API key (mode 600, made once) and the employees (a JSON file), so a second
run serves the same employees under the same ids. It runs in the foreground as our child and
dies with us.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from gateway.sandbox.slapd import _die_with_parent, _write_private, free_port

SERVER = Path(__file__).resolve().parents[2] / "tests" / "hr_api" / "server.py"


class HrApiError(RuntimeError):
    """The reference HR API could not be started; the message says why."""


class HrApi:
    def __init__(self, root: Path, port: int | None = None, rate: float = 20.0, burst: int = 40):
        self.root = root
        self.port = port
        self.rate = rate
        self.burst = burst
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The base URL the gateway's `rest:` settings point at."""
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def key_file(self) -> Path:
        return self.root / "api.key"

    @property
    def api_key(self) -> str:
        return self.key_file.read_text().strip()

    @property
    def data_file(self) -> Path:
        return self.root / "employees.json"

    def create(self) -> None:
        if self.key_file.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        _write_private(self.key_file, "hrk_" + secrets.token_urlsafe(24))

    def wipe(self) -> None:
        """Forget every employee and the key: the next start begins empty."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self, timeout: float = 10.0) -> None:
        if not SERVER.exists():
            raise HrApiError(f"the reference HR API ships with the source tree ({SERVER} is missing)")
        self.create()
        if not self.port:
            self.port = free_port()
        command = [
            sys.executable,
            str(SERVER),
            "--port",
            str(self.port),
            "--key-file",
            str(self.key_file),
            "--data",
            str(self.data_file),
            "--rate",
            str(self.rate),
            "--burst",
            str(self.burst),
        ]
        log = open(self.root / "hr-api.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HrApiError(f"the HR API exited with {self.process.returncode}; see {log.name}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        self.stop()
        raise HrApiError(f"the HR API did not listen on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> HrApi:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
