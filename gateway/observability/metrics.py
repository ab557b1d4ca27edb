"""The gateway's Prometheus metrics, and the one place each is counted from.

Under `scim-gateway serve` every gunicorn worker writes its counts to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode, set up by multiprocess.py
before this module is first imported), and `/metrics` adds up all of them: every worker counts,
including those a reload or a crash replaced. Elsewhere (tests, the CLI) the counts live in
this process's memory.

Labels are bounded by design: tenants come from the settings, resources and methods from
short fixed lists, never from what a client sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from gateway.backends.base import BackendError, Throttled, Unavailable
from gateway.observability import context

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "scim_gateway_requests",
    "HTTP requests answered, by tenant, SCIM resource type, method and status",
    ["tenant", "resource", "method", "status"],
)
REQUEST_DURATION = Histogram(
    "scim_gateway_request_duration_seconds",
    "Time from receiving a request to its answer",
    ["tenant", "resource", "method"],
    buckets=DURATION_BUCKETS,
)
BACKEND_OPERATIONS = Counter(
    "scim_gateway_backend_operations",
    "Operations sent to the directory or API, by kind and outcome (ok, refused, throttled, unavailable, failed)",
    ["tenant", "backend", "operation", "outcome"],
)
BACKEND_DURATION = Histogram(
    "scim_gateway_backend_operation_duration_seconds",
    "Time the directory or API took for one operation (an API call: with its retries)",
    ["tenant", "backend", "operation"],
    buckets=DURATION_BUCKETS,
)
AUTH_REFUSALS = Counter(
    "scim_gateway_auth_refusals",
    "Requests refused at the door, by reason (address, credential, read_only, keys_unavailable)",
    ["tenant", "reason"],
)
THROTTLED = Counter(
    "scim_gateway_throttled",
    "Requests answered 429 by the gateway itself, by reason (rate, failed_logins)",
    ["tenant", "reason"],
)
CONFIG_RELOADS = Counter(
    "scim_gateway_config_reloads",
    "Reloads of settings and maps (SIGHUP), by result (ok, refused)",
    ["result"],
)
CONFIG_LAST_RELOAD_OK = Gauge(
    "scim_gateway_config_last_reload_successful",
    "1 if the last reload of settings and maps succeeded (0: the previous configuration still serves)",
    multiprocess_mode="mostrecent",
)
CONFIG_LAST_RELOAD_TIME = Gauge(
    "scim_gateway_config_last_reload_success_timestamp_seconds",
    "When the configuration being served was loaded",
    multiprocess_mode="mostrecent",
)
DIRECTORY_CONNECTIONS = Gauge(
    "scim_gateway_directory_connections",
    "Open connections to a directory, all workers together",
    ["directory"],
    multiprocess_mode="livesum",
)
AUDIT_FAILURES = Counter(
    "scim_gateway_audit_write_failures",
    "Audit lines that could not be written (the write itself was answered 503)",
    [],
)


def tenant_label() -> str:
    serving = context.current()
    return (serving.tenant if serving else None) or "-"


def count_request(tenant: str, resource: str, method: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    REQUESTS.labels(tenant, resource, method, str(status)).inc()
    REQUEST_DURATION.labels(tenant, resource, method).observe(seconds)


def count_backend(backend: str, operation: str, outcome: str, seconds: float) -> None:
    tenant = tenant_label()
    BACKEND_OPERATIONS.labels(tenant, backend, operation, outcome).inc()
    BACKEND_DURATION.labels(tenant, backend, operation).observe(seconds)


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, Throttled):
        return "throttled"
    if isinstance(error, Unavailable):
        return "unavailable"
    if isinstance(error, BackendError):
        return "refused"
    return "failed"


@contextmanager
def measured(backend: str, operation: str) -> Iterator[None]:
    """Time one backend operation and count it with the outcome its exception (if any) tells."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as error:
        count_backend(backend, operation, outcome_of(error), time.perf_counter() - started)
        raise
    count_backend(backend, operation, "ok", time.perf_counter() - started)


def refused(tenant: str, reason: str) -> None:
    AUTH_REFUSALS.labels(tenant, reason).inc()


def throttled(tenant: str, reason: str) -> None:
    THROTTLED.labels(tenant, reason).inc()


def reloaded(ok: bool) -> None:
    CONFIG_RELOADS.labels("ok" if ok else "refused").inc()
    CONFIG_LAST_RELOAD_OK.set(1 if ok else 0)
    if ok:
        CONFIG_LAST_RELOAD_TIME.set(time.time())


def loaded() -> None:
    """The first load at start-up: serving a good configuration."""
    CONFIG_LAST_RELOAD_OK.set(1)
    CONFIG_LAST_RELOAD_TIME.set(time.time())
