"""A REST tenant's online checks (`scim-gateway check`) and its readiness probe (`/readyz`):
the API answers, and accepts the gateway's login, on each resource's list call (one record)."""

from __future__ import annotations

from typing import Any

from gateway.backends.base import BackendError, StoreSpec
from gateway.backends.rest.backend import RestBackend
from gateway.backends.rest.settings import RestSettings
from gateway.backends.rest.target import RestTarget
from gateway.backends.rest.transport import Transport
from gateway.checks import Finding, failed, passed

FIX = (
    "check rest.base_url (scheme, host, port, path), ca_file, and the API credentials (key_file,"
    " password_file, client_secret_file, token_url); the gateway's log has the API's answer"
)


def probe(backend: RestBackend, timeout: float) -> None:
    """One list call asking for one record, sent once, within `timeout`; BackendError if it fails."""
    transport = backend.transport
    if not isinstance(transport, Transport):  # a dry run's: nothing to probe
        return
    for spec in list(backend.specs.values())[:1]:
        transport.probe(spec.target.list.path, _one_record(spec.target), timeout)


def check(settings: RestSettings, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    transport = Transport(settings)
    try:
        return _check(transport, specs)
    finally:
        transport.close()


def _check(transport: Transport, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    findings = []
    for name, spec in specs.items():
        target = spec.target
        if not isinstance(target, RestTarget):
            continue
        what = f"{name}: GET {transport.settings.base_url}{target.list.path} with the gateway's login"
        try:
            transport.probe(target.list.path, _one_record(target), transport.settings.timeout)
        except BackendError as error:
            findings.append(failed(what, str(error), FIX))
        else:
            findings.append(passed(what, "answered"))
    return findings


def _one_record(target: RestTarget) -> dict[str, str]:
    paging = target.list.paging
    params = dict(target.list.params)
    if paging.style == "offset":
        params |= {paging.offset: "0", paging.limit: "1"}
    elif paging.style == "page":
        params |= {paging.page: str(paging.first_page), paging.limit: "1"}
    return params
