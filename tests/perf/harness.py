"""What the benchmarks share: a real `scim-gateway serve` (gunicorn) on a throwaway slapd, CPU
and memory read from /proc, keep-alive HTTP clients cheap enough not to hide the gateway's cost,
and percentiles.

Nothing here asserts a time: the benchmarks print figures (the machine may be shared).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.credentials import CredentialFile
from tests.conftest import OPENLDAP_MAP, PATCH_OP, write_settings
from tests.sandbox.children import free_port, stop
from tests.sandbox.slapd import Slapd

REPO = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
GUNICORN_CONFIG = REPO / "deploy" / "gunicorn.conf.py"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Gateway:
    """A running `scim-gateway serve`: its master process, port and token."""

    process: subprocess.Popen
    port: int
    token: str
    log: Path

    @property
    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def cpu(self) -> float:
        """CPU of the master and its workers so far."""
        return cpu_seconds(self.process.pid) + sum(cpu_seconds(p) for p in self.workers)

    def worker_rss(self) -> list[float]:
        return [rss_mib(p) for p in self.workers]

    def client(self) -> Http:
        return Http(self.port, self.token)


@contextlib.contextmanager
def serve(folder: Path, slapd: Slapd, workers: int = 2, threads: int = 4, mapping: Path = OPENLDAP_MAP):
    """`scim-gateway serve` with deploy/gunicorn.conf.py, the rate limit lifted (the benchmark
    sends far faster than Entra), `workers` x `threads`."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = write_settings(folder, slapd, mapping, tenant_yaml="    limits: {rate: null}\n")
    settings.write_text(f"workers: {workers}\nthreads: {threads}\n" + settings.read_text())
    token = CredentialFile(folder / "tokens.yaml").add("perf")
    port = free_port()
    log = folder / "gateway.log"
    command = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(settings)]
    command += ["--listen", f"127.0.0.1:{port}", "--gunicorn-config", str(GUNICORN_CONFIG)]
    with _running(command, log) as process:
        gateway = Gateway(process, port, token, log)
        _wait_ready(gateway, workers)
        yield gateway


@contextlib.contextmanager
def serve_floor(
    folder: Path,
    bodies: dict[str, tuple[int, bytes, dict]],
    workers: int = 2,
    threads: int = 4,
    ldap: dict | None = None,
):
    """The floor app (floor_app.py) answering with `bodies`, under plain gunicorn with the
    gateway's gunicorn settings (deploy/gunicorn.conf.py: worker class, keep-alive) and the
    same workers and threads; with `ldap`, the bound (each request also makes the ceiling's
    directory operation)."""
    folder.mkdir(parents=True, exist_ok=True)
    canned = folder / "bodies.json"
    canned.write_text(json.dumps({kind: [s, b.decode(), h] for kind, (s, b, h) in bodies.items()}))
    port = free_port()
    log = folder / "floor.log"
    command = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads), "tests.perf.floor_app:create_app()"]
    environment = {**os.environ, "FLOOR_BODIES": str(canned)}
    if ldap is not None:
        environment["FLOOR_LDAP"] = json.dumps(ldap)
    with _running(command, log, environment) as process:
        floor = Gateway(process, port, "", log)
        _wait_ready(floor, workers)
        yield floor


@contextlib.contextmanager
def _running(command: list[str], log: Path, environment: dict | None = None) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop(process, 30)


def _wait_ready(gateway: Gateway, workers: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"the gateway exited; see {gateway.log}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200 and len(gateway.workers) >= workers:
                connection.close()
                return
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"the gateway did not start within {timeout:.0f}s; see {gateway.log}")


class Http:
    """One keep-alive connection speaking SCIM JSON, written straight on a socket.

    It stands in for Entra, whose CPU is not on the gateway's machine; here it shares the
    machine with the gateway, so it does as little as HTTP/1.1 allows: requests built as bytes,
    answers read by their Content-Length (the gateway never sends a chunked one). http.client
    cost about 0.3 ms of CPU per request, most of it parsing headers with the email package.
    """

    def __init__(self, port: int, token: str, base: str = "/scim/v2"):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = (
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n"
        ).encode()
        self.base = base.encode()
        self.buffer = b""
        self.last: tuple[int, bytes, dict] = (0, b"", {})  # the last answer as sent: status, body, Location

    def send(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        data = b"" if body is None else json.dumps(body).encode()
        head = b"%s %s%s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
            method.encode(),
            self.base,
            path.encode(),
            self.headers,
            len(data),
        )
        self.socket.sendall(head + data)
        status, headers, raw = self._answer()
        location = headers.get(b"location")
        self.last = (status, raw, {"Location": location.decode()} if location else {})
        return status, (json.loads(raw) if raw else None)

    def _answer(self) -> tuple[int, dict[bytes, bytes], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        assert b"transfer-encoding" not in headers, headers
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            self._receive()
        raw, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split(None, 2)[1]), headers, raw

    def _receive(self) -> None:
        chunk = self.socket.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def patch(self, path: str, operations: list[dict]) -> tuple[int, dict | None]:
        return self.send("PATCH", path, {"schemas": [PATCH_OP], "Operations": operations})

    def close(self) -> None:
        self.socket.close()


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def machine() -> str:
    cpus = os.cpu_count()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "?",
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpus} CPUs ({model}), load average {load}, Python {sys.version.split()[0]}"


def direct_member_changes(connection, group_dn: str, batches: list[list[str]]) -> tuple[list[float], list[float]]:
    """Each batch of member DNs added, then removed, straight with ldap3 on `connection` (then
    unbound): seconds per add and per remove, what the directory itself costs."""
    import ldap3

    adds: list[float] = []
    removes: list[float] = []
    for batch in batches:
        for operation, samples in ((ldap3.MODIFY_ADD, adds), (ldap3.MODIFY_DELETE, removes)):
            started = time.perf_counter()
            assert connection.modify(group_dn, {"member": [(operation, batch)]}), connection.result
            samples.append(time.perf_counter() - started)
    connection.unbind()
    return adds, removes
