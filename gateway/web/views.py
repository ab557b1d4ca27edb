"""The SCIM HTTP surface of one tenant: a blueprint registered once per tenant base path."""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Blueprint, current_app, g, request
from werkzeug.sansio.utils import get_current_url

from gateway.observability import context
from gateway.scim import cursor, discovery
from gateway.scim.errors import invalid_value, method_not_allowed, not_found
from gateway.scim.limits import parse_json
from gateway.scim.projection import Projection
from gateway.scim.schema import LIST_RESPONSE
from gateway.service import ResourceService
from gateway.web.auth import admit
from gateway.web.responses import scim_response

MAX_COUNT = 1000
DEFAULT_COUNT = 100

log = logging.getLogger("gateway.web")
scim = Blueprint("scim", __name__)


@scim.before_request
def authenticate() -> None:
    g.tenant = current_app.extensions["scim_gateway"].tenant_for(request.blueprint)
    g.principal = admit()  # gateway/web/auth.py: allowlist, credential, rate, scope


def _service(resource: str) -> ResourceService:
    for endpoint, service in g.tenant.services.items():
        if endpoint.lower() == resource.lower():
            context.note(resource=endpoint, scim_id=(request.view_args or {}).get("id"))
            return service
    raise not_found(f"this gateway serves no {resource} here (its map has no such section)")


def _body() -> Any:
    body = parse_json(request.get_data(cache=False), g.tenant.settings.policy.limits)
    if isinstance(body, dict):  # the name the request log shows for a refused create or replace
        name = body.get("userName", body.get("displayName"))
        context.note(name=name if isinstance(name, str) else None)
    return body


def _projection(service: ResourceService) -> Projection:
    return Projection.parse(
        service.resource_type, request.args.get("attributes"), request.args.get("excludedAttributes")
    )


def _int_arg(name: str, default: int) -> int:
    text = request.args.get(name)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise invalid_value(f"{name} must be an integer, not {text!r}") from None


def _tenant_url() -> str:
    return f"{_host_url(request.scheme, request.host).rstrip('/')}{g.tenant.settings.base_path}"


@functools.lru_cache(maxsize=64)
def _host_url(scheme: str, host: str) -> str:
    """What werkzeug's `request.host_url` is, worked out once per scheme and host: its IRI
    decoding is most of what rendering a resource's meta.location costs."""
    return get_current_url(scheme, host)


def _located(resource: dict, service: ResourceService) -> dict:
    """meta.location, when the response carries meta at all."""
    if "meta" in resource:
        endpoint = service.resource_type.endpoint.strip("/")
        resource["meta"]["location"] = f"{_tenant_url()}/{endpoint}/{resource['id']}"
    return resource


@scim.get("/<resource>")
def list_resources(resource: str):
    service = _service(resource)
    count = min(MAX_COUNT, max(0, _int_arg("count", DEFAULT_COUNT)))
    filter_text = request.args.get("filter")
    by_cursor = "cursor" in request.args  # RFC 9865; an empty cursor asks for the first page
    if by_cursor and "startIndex" in request.args:
        raise invalid_value("send either cursor or startIndex, not both")
    start = cursor.decode(request.args["cursor"], filter_text) if by_cursor else max(1, _int_arg("startIndex", 1))
    result = service.query(filter_text, start, count, _projection(service))
    body = {"schemas": [LIST_RESPONSE], "totalResults": result.total}
    if by_cursor:
        following = start + len(result.resources)
        if following <= result.total and result.resources:
            body["nextCursor"] = cursor.encode(following, filter_text)
        if start > 1:
            body["previousCursor"] = cursor.encode(max(1, start - count), filter_text)
    else:
        body["startIndex"] = start
    body["itemsPerPage"] = len(result.resources)
    body["Resources"] = [_located(r, service) for r in result.resources]
    return scim_response(body)


@scim.post("/<resource>")
def create_resource(resource: str):
    service = _service(resource)
    created = _located(service.create(_body()), service)
    context.note(scim_id=created["id"])
    return scim_response(created, 201, {"Location": created["meta"]["location"]})


@scim.get("/<resource>/<id>")
def get_resource(resource: str, id: str):
    service = _service(resource)
    return scim_response(_located(service.get(id, _projection(service)), service))


@scim.put("/<resource>/<id>")
def replace_resource(resource: str, id: str):
    service = _service(resource)
    replaced = service.replace(id, _body(), _projection(service))
    return scim_response(_located(replaced, service))


@scim.patch("/<resource>/<id>")
def patch_resource(resource: str, id: str):
    service = _service(resource)
    # Entra expects 204 from a group PATCH (its members may be thousands); a user PATCH gets
    # the resource. Asking for `attributes` gets a body either way.
    respond = service.resource_type.name != "Group" or "attributes" in request.args
    patched = service.patch(id, _body(), _projection(service), respond=respond)
    if patched is None:
        return scim_response(None, 204)
    return scim_response(_located(patched, service))


@scim.delete("/<resource>/<id>")
def delete_resource(resource: str, id: str):
    _service(resource).delete(id)
    return scim_response(None, 204)


# --- discovery -------------------------------------------------------------------------------

READ_ONLY = ["GET", "HEAD", "OPTIONS"]


def write_to_discovery(rest: str = ""):
    """Discovery is read-only (RFC 7644 section 4). Without these routes a POST would be taken
    for a create on a resource type named `ServiceProviderConfig`, and answered 404."""
    raise method_not_allowed(f"{request.method} is not allowed on {request.path}: discovery is read-only", READ_ONLY)


for _endpoint in ("ServiceProviderConfig", "ResourceTypes", "Schemas"):  # static paths win over /<resource>
    for _rule in (f"/{_endpoint}", f"/{_endpoint}/<path:rest>"):
        scim.add_url_rule(
            _rule,
            "write_to_discovery",
            write_to_discovery,
            methods=["POST", "PUT", "PATCH", "DELETE"],
            provide_automatic_options=False,
        )


@scim.get("/ServiceProviderConfig")
def service_provider_config():
    auth = g.tenant.settings.policy.auth
    schemes = discovery.authentication_schemes(
        tokens=auth.tokens,
        basic=auth.basic,
        oauth_token_url=f"{_tenant_url()}/oauth/token" if auth.oauth else None,
        entra_tenant_id=auth.entra_jwt.tenant_id if auth.entra_jwt else None,
    )
    return scim_response(discovery.service_provider_config(MAX_COUNT, schemes, DEFAULT_COUNT))


@scim.get("/ResourceTypes")
def resource_types():
    types = [discovery.resource_type_json(s.resource_type) for s in g.tenant.services.values()]
    return scim_response(_listing(types))


@scim.get("/ResourceTypes/<name>")
def resource_type(name: str):
    for service in g.tenant.services.values():
        if service.resource_type.name.lower() == name.lower():
            return scim_response(discovery.resource_type_json(service.resource_type))
    raise not_found(f"no resource type {name!r}")


@scim.get("/Schemas")
def schemas():
    return scim_response(_listing(list(_schemas().values())))


@scim.get("/Schemas/<path:schema_id>")
def schema(schema_id: str):
    for key, body in _schemas().items():
        if key.lower() == schema_id.lower():
            return scim_response(body)
    raise not_found(f"no schema {schema_id!r}")


def _schemas() -> dict[str, dict]:
    found: dict[str, dict] = {}
    for service in g.tenant.services.values():
        stored: dict[str | None, set] = {}
        for rule in service.map.rules:
            stored.setdefault(rule.path.urn, set()).add((rule.path.attribute, rule.path.sub))
        resource_type = service.resource_type
        found[resource_type.core.id] = discovery.schema_json(resource_type.core, stored.get(None, set()))
        for extension in resource_type.extensions:
            found[extension.id] = discovery.schema_json(extension, stored.get(extension.id, set()))
    return found


def _listing(resources: list[dict]) -> dict:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
