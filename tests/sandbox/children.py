"""Child processes of the tests and the quick start (slapd, the reference HR API, the gateway): started in a
session of their own so Ctrl-C reaches only the quick start, killed by Linux if the process that
started them dies, stopped with terminate-then-kill. Shared by the quick start and the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway import privatefiles


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_private(path: Path, text: str) -> None:
    """A file only its owner can read (passwords, keys): the gateway's own writer."""
    privatefiles.write_private(path, text + "\n")


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if its parent dies without stopping it (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def spawn(command: list[str], log: Path | None = None, **options) -> subprocess.Popen:
    """Start a child in its own session; its output goes to `log` (appended) when given."""
    if log is None:
        return subprocess.Popen(command, preexec_fn=die_with_parent, start_new_session=True, **options)
    with open(log, "ab") as output:
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            start_new_session=True,
            **options,
        )


def wait_listening(process: subprocess.Popen, port: int, timeout: float, what: str, error: type[Exception]) -> None:
    """Return once `port` on 127.0.0.1 accepts connections; stop the child and raise `error` if
    it exits or does not listen in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise error(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    stop(process)
    raise error(f"{what} did not listen on port {port} within {timeout}s")


def stop(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def frozen(process: subprocess.Popen) -> Iterator[None]:
    """The process stopped (SIGSTOP) for the block: it holds its sockets and answers nothing.
    The signal is delivered asynchronously, so the block starts once every thread is stopped:
    a request sent in between would be answered."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        _wait_until_stopped(process.pid)
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _wait_until_stopped(pid: int, seconds: float = 5.0) -> None:
    give_up = time.monotonic() + seconds
    threads = Path(f"/proc/{pid}/task")
    while any(_state(task / "stat") not in "Tt" for task in threads.iterdir()):
        assert time.monotonic() < give_up, f"process {pid} did not stop within {seconds} s"
        time.sleep(0.001)


def _state(stat: Path) -> str:
    """A thread's state letter from /proc (after the command name, which may hold spaces)."""
    try:
        return stat.read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:  # the thread ended
        return "T"
