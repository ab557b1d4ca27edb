"""The Flask application factory: settings in, a WSGI app with one blueprint per tenant out."""

from __future__ import annotations

import functools
import io
import logging
import os
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import deadline
from gateway.backends.registry import backend_kind
from gateway.checks import Readiness
from gateway.observability import logs
from gateway.observability.trail import AuditTrail
from gateway.settings import Settings, load_settings
from gateway.tenant import Tenant
from gateway.web import telemetry
from gateway.web.responses import register_error_handlers, scim_response
from gateway.web.throttle import Throttle, storage_for
from gateway.web.token_endpoint import token_endpoint
from gateway.web.views import scim
from gateway.worker import request_read

CONFIG_ENV = "SCIM_GATEWAY_CONFIG"
log = logging.getLogger("gateway.web")


class Gateway:
    """The tenants this process serves, looked up by the blueprint a request matched."""

    def __init__(self, settings: Settings, tenants: list[Tenant]):
        self.settings = settings
        self.tenants = {blueprint_name(t.name): t for t in tenants}
        self.throttle = Throttle(
            storage_for(settings.limits_storage)
        )  # made here, in the worker: its counters are this process's (or a shared store's)

    def tenant_for(self, blueprint: str | None) -> Tenant:
        return self.tenants[(blueprint or "").removeprefix("oauth_")]

    def close(self) -> None:
        for tenant in self.tenants.values():
            tenant.close()


def blueprint_name(tenant_name: str) -> str:
    return "tenant_" + tenant_name.replace(".", "_").replace("-", "_")


def create_app(settings: Settings | str | Path | None = None, tenants: list[Tenant] | None = None) -> Flask:
    """Build the app. Nothing connects to a directory here: connections open on first use."""
    from_environment = settings is None  # plain gunicorn: nobody else set up the logs
    if settings is None:
        settings = os.environ.get(CONFIG_ENV)
        if not settings:
            raise RuntimeError(f"no settings: pass a settings file or set {CONFIG_ENV}")
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    if from_environment:
        logs.configure(settings.log_format, settings.log_level)
    if tenants is None:
        trail = AuditTrail(settings.audit_log)
        tenants = [Tenant.build(tenant_settings, trail) for tenant_settings in settings.tenants]
    app = Flask("gateway")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    gateway = Gateway(settings, tenants)
    app.extensions["scim_gateway"] = gateway
    app.url_map.strict_slashes = False  # /Users/ and /Users alike
    for tenant in tenants:
        app.register_blueprint(scim, url_prefix=tenant.settings.base_path, name=blueprint_name(tenant.name))
        if tenant.authenticator.access_tokens is not None:
            prefix, name = f"{tenant.settings.base_path}/oauth", "oauth_" + blueprint_name(tenant.name)
            app.register_blueprint(token_endpoint, url_prefix=prefix, name=name)
    app.wsgi_app = _WithDeadline(app.wsgi_app, settings.request_timeout, settings.max_body_bytes)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # The client address from X-Forwarded-For, believed through this many proxies only.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=0)  # type: ignore[method-assign]  # Flask's documented way
    register_error_handlers(app)
    telemetry.register(app, settings)

    @app.get("/healthz")
    def health():
        """Liveness: the process answers. Nothing downstream is asked: each tenant's backend is
        what this worker's breaker last saw ("down": requests get 503 at once)."""
        backends = {t.name: "down" if t.backend.breaker.down else "up" for t in tenants}
        return scim_response({"status": "ok", "tenants": sorted(backends), "backends": backends})

    readiness = Readiness({t.name: _probe_of(t) for t in tenants})

    @app.get("/readyz")
    def ready():
        """Readiness: every tenant's backend answered a cheap probe (cached a few seconds)."""
        problems = readiness.status()
        answer = {name: problem or "ok" for name, problem in sorted(problems.items())}
        if any(problems.values()):
            for name, problem in problems.items():
                if problem:
                    log.warning("not ready: tenant %s: %s", name, problem)
            return scim_response({"status": "not ready", "tenants": answer}, 503)
        return scim_response({"status": "ready", "tenants": answer})

    return app


class _WithDeadline:
    """Every request gets one deadline, `request_timeout` from when the server saw it (or, under
    another server than ours, from when the app got it); the backends give each call only the
    time left (gateway/deadline.py)."""

    def __init__(self, wsgi_app, seconds: float, max_body_bytes: int):
        self.wsgi_app = wsgi_app
        self.seconds = seconds
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ, start_response):
        _read_body_now(environ, self.max_body_bytes)
        with deadline.within(self.seconds, since=deadline.ARRIVED.get()):
            return self.wsgi_app(environ, start_response)


def _read_body_now(environ: dict, limit: int) -> None:
    """Read the body before anything else, and tell the server the request is read (under our
    gunicorn worker a request must be read within a time limit, gateway/worker.py). A body
    larger than the limit is left for Flask to refuse (413) without reading it."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and 0 < int(length) <= limit:
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(int(length)))
    request_read()


def _probe_of(tenant: Tenant) -> Callable[[float], None] | None:
    """The readiness probe of a tenant's backend (its kind's hook), or None if the kind has none."""
    probe = backend_kind(tenant.mapping.backend).probe
    return None if probe is None else functools.partial(probe, tenant.backend)
