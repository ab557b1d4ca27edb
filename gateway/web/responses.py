"""Every response leaves as `application/scim+json`, errors included."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from gateway.backends.base import (
    AlreadyExists,
    BackendError,
    InvalidData,
    NotFound,
    Throttled,
    Unavailable,
    UnknownReference,
    UnsupportedQuery,
)
from gateway.scim.errors import ScimError, invalid_filter

SCIM_JSON = "application/scim+json"
log = logging.getLogger("gateway.web")


def scim_response(body: dict | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = current_app.response_class(payload, status=status, mimetype=SCIM_JSON, headers=headers)
    return response


def _error(error: ScimError) -> Response:
    return scim_response(error.to_json(), error.status, error.headers)


def _retry_after(error: Unavailable) -> int:
    """The downstream's own hint if it gave one, else the tenant's configured value."""
    if error.retry_after is not None:
        return error.retry_after
    tenant = g.get("tenant")
    return tenant.retry_after if tenant is not None else 30


def scim_error_for(error: BackendError) -> ScimError:
    """Backend errors as SCIM errors; their messages are written to be shown to clients."""
    if isinstance(error, NotFound):
        return ScimError(404, str(error))
    if isinstance(error, AlreadyExists):
        return ScimError(409, str(error), "uniqueness")
    if isinstance(error, (InvalidData, UnknownReference)):
        return ScimError(400, str(error), "invalidValue")
    if isinstance(error, UnsupportedQuery):
        return invalid_filter(str(error))
    if isinstance(error, Throttled):
        return ScimError(429, f"{error}; retry later", headers={"Retry-After": str(error.retry_after)})
    if isinstance(error, Unavailable):
        return ScimError(503, f"{error}; retry later", headers={"Retry-After": str(_retry_after(error))})
    return ScimError(500, str(error))


def register_error_handlers(app: Flask) -> None:
    """The one place exceptions become responses."""

    @app.errorhandler(ScimError)
    def on_scim_error(error: ScimError):
        return _error(error)

    @app.errorhandler(BackendError)
    def on_backend_error(error: BackendError):
        return _error(scim_error_for(error))

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException):
        detail = {
            404: f"there is no SCIM endpoint at {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"the request body is larger than {app.config.get('MAX_CONTENT_LENGTH')} bytes",
        }.get(error.code or 500, error.description or error.name)
        return _error(ScimError(error.code or 500, detail))

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception):
        log.exception("unexpected error in request %s", getattr(g, "request_id", "?"))
        return _error(
            ScimError(
                500,
                f"internal error; the gateway's log has the details under request id {getattr(g, 'request_id', '?')}",
            )
        )
