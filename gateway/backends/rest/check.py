"""A REST tenant's online checks (`scim-gateway check`) and its readiness probe (`/readyz`):
the API answers, and accepts the gateway's login, on each resource's list call (one record)."""

from __future__ import annotations

from typing import Any

from gateway.backends.base import BackendError, StoreSpec
from gateway.backends.rest.backend import RestBackend
from gateway.backends.rest.paging import first_record
from gateway.backends.rest.settings import RestSettings
from gateway.backends.rest.target import RestTarget
from gateway.backends.rest.transport import Transport
from gateway.checks import Finding, failed, passed
from gateway.store import EVERYTHING

FIX = (
    "check rest.base_url (scheme, host, port, path), ca_file, and the API credentials (key_file,"
    " password_file, client_secret_file, token_url); the gateway's log has the API's answer"
)


READ_FIX = (
    "compare the map's list (items, total, paging) and id with what the API answers to that GET"
    " (curl it with the same login); `scim-gateway mapping check` checks the map itself"
)


def probe(backend: RestBackend, timeout: float) -> None:
    """One list call asking for one record, sent once, within `timeout`; BackendError if it fails."""
    transport = backend.transport
    if not isinstance(transport, Transport):  # a dry run's: nothing to probe
        return
    for spec in list(backend.specs.values())[:1]:
        transport.probe(spec.target.list.path, first_record(spec.target.list), timeout)


def check(settings: RestSettings, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    transport = Transport(settings)
    try:
        return _check(transport, specs)
    finally:
        transport.close()


def _check(transport: Transport, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    findings = []
    backend = RestBackend(
        transport, {name: spec for name, spec in specs.items() if isinstance(spec.target, RestTarget)}
    )
    for name, spec in backend.specs.items():
        target = spec.target
        what = f"{name}: GET {transport.settings.base_url}{target.list.path} with the gateway's login"
        try:
            transport.probe(target.list.path, first_record(target.list), transport.settings.timeout)
        except BackendError as error:
            findings.append(failed(what, str(error), FIX))
            continue
        findings.append(passed(what, "answered"))
        read = f"{name}: the first record, read through the map"
        try:
            page = backend.search(name, EVERYTHING, [], 1, 1)  # the very code a listing runs
        except BackendError as error:
            findings.append(failed(read, str(error), READ_FIX))
        else:
            findings.append(passed(read, f"{page.total} in all" if page.entries else "the API holds none yet"))
    return findings
