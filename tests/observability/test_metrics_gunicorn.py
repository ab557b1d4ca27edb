"""`scim-gateway serve` with two gunicorn workers: every worker's requests are counted, across a
reload that replaces them all, and `metrics_listen` answers with no credential."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from gateway.credentials import CredentialFile
from tests.conftest import OPENLDAP_MAP, REPO, write_settings
from tests.sandbox.children import free_port


def _wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _scrape(url: str) -> dict[tuple, float]:
    try:
        text = requests.get(url, timeout=5).text
    except requests.RequestException:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _workers(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


@pytest.fixture
def served(slapd, directory, tmp_path):
    """A real gateway: master and two workers, metrics on a port of their own."""
    metrics_port, port = free_port(), free_port()
    settings = write_settings(
        tmp_path, slapd, OPENLDAP_MAP, top_yaml=f"log_format: json\nmetrics_listen: 127.0.0.1:{metrics_port}\n"
    )
    token = CredentialFile(tmp_path / "tokens.yaml").add("entra")
    metrics_dir = tmp_path / "metrics"
    with open(tmp_path / "gateway.log", "wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gateway.cli", "serve", "--config", str(settings)),
                *("--listen", f"127.0.0.1:{port}", "--gunicorn-config", str(REPO / "deploy" / "gunicorn.conf.py")),
            ],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _healthy(base), "the gateway")
        _wait_for(lambda: len(_workers(process.pid)) == 2, "two workers")
        yield process, f"{base}/scim/v2", {"Authorization": f"Bearer {token}"}, metrics_port, metrics_dir
    finally:
        process.terminate()
        process.wait(30)
    assert (tmp_path / "gateway.log").read_text().count('"level": "error"') == 0


def _healthy(base: str) -> bool:
    """The gateway answers (a worker still booting on a busy machine may keep it waiting)."""
    try:
        return requests.get(f"{base}/healthz", timeout=5).ok
    except requests.RequestException:
        return False


def _send(base: str, headers: dict, count: int) -> list[int]:
    def one(index: int) -> int:
        with requests.Session() as session:  # a new connection each time: any worker may take it
            if index % 3 == 0:
                return session.get(f"{base}/Users/nobody-{index}", headers=headers, timeout=10).status_code
            return session.get(f"{base}/Users?count=1", headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, range(count)))


def _users_requests(samples: dict) -> dict[str, float]:
    found: dict[str, float] = {}
    for (name, labels), amount in samples.items():
        labels = dict(labels)
        if name == "scim_gateway_requests_total" and labels["resource"] == "Users":
            found[labels["status"]] = found.get(labels["status"], 0) + amount
    return found


def test_two_workers_counts_add_up_across_a_reload_on_the_metrics_port(served):
    process, base, headers, metrics_port, metrics_dir = served
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    first = _send(base, headers, 30)
    old_workers = _workers(process.pid)

    os.kill(process.pid, signal.SIGHUP)  # new workers replace both old ones
    _wait_for(lambda: _workers(process.pid) and not _workers(process.pid) & old_workers, "new workers")
    second = _send(base, headers, 30)

    sent = first + second
    counted = _users_requests(_scrape(metrics_url))
    assert counted == {"200": sent.count(200), "404": sent.count(404)}
    samples = _scrape(metrics_url)
    assert samples[("scim_gateway_config_reloads_total", (("result", "ok"),))] == 1
    assert samples[("scim_gateway_config_last_reload_successful", ())] == 1
    # Counts from every generation of workers were added up; the old ones' live gauges were dropped.
    pids = {int(m.group(1)) for f in metrics_dir.iterdir() if (m := re.match(r"counter_(\d+)\.db", f.name))}
    assert pids & old_workers and pids & _workers(process.pid)
    # The master drops a worker's live gauges in child_exit, just after reaping it.
    _wait_for(
        lambda: not any(f"gauge_livesum_{pid}.db" in os.listdir(metrics_dir) for pid in old_workers),
        "the old workers' live gauges to go",
    )
    samples = _scrape(metrics_url)
    connections = [v for (name, _), v in samples.items() if name == "scim_gateway_directory_connections"]
    # two workers of four threads, and each worker's kept sorted lists (listings: ldap/views.py)
    assert 1 <= sum(connections) <= 2 * (4 + 2)
    # The metrics port needs no credential; the main port has no /metrics without metrics_allow_from.
    assert requests.get(base.replace("/scim/v2", "/metrics"), timeout=5).status_code == 404
