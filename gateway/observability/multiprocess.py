"""Metrics from every gunicorn worker, added up (prometheus-client's multiprocess mode).

Each worker counts in files of its own in PROMETHEUS_MULTIPROC_DIR, and whoever answers
`/metrics` adds up every file there. prometheus-client decides how to count when it is first
imported, so `prepare()` must run before anything imports it: the CLI's `serve` calls it first
thing, and deploy/gunicorn.conf.py calls it for those who run gunicorn themselves. This module
imports prometheus-client only inside its functions for that reason.

The directory is the operator's when PROMETHEUS_MULTIPROC_DIR is set (one per gateway instance,
e.g. systemd's RuntimeDirectory), emptied at start so a previous run's counts do not linger;
otherwise a private one is made (in /dev/shm when it can be: the counts are written on every
request) and removed when the master exits.

The same folder holds `workers/`, for what the workers tell each other (the LDAP backend's write
marks, gateway/backends/ldap/marks.py) and each worker's writes in flight
(gateway/observability/inflight.py: what the master writes to the audit trail for a killed
one). A worker's mark files there are named `<pid>-<rest>`, their times are CLOCK_MONOTONIC,
and when it exits they become `exited-<rest>`, stamped with the time its exit was seen: a worker
killed during a write may have done it then, unannounced.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
SHARED = "workers"
log = logging.getLogger(__name__)
_prepared: dict[str, str] = {}


def prepare() -> Path | None:
    """The directory every process of this gateway counts in, ready and empty (once per process).

    None if it is too late: prometheus-client was imported already and counts in memory."""
    if "dir" in _prepared:
        return Path(_prepared["dir"])
    if "prometheus_client" in sys.modules and not active():
        return None
    given = os.environ.get(ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        if (folder / SHARED).is_dir():  # a master killed with its workers: say what they left in flight
            from gateway.observability import inflight

            inflight.recover_all(folder / SHARED, "the gateway was stopped before it could record the outcome")
        shutil.rmtree(folder / SHARED, ignore_errors=True)
    else:
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        folder = Path(tempfile.mkdtemp(prefix="scim-gateway-metrics-", dir=base))
        os.environ[ENV] = str(folder)
        atexit.register(_remove, folder, os.getpid())
    _prepared["dir"] = str(folder)
    return folder


def _remove(folder: Path, owner: int) -> None:
    """At exit, in the process that made the folder (the master), not in a worker it forked."""
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def active() -> bool:
    """True when this process counts in files (multiprocess mode), not in its own memory."""
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


def registry():
    """What `/metrics` shows: every process's counts in multiprocess mode, else this process's."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if not active():
        return REGISTRY
    collected = CollectorRegistry()
    MultiProcessCollector(collected)
    return collected


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The metrics as text, in the format the scraper asked for (Prometheus or OpenMetrics)."""
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry()), content_type


def shared_folder() -> Path | None:
    """The folder every process of this gateway shares (see the module docstring); None when
    this process was not started by `serve` or deploy/gunicorn.conf.py (one process alone)."""
    given = os.environ.get(ENV)
    return Path(given) / SHARED if given else None


def child_exit(server, worker) -> None:
    """gunicorn's hook in the master when a worker has exited: drop its live gauges, and hand
    its files in the shared folder on as the exit's (see the module docstring)."""
    if active():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
    folder = shared_folder()
    if folder is not None:
        from gateway.observability import inflight

        why = f"the worker (pid {worker.pid}) ended before it could record the outcome"
        inflight.recover_exited(folder, worker.pid, why)
        now = time.monotonic_ns()
        for owned in folder.glob(f"{worker.pid}-*"):
            exited = owned.with_name("exited-" + owned.name.split("-", 1)[1])
            try:
                owned.replace(exited)  # one file per name, however many workers exit
                os.utime(exited, ns=(now, now))
            except OSError:
                log.warning("could not hand on the files of exited worker %s in %s", worker.pid, folder)


def serve_metrics(listen: str) -> None:
    """Answer `/metrics` on HOST:PORT from a thread of the gunicorn master: it adds up every
    worker's files, and still answers when every worker is busy."""
    from prometheus_client import start_http_server

    host, _, port = listen.rpartition(":")
    start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=registry())
    log.info("metrics on http://%s/metrics", listen)
