"""The door of every tenant: network allowlist, credential (failed ones counted), rate, scope.

Runs before every SCIM request of a tenant (and, partly, before its OAuth token endpoint).
Each refusal is a SCIM error with the right status and a log line with the client's address
and the reason; what the client presented is never logged.
"""

from __future__ import annotations

import logging

from flask import current_app, g, request

from gateway.auth.authenticator import AuthFailure, KeysUnavailable, Principal
from gateway.credentials import CredentialsUnreadable
from gateway.observability import context, metrics
from gateway.scim.errors import ScimError, forbidden, too_many_requests, unauthorized, unavailable
from gateway.web.responses import tenant_retry_after
from gateway.web.throttle import OverLimit, count_failed_login

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger("gateway.web.auth")


def admit_address() -> str:
    """The client's address, if the tenant's allowlist admits it."""
    tenant = g.tenant
    context.note(tenant=tenant.name)
    policy = tenant.settings.policy
    address = request.remote_addr or "-"  # behind trusted proxies, ProxyFix has set it from X-Forwarded-For
    if not policy.admits(address):
        metrics.refused(tenant.name, "address")
        log.warning(
            "tenant %s: refused %s %s from %s: not in allow_from", tenant.name, request.method, request.path, address
        )
        raise forbidden(f"this tenant does not accept requests from {address}")
    return address


def failed_login(address: str, failure: AuthFailure) -> OverLimit | None:
    """Log and count a refused credential; what is over its failed-login limit, if anything."""
    tenant = g.tenant
    over = count_failed_login(
        _throttle(), tenant.settings.policy.failed_logins, tenant.name, address, failure.attempted
    )
    log.warning(
        "tenant %s: refused a request from %s: %s%s",
        tenant.name,
        address,
        failure,
        f" (too many failed logins {over.what})" if over else "",
    )
    metrics.refused(tenant.name, "credential")
    if over is not None:
        metrics.throttled(tenant.name, "failed_logins")
    return over


def too_many_failures(over: OverLimit) -> ScimError:
    return too_many_requests(f"too many failed logins {over.what}; retry in {over.wait} s", over.wait)


def count_request() -> None:
    policy = g.tenant.settings.policy
    wait = _throttle().hit(policy.rate, "rate", g.tenant.name)
    if wait is not None:
        metrics.throttled(g.tenant.name, "rate")
        log.warning("tenant %s: over its rate of %s", g.tenant.name, policy.rate)
        raise too_many_requests(f"more than {policy.rate} requests for this tenant; retry in {wait} s", wait)


def admit() -> Principal:
    """Everything a SCIM request must pass; returns who is calling."""
    address = admit_address()
    authenticator = g.tenant.authenticator
    try:
        principal = authenticator.authenticate(request.headers.get("Authorization", ""))
    except (KeysUnavailable, CredentialsUnreadable) as error:
        metrics.refused(g.tenant.name, "keys_unavailable")
        log.error("tenant %s: %s", g.tenant.name, error)
        raise unavailable("the gateway cannot check this token right now; retry later", tenant_retry_after()) from None
    except AuthFailure as failure:
        over = failed_login(address, failure)
        if over is not None:
            raise too_many_failures(over) from None
        raise unauthorized(
            "a valid credential is required (Authorization: Bearer <Secret Token>)",
            authenticator.schemes or ['Bearer realm="scim-gateway"'],
        ) from None
    context.note(credential=principal.name)
    count_request()
    if request.method not in READ_METHODS and not principal.can_write:
        metrics.refused(g.tenant.name, "read_only")
        log.warning(
            "tenant %s: refused %s %s by %s %r: read-only",
            g.tenant.name,
            request.method,
            request.path,
            principal.method,
            principal.name,
        )
        raise forbidden(f"the credential {principal.name!r} may only read (its scope is {principal.scope})")
    return principal


def _throttle():
    return current_app.extensions["scim_gateway"].throttle
