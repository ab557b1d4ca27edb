"""The reference legacy HR API (tests/hr_api/server.py) as a child process, for the quick start
and the tests, the way slapd.py runs a throwaway OpenLDAP.

Its folder holds the API key (mode 600, made once) and the employees (a JSON file), so a second
run serves the same employees under the same ids. It runs in the foreground as our child and
dies with us.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from tests.sandbox import children
from tests.sandbox.children import free_port

SERVER = Path(__file__).resolve().parents[1] / "hr_api" / "server.py"


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
        children.write_private(self.key_file, "hrk_" + secrets.token_urlsafe(24))

    def wipe(self) -> None:
        """Forget every employee and the key: the next start begins empty."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self, timeout: float = 10.0) -> None:
        if not SERVER.exists():
            raise HrApiError(f"the reference HR API is part of the source tree ({SERVER} is missing)")
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
        self.process = children.spawn(command, self.root / "hr-api.log")
        what = f"the HR API (its log: {self.root / 'hr-api.log'})"
        children.wait_listening(self.process, self.port, timeout, what, HrApiError)

    def stop(self) -> None:
        children.stop(self.process)
        self.process = None

    def __enter__(self) -> HrApi:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
