"""Every response leaves as `application/scim+json`, errors included."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from gateway.backends.base import BackendError
from gateway.observability import context
from gateway.scim.errors import (
    DEFAULT_RETRY_AFTER,
    ScimError,
    internal,
    method_not_allowed,
    not_found,
    scim_error_for,
    too_large,
)

SCIM_JSON = "application/scim+json"
log = logging.getLogger("gateway.web")


def scim_response(body: dict | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = current_app.response_class(payload, status=status, mimetype=SCIM_JSON, headers=headers)
    return response


def _error(error: ScimError) -> Response:
    context.note(detail=error.detail)  # for the request's log line
    return scim_response(error.to_json(), error.status, error.headers)


def tenant_retry_after() -> int:
    """How long the tenant tells a client to wait when something it depends on is down."""
    tenant = g.get("tenant")
    return tenant.retry_after if tenant is not None else DEFAULT_RETRY_AFTER


def register_error_handlers(app: Flask) -> None:
    """The one place exceptions become responses."""

    @app.errorhandler(ScimError)
    def on_scim_error(error: ScimError):
        return _error(error)

    @app.errorhandler(BackendError)
    def on_backend_error(error: BackendError):
        return _error(scim_error_for(error, tenant_retry_after()))

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException):
        """Werkzeug's own refusals (no route, wrong method, body too large), as SCIM errors."""
        if error.code == 404:
            return _error(not_found(f"there is no SCIM endpoint at {request.path}"))
        if error.code == 405:
            allowed = sorted(getattr(error, "valid_methods", None) or [])
            return _error(method_not_allowed(f"{request.method} is not allowed on {request.path}", allowed))
        if error.code == 413:
            return _error(too_large(f"the request body is larger than {app.config.get('MAX_CONTENT_LENGTH')} bytes"))
        return _error(ScimError(error.code or 500, error.description or error.name))

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception):
        serving = context.current()
        request_id = serving.request_id if serving else "?"
        log.exception("unexpected error in request %s", request_id)
        return _error(internal(f"internal error; the gateway's log has the details under request id {request_id}"))
