"""Rate limits counted once for every worker and replica, in a real Redis (limits_storage)."""

from __future__ import annotations

import logging
import shutil
import time

import pytest

from gateway.credentials import CredentialFile
from gateway.settings import load_settings
from gateway.web.app import create_app
from gateway.yamlfile import ConfigError
from tests.conftest import OPENLDAP_MAP, Client, write_settings
from tests.sandbox import children

LIMITS = "    limits: {rate: 5/minute, failed_logins: 3/minute}\n"


@pytest.fixture
def redis_uri(tmp_path):
    """A throwaway redis-server on a unix socket (no TCP port), as our child."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    socket = tmp_path / "redis.sock"
    command = [server, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"]
    process = children.spawn([*command, "--daemonize", "no", "--dir", str(tmp_path)], tmp_path / "redis.log")
    for _ in range(100):
        if socket.exists():
            break
        assert process.poll() is None, (tmp_path / "redis.log").read_text()
        time.sleep(0.05)
    yield f"redis+unix://{socket}", process
    children.stop(process)


@pytest.fixture
def workers(slapd, directory, tmp_path):
    """`workers(storage, count)`: apps on one settings file, the gateway's workers (or replicas)."""
    apps = []

    def build(storage: str, count: int = 2) -> list[Client]:
        settings = write_settings(tmp_path, slapd, OPENLDAP_MAP, tenant_yaml=LIMITS)
        settings.write_text(f"limits_storage: {storage}\n" + settings.read_text())
        token = CredentialFile(tmp_path / "tokens.yaml").add("entra")
        apps.extend(create_app(settings) for _ in range(count))
        return [Client(app.test_client(), token, app=app) for app in apps[-count:]]

    yield build
    for app in apps:
        app.extensions["scim_gateway"].close()


def test_the_tenant_rate_counts_once_across_workers_in_redis(workers, redis_uri):
    first, second = workers(redis_uri[0])
    statuses = [(first if i % 2 else second).get("/Users?count=1").status_code for i in range(6)]
    assert statuses == [200] * 5 + [429]


def test_in_memory_each_worker_counts_for_itself(workers):
    first, second = workers("memory://")
    statuses = [(first if i % 2 else second).get("/Users?count=1").status_code for i in range(6)]
    assert statuses == [200] * 6  # 3 each, under 5 each: the documented limit of memory://


def test_failed_logins_count_across_workers_in_redis(workers, redis_uri):
    first, second = workers(redis_uri[0])
    statuses = [(first if i % 2 else second).get("/Users", token="scimgw_wrong").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_a_store_that_does_not_answer_lets_requests_through_and_says_so(workers, redis_uri, caplog):
    (worker,) = workers(redis_uri[0], count=1)
    children.stop(redis_uri[1])
    with caplog.at_level(logging.ERROR, "gateway.web.throttle"):
        assert worker.get("/Users?count=1").status_code == 200
    assert "the rate limit store does not answer" in caplog.text


def test_limits_storage_is_a_known_store(slapd, tmp_path):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP)
    settings.write_text("limits_storage: mongodb://x\n" + settings.read_text())
    with pytest.raises(ConfigError, match=r"settings.yaml:1: limits_storage: memory:// \(each worker"):
        load_settings(settings)
