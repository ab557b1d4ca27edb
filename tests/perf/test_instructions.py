"""Benchmark: the instructions the gateway runs per request of Entra's cycle, counted by valgrind.

Run by hand (not part of the suite; needs `apt-get install valgrind`):

    .venv/bin/python -m pytest -m perf -s tests/perf/test_instructions.py
    SCIM_GATEWAY_LDAP_CLIENT=python-ldap PERF_USERS=25 .venv/bin/python -m pytest -m perf -s tests/perf/test_instructions.py

Rates and CPU times on a shared machine move by 15% or more from one run to the next of the
same code (measured: in-process CPU per request of 0.94 to 1.51 ms, one tree, one hour), so a
change worth a few percent cannot be seen in test_cycle.py. The number of instructions can:
two runs of one tree agree to 0.1%. This runs the cycle in process (inprocess.py: the app as a
worker builds it, no HTTP, no gunicorn) under callgrind twice, with no users and with
PERF_USERS users after the same warm-up, at once on two cores; the difference, divided by the
requests, is what one request costs the gateway and its LDAP client (slapd is not counted).
Compare two commits by checking each out in the same place and running it there: the same
code counted from two checkouts (/work/main and a git worktree) has differed by up to 1.6%,
more than most changes are worth. The same count of the cycle benchmark's bound
(floor_app.py: Flask making the ceiling's one directory operation per request, with no logic of
its own) follows, so the difference is what the gateway's own work costs: authentication, SCIM,
the map, its directory operations beyond the ceiling's, the log line, metrics and audit trail.

It fails when a request costs more than its client's budget (BUDGETS, or PERF_BUDGET): the
figure main reached, plus about 5% for the drift of the libraries it does not pin (Flask,
werkzeug, ldap3, python-ldap, prometheus-client). A change that passes the suite but makes every
request dearer shows here; if the libraries moved instead, the failure prints their versions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pytest

from gateway.backends.ldap.settings import DEFAULT_CLIENT
from tests.perf.harness import REPO, machine
from tests.perf.test_cycle import KINDS

pytestmark = pytest.mark.perf

USERS = int(os.environ.get("PERF_USERS", "25"))
COLLECTED = re.compile(r"Collected : (\d+)")
# Instructions per request on CPython 3.11: main at 3,221,442 (ldap3) and 2,714,197 (python-ldap)
# on 2026-12-03, plus about 5%.
BUDGETS = {"ldap3": 3_380_000, "python-ldap": 2_850_000}
UNPINNED = ("flask", "werkzeug", "ldap3", "python-ldap", "prometheus-client")


def _callgrind(folder: Path, users: int, *mode: str) -> subprocess.Popen:
    folder.mkdir(parents=True)
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "PYTHONHASHSEED": "0"}
    environment["PYTHONMALLOC"] = "malloc"  # valgrind's own allocator, not pymalloc's arenas
    (folder / "metrics").mkdir()
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=no"]
    command += [sys.executable, "-m", "tests.perf.inprocess", str(folder / "run"), str(users), *mode]
    return subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _instructions(process: subprocess.Popen) -> int:
    _, errors = process.communicate(timeout=1800)
    text = errors.decode("utf-8", "replace")
    found = COLLECTED.findall(text)
    assert process.returncode == 0 and found, text[-3000:]
    return int(found[-1])


def test_instructions_per_request():
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as scratch:
        base = _callgrind(Path(scratch) / "none", 0)
        counted = _callgrind(Path(scratch) / "users", USERS)
        before, after = _instructions(base), _instructions(counted)
        base = _callgrind(Path(scratch) / "bound-none", 0, "bound")
        counted = _callgrind(Path(scratch) / "bound-users", USERS, "bound")
        bound = (_instructions(counted) - _instructions(base)) / (USERS * len(KINDS))
    requests = USERS * len(KINDS)
    print(f"\nmachine: {machine()}")
    per_request = (after - before) / requests
    budget = int(os.environ.get("PERF_BUDGET") or BUDGETS[DEFAULT_CLIENT])
    print(
        f"{per_request:,.0f} instructions per request (LDAP client {DEFAULT_CLIENT},"
        f" {USERS} users x {len(KINDS)} requests, in process: tests/perf/inprocess.py); budget {budget:,}"
    )
    print(
        f"{bound:,.0f} for the bound (floor_app.py: Flask and the ceiling's directory operation, nothing else);"
        f" the gateway's own work {per_request - bound:,.0f}, {(per_request - bound) / per_request:.0%} of a request"
    )
    assert per_request <= budget, (
        f"a request costs {per_request:,.0f} instructions, over the {DEFAULT_CLIENT} budget of {budget:,}"
        f" (Python {sys.version.split()[0]}, {_versions()}): find what made it dearer by running this"
        " on the commit before; if only the libraries moved, set the new figure in BUDGETS"
    )


def _versions() -> str:
    found = []
    for name in UNPINNED:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)
