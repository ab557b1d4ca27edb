"""What every request leaves behind: its context, one log line, its metrics; and `/metrics`.

Before anything else runs, a request gets a `RequestContext` (observability/context.py) with
its request id (the client's X-Request-Id only when short and plain), so every line logged
while it is served, down to the backends, carries that id. After the answer, one line says
what happened: method, path, status, time, and for every answer that is not a 2xx the reason
(the SCIM detail) with the userName or id and the directory's key when known. The same moment
counts the request in the metrics.

`/metrics` on the main port answers only the addresses in the settings' `metrics_allow_from`
(404 for everyone else, as if it did not exist); `metrics_listen` serves it on a port of its
own instead (observability/multiprocess.py).
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import unquote_plus

from flask import Flask, Response, g, request

from gateway.observability import context, logs, metrics, multiprocess, trail
from gateway.policy import Policy
from gateway.scim.errors import ScimError
from gateway.settings import Settings

# Query parameters whose values never reach the log (a client may put a credential in the URL).
SECRET_PARAMETER = re.compile(r"(?i)secret|token|password|passwd|auth|key|assertion|code")
# Views that are not a SCIM resource, by function name: the `resource` label of their requests.
VIEW_RESOURCES = {
    "service_provider_config": "ServiceProviderConfig",
    "resource_types": "ResourceTypes",
    "resource_type": "ResourceTypes",
    "schemas": "Schemas",
    "schema": "Schemas",
    "issue_token": "oauth",
    "health": "healthz",
}
log = logging.getLogger("gateway.web")


def register(app: Flask, settings: Settings) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_clear)
    allowed = Policy(allow_from=settings.metrics_allow_from)

    @app.get("/metrics")
    def metrics_endpoint():
        if not settings.metrics_allow_from or not allowed.admits(request.remote_addr):
            raise ScimError(404, f"there is no SCIM endpoint at {request.path}")
        body, content_type = multiprocess.exposition(request.headers.get("Accept"))
        g.unmeasured = True  # a scrape is not a request of Entra's
        return Response(body, content_type=content_type)


def _start() -> None:
    current = request._get_current_object()  # type: ignore[attr-defined]  # the request itself, looked up once
    serving = context.RequestContext(
        context.request_id_from(current.environ.get("HTTP_X_REQUEST_ID")),
        method=current.method,
        path=current.path,
        client=current.remote_addr or "-",
        started=time.perf_counter(),
    )
    g.context_token = context.begin(serving)


def _finish(response: Response) -> Response:
    serving = context.current()
    if serving is None:
        return response
    if serving.unsettled:
        trail.settle(serving, response.status_code)
    seconds = time.perf_counter() - serving.started
    status = response.status_code
    method, path = serving.method, serving.path
    query = logged_query(request.query_string.decode("utf-8", "replace"))[:300]
    fields: dict[str, object] = {"credential": serving.credential, "client": serving.client}
    if status >= 300:
        fields |= {
            "userName" if serving.resource != "Groups" else "displayName": serving.name,
            "id": serving.scim_id,
            "dn": serving.locator,
            "detail": serving.detail,
        }
    level = logging.WARNING if status >= 500 else logging.INFO
    log.log(
        level,
        "%s %s %s %.1fms",
        logs.token(method),
        logs.token(path + (f"?{query}" if query else "")),
        status,
        seconds * 1000,
        extra={
            "fields": fields,
            "structured": {"method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 1)},
        },
    )
    if not g.get("unmeasured"):
        metrics.count_request(serving.tenant or "-", _resource_label(serving), method, status, seconds)
    response.headers["X-Request-Id"] = serving.request_id
    return response


def _clear(_error: BaseException | None) -> None:
    token = g.pop("context_token", None)
    if token is not None:
        context.end(token)


def _resource_label(serving: context.RequestContext) -> str:
    if serving.resource:
        return serving.resource
    view = (request.endpoint or "").rpartition(".")[2]
    return VIEW_RESOURCES.get(view, "other")


def logged_query(query: str) -> str:
    """The query string for the request log, with the value of every secret-looking parameter hidden."""
    parts = []
    for part in query.split("&") if query else []:
        name, equals, _ = part.partition("=")
        parts.append(f"{name}=***" if equals and SECRET_PARAMETER.search(unquote_plus(name)) else part)
    return "&".join(parts)
