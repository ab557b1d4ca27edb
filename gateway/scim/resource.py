"""SCIM resources as plain dicts: resolving paths, and reading what clients send into one shape.

A resource inside the gateway is the JSON shape with canonical attribute names: core attributes
at the top, each extension's attributes in a dict under its URN. Clients differ from that shape
in ways RFC 7643 and Entra allow. `normalize` (a POST or PUT body) and `coerce` (one value, which
the PATCH engine uses too) absorb all of them here: attribute names in any case, `null` values,
a client-sent `meta`/`id`, `"True"`/`"False"` strings for booleans, `manager` as a bare id
string or a one-item list, roles as stringified JSON, flattened `urn:...:attr` keys.
Projection (`attributes`, `excludedAttributes`) lives in `projection.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, overload

from gateway.scim.errors import ScimError, invalid_path, invalid_syntax, invalid_value
from gateway.scim.filter import AttrPath, parse_attr_path
from gateway.scim.schema import Attribute, ResourceType

IGNORED_ON_INPUT = frozenset({"schemas", "id", "meta"})


@dataclass(frozen=True)
class Resolved:
    """A path resolved against a resource type: which container, which attribute, which sub."""

    urn: str | None  # canonical extension URN, or None for the core schema
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.urn, self.attribute.name)

    def __str__(self) -> str:
        text = f"{self.urn}:{self.attribute.name}" if self.urn else self.attribute.name
        return f"{text}.{self.sub.name}" if self.sub else text


def resolve(resource_type: ResourceType, path: AttrPath, *, strict_sub: bool = True) -> Resolved:
    """Resolve `path`; unknown names are a 400 invalidPath that names them."""
    urn = None
    if path.urn and path.urn.lower() != resource_type.core.id.lower():
        extension = resource_type.extension(path.urn)
        if extension is None:
            raise invalid_path(f"'{path.urn}' is not a schema of {resource_type.name} on this gateway")
        urn = extension.id
    attribute = resource_type.attribute(urn, path.attr)
    if attribute is None and path.urn is None:
        # Entra's own examples PATCH `"path": "manager"` without the enterprise URN.
        for extension in resource_type.extensions:
            if extension.attribute(path.attr) is not None:
                urn, attribute = extension.id, extension.attribute(path.attr)
                break
    if attribute is None:
        raise invalid_path(f"'{path}' is not an attribute of {resource_type.name}")
    sub = None
    if path.sub:
        sub = attribute.sub(path.sub)
        if sub is None and strict_sub:
            raise invalid_path(f"'{path}': {attribute.name} has no sub-attribute '{path.sub}'")
    return Resolved(urn, attribute, sub)


@overload
def container(resource: dict, urn: str | None, create: Literal[True]) -> dict: ...


@overload
def container(resource: dict, urn: str | None, create: bool = False) -> dict | None: ...


def container(resource: dict, urn: str | None, create: bool = False) -> dict | None:
    """The dict that holds an attribute: the resource itself, or its extension's dict."""
    if urn is None:
        return resource
    if urn not in resource and create:
        resource[urn] = {}
    return resource.get(urn)


def coerce(value: Any, attribute: Attribute, where: str) -> Any:
    """Coerce one client value to the attribute's type; None means 'no value'."""
    if value is None:
        return None
    if attribute.multi_valued:
        items = value if isinstance(value, list) else [value]
        if attribute.name == "roles":
            items = [_unstringified_role(item) for item in items]
        single = Attribute(attribute.name, attribute.type, sub_attributes=attribute.sub_attributes)
        coerced = [coerce(item, single, where) for item in items]
        return [item for item in coerced if item not in (None, {}, "")] or None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # Entra's docs PATCH the single-valued manager as a one-item list
    if attribute.type == "complex":
        if not isinstance(value, dict):
            if attribute.sub("value") is None or isinstance(value, list):
                raise invalid_value(f"{where} must be an object")
            value = {"value": value}  # Entra sends manager as a bare id string
        result = {}
        for key, item in value.items():
            sub = attribute.sub(key)
            if sub is not None:
                item = coerce(item, sub, f"{where}.{sub.name}")
                if item is not None:
                    result[sub.name] = item
        return result or None
    return coerce_simple(value, attribute, where)


_ROLE_KEYS = {"value": "value", "displayname": "display", "display": "display", "type": "type", "primary": "primary"}


def _unstringified_role(item: Any) -> Any:
    """Entra PATCHes each role as stringified JSON (docs/entra-wire.md#roles-as-stringified-json):
    {"value": "{\"id\":\"06b0...\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}
    while a POST carries the same role as an object. Read both as {"value", "display", ...}."""
    text = item.get("value") if isinstance(item, dict) else item
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return item
    try:
        parsed = json.loads(text)
    except ValueError:
        return item
    if not isinstance(parsed, dict):
        return item
    role = {_ROLE_KEYS[k.lower()]: v for k, v in parsed.items() if k.lower() in _ROLE_KEYS}
    if isinstance(item, dict):
        role = {**{k: v for k, v in item.items() if k != "value"}, **role}
    return role


def coerce_simple(value: Any, attribute: Attribute, where: str) -> Any:
    if isinstance(value, (dict, list)):
        raise invalid_value(f"{where} must be a single {attribute.type} value, not {type(value).__name__}")
    if attribute.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"  # Entra sends "True"/"False" without the flag
        raise invalid_value(f"{where} must be true or false, not {value!r}")
    if attribute.type in ("integer", "decimal"):
        if isinstance(value, bool):
            raise invalid_value(f"{where} must be a number")
        try:
            return int(value) if attribute.type == "integer" else float(value)
        except (TypeError, ValueError):
            raise invalid_value(f"{where} must be a number, not {value!r}") from None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def normalize(body: Any, resource_type: ResourceType) -> dict:
    """A POST/PUT body as a canonical resource; attributes the schema does not know are dropped."""
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    resource: dict = {}
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() in IGNORED_ON_INPUT or value is None:
            continue
        extension = resource_type.extension(key)
        if extension is not None:
            if not isinstance(value, dict):
                raise invalid_value(f"'{key}' must be an object")
            for name, item in value.items():
                attribute = extension.attribute(name)
                if attribute is not None:
                    _put(resource, extension.id, attribute, coerce(item, attribute, f"{extension.id}:{name}"))
            continue
        try:
            resolved = resolve(resource_type, parse_attr_path(key), strict_sub=False)
        except ScimError:  # an attribute the schema does not know: RFC 7643 lets us ignore it
            continue
        if resolved.attribute.mutability == "readOnly":
            continue
        if resolved.sub is not None:
            value = {resolved.sub.name: value}
        _put(resource, resolved.urn, resolved.attribute, coerce(value, resolved.attribute, str(resolved)))
    return resource


def _put(resource: dict, urn: str | None, attribute: Attribute, value: Any) -> None:
    if value is None:
        return
    holder = container(resource, urn, create=True)
    if attribute.type == "complex" and not attribute.multi_valued and isinstance(holder.get(attribute.name), dict):
        holder[attribute.name].update(value)
    else:
        holder[attribute.name] = value


def require(resource: dict, resource_type: ResourceType) -> None:
    """Schema-required attributes (userName, Group displayName) must be present."""
    for attribute in resource_type.core.attributes:
        if attribute.required and resource.get(attribute.name) in (None, "", []):
            raise invalid_value(f"{attribute.name} is required")
