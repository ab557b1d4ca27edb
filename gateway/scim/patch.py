"""PATCH (RFC 7644 section 3.5.2) on a plain resource dict, in both of Entra's dialects.

Pure: a resource and the request body in, a new resource out; the input is never changed, so
a PATCH that fails half-way has changed nothing. Entra's quirks, each with its source in
`docs/entra-wire.md#patch-as-entra-sends-it`, are handled here and nowhere else:
  - `op` in any case (`Add`, `Replace`, `Remove`);
  - booleans as "True"/"False" strings (coerced by the schema type);
  - no-path ops whose value object has dotted or URN-qualified keys;
  - `Replace` of `emails[type eq "work"].value` creating the typed entry when missing,
    and separate `add`s of address parts merging into one typed address;
  - `Replace` with "" or null clearing the attribute (manager removal);
  - `Remove` of `members` with a value list removing only those values.
A path may also name a whole extension schema (`urn:...:enterprise:2.0:User`), which RFC 7644
section 3.5.2 lets a client treat like a complex attribute: its value object sets the
attributes it names, and `remove` clears the extension.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gateway.operators import holds, same
from gateway.scim.errors import invalid_path, invalid_syntax, invalid_value, mutability, no_target
from gateway.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_attr_path,
    parse_patch_path,
)
from gateway.scim.limits import DEFAULT_LIMITS, Limits
from gateway.scim.resource import IGNORED_ON_INPUT, Resolved, coerce, container, resolve
from gateway.scim.schema import PATCH_OP, Attribute, ResourceType, Schema


@dataclass(frozen=True)
class Operation:
    op: str  # "add", "replace" or "remove"
    path: PatchPath | None
    value: Any


def parse_operations(body: Any, limits: Limits = DEFAULT_LIMITS) -> list[Operation]:
    if not isinstance(body, dict):
        raise invalid_syntax("the PATCH body must be a JSON object")
    schemas = body.get("schemas") or body.get("Schemas")
    if schemas is not None and not isinstance(schemas, list):
        raise invalid_syntax(f"a PATCH body's schemas must be a list holding {PATCH_OP}")
    if schemas is not None and PATCH_OP.lower() not in [str(s).lower() for s in schemas]:
        raise invalid_syntax(f"a PATCH body's schemas must contain {PATCH_OP}")
    raw = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(raw, list) or not raw:
        raise invalid_syntax("a PATCH body needs a non-empty 'Operations' list")
    if len(raw) > limits.patch_operations:
        raise invalid_syntax(f"a PATCH may carry at most {limits.patch_operations} operations")
    operations = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise invalid_syntax(f"operation {index} must be a JSON object")
        fields = {str(k).lower(): v for k, v in item.items()}
        op = str(fields.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise invalid_syntax(f"operation {index}: op must be add, replace or remove, not {fields.get('op')!r}")
        path_text = fields.get("path")
        path = parse_patch_path(path_text, limits) if path_text not in (None, "") else None
        if path is None and op == "remove":
            raise no_target(f"operation {index}: remove needs a path")
        if path is None and not isinstance(fields.get("value"), dict):
            raise invalid_syntax(f"operation {index}: {op} without a path needs an object value")
        operations.append(Operation(op, path, fields.get("value")))
    return operations


def apply_patch(resource: dict, operations: list[Operation], resource_type: ResourceType) -> dict:
    """Apply every operation in order to a copy of `resource` and return it."""
    result = copy.deepcopy(resource)
    for operation in operations:
        extension = whole_extension(resource_type, operation.path)
        if operation.path is None:
            _apply_object(result, operation.op, operation.value, resource_type)
        elif extension is not None:
            _apply_extension(result, operation.op, extension, operation.value, resource_type)
        else:
            _apply(result, operation.op, operation.path, operation.value, resource_type)
    return result


def whole_extension(resource_type: ResourceType, path: PatchPath | None) -> Schema | None:
    """The extension schema a path names as a whole (`urn:...:enterprise:2.0:User`), if it does.

    The path parser reads such a URN as `<urn>:<attribute>` (it knows no schemas), so the
    two halves are joined again and looked up among the resource type's extensions."""
    if path is None or path.value_filter is not None or path.attr.urn is None:
        return None
    return resource_type.extension(str(path.attr))


def _apply_extension(resource: dict, op: str, extension: Schema, value: Any, resource_type: ResourceType) -> None:
    """add/replace: each key of the value object is set as if its full path were given;
    remove (or replace with nothing): every attribute of the extension a client may write goes."""
    if op == "remove" or (op == "replace" and value in (None, "", [], {})):
        holder = resource.get(extension.id) or {}
        for name in list(holder):
            attribute = extension.attribute(name)
            if attribute is None or attribute.mutability != "readOnly":
                del holder[name]
        _drop_empty_extension(resource, extension.id)
        return
    if value in (None, "", [], {}):
        return  # adding nothing changes nothing
    if not isinstance(value, dict):
        raise invalid_value(f"'{extension.id}' must be an object of its attributes")
    _apply_object(resource, op, {extension.id: value}, resource_type)


def _apply_object(resource: dict, op: str, value: dict, resource_type: ResourceType) -> None:
    """A no-path add/replace: each key is a path (dotted, URN-qualified, or an extension URN)."""
    for key, item in value.items():
        if not isinstance(key, str) or key.lower() in IGNORED_ON_INPUT:
            continue
        extension = resource_type.extension(key)
        if extension is not None:
            if not isinstance(item, dict):
                raise invalid_value(f"'{key}' must be an object")
            for name, sub_value in item.items():
                _apply(resource, op, PatchPath(AttrPath(extension.id, name)), sub_value, resource_type)
            continue
        resolved = resolve(resource_type, parse_attr_path(key))
        attribute = resolved.attribute
        if attribute.type == "complex" and not attribute.multi_valued and not resolved.sub and isinstance(item, dict):
            # RFC form {"name": {"givenName": ...}}: sub-attributes not given stay as they are.
            for sub_name, sub_value in item.items():
                path = AttrPath(resolved.urn, attribute.name, sub_name)
                _apply(resource, op, PatchPath(path), sub_value, resource_type)
            continue
        _apply(resource, op, PatchPath(parse_attr_path(key)), item, resource_type)


def _apply(resource: dict, op: str, path: PatchPath, value: Any, resource_type: ResourceType) -> None:
    resolved = resolve(resource_type, path.attr)
    attribute = resolved.attribute
    if attribute.mutability == "readOnly" or (resolved.sub and resolved.sub.mutability == "readOnly"):
        raise mutability(f"'{resolved}' is read-only")
    clearing = op == "remove" or (op == "replace" and value in (None, "", [], {}))
    if op == "add" and value in (None, "", [], {}):
        return  # adding nothing changes nothing
    if path.value_filter is not None:
        if not attribute.multi_valued:
            raise invalid_path(f"'{attribute.name}' is not multi-valued, so it cannot take a [filter]")
        _apply_filtered(resource, op, resolved, path.value_filter, None if clearing else value)
        return
    holder = container(resource, resolved.urn, create=not clearing)
    if holder is None:
        return
    if resolved.sub is not None:
        _apply_sub(holder, op, resolved, None if clearing else value)
    elif attribute.multi_valued:
        _apply_multi(holder, op, attribute, value, clearing, str(resolved))
    elif clearing:
        holder.pop(attribute.name, None)
    else:
        new = coerce(value, attribute, str(resolved))
        if new is None:
            pass  # e.g. {"name": {"nosuch": 1}}: no sub-attribute the schema knows, so nothing to set
        elif attribute.type == "complex" and isinstance(holder.get(attribute.name), dict):
            holder[attribute.name].update(new)
        else:
            holder[attribute.name] = new
    _drop_empty_extension(resource, resolved.urn)


def _apply_sub(holder: dict, op: str, resolved: Resolved, value: Any) -> None:
    attribute, sub = resolved.attribute, resolved.sub
    if sub is None:
        raise TypeError(f"{resolved} names no sub-attribute")  # callers only pass one that does
    where = str(resolved)
    if attribute.multi_valued:
        elements = holder.get(attribute.name) or []
        if value is None:
            for element in elements:
                element.pop(sub.name, None)
            holder[attribute.name] = [e for e in elements if e]
        elif elements:
            for element in elements:
                element[sub.name] = coerce(value, sub, where)
        else:
            holder[attribute.name] = [{sub.name: coerce(value, sub, where)}]
        if not holder.get(attribute.name):
            holder.pop(attribute.name, None)
        return
    parent = holder.setdefault(attribute.name, {})
    if value is None:
        parent.pop(sub.name, None)
    else:
        parent[sub.name] = coerce(value, sub, where)
    if not parent:
        holder.pop(attribute.name, None)


def _apply_multi(holder: dict, op: str, attribute: Attribute, value: Any, clearing: bool, where: str) -> None:
    current = holder.get(attribute.name) or []
    if op == "remove" and value not in (None, "", [], {}):
        # Entra: {"op":"Remove","path":"members","value":[{"value":"u1"}]} removes only u1.
        doomed = coerce(value, attribute, where) or []
        current = [item for item in current if not any(_same_element(item, d, attribute) for d in doomed)]
    elif clearing:
        current = []
    else:
        new = coerce(value, attribute, where) or []
        if op == "replace":
            current = []
        for item in new:
            if not any(_same_element(item, existing, attribute) for existing in current):
                current.append(item)
            if isinstance(item, dict) and item.get("primary") is True:
                for other in current:
                    if other is not item and isinstance(other, dict) and other.get("primary") is True:
                        other["primary"] = False
    if current:
        holder[attribute.name] = current
    else:
        holder.pop(attribute.name, None)


def _apply_filtered(resource: dict, op: str, resolved: Resolved, value_filter: Filter, value: Any) -> None:
    attribute, sub = resolved.attribute, resolved.sub
    holder = container(resource, resolved.urn, create=value is not None)
    if holder is None:
        return
    elements = holder.get(attribute.name) or []
    matching = [e for e in elements if isinstance(e, dict) and matches(e, value_filter, attribute)]
    where = str(resolved)
    if value is None:  # remove, or replace with nothing
        if sub is None:
            elements = [e for e in elements if not any(e is m for m in matching)]
        else:
            # An element left with nothing but its selector ({"type": "work"}) is gone too.
            selector = set(template_from(value_filter) or {}) | {"primary"}
            emptied = []
            for element in matching:
                element.pop(sub.name, None)
                if not set(element) - selector:
                    emptied.append(element)
            elements = [e for e in elements if not any(e is gone for gone in emptied)]
    elif not matching:
        template = template_from(value_filter)
        if template is None:
            raise no_target(
                f"no {attribute.name} value matches the filter in '{where}', and it is not "
                "a plain 'eq' filter the gateway could create the value from"
            )
        element = coerce(template, _element_of(attribute), where) or {}
        if sub is None:
            element.update(coerce(value, _element_of(attribute), where) or {})
        else:
            element[sub.name] = coerce(value, sub, where)
        elements = [*elements, element]
    else:
        for element in matching:
            if sub is None:
                new = coerce(value, _element_of(attribute), where) or {}
                if op == "replace":
                    element.clear()
                element.update(new)
            else:
                element[sub.name] = coerce(value, sub, where)
    if elements:
        holder[attribute.name] = elements
    else:
        holder.pop(attribute.name, None)
    _drop_empty_extension(resource, resolved.urn)


def _element_of(attribute: Attribute) -> Attribute:
    return Attribute(attribute.name, attribute.type, sub_attributes=attribute.sub_attributes)


def template_from(value_filter: Filter) -> dict | None:
    """`type eq "work" and primary eq true` -> {"type": "work", "primary": True}; else None."""
    if isinstance(value_filter, Compare) and value_filter.op == "eq" and not value_filter.path.sub:
        return {value_filter.path.attr: value_filter.value}
    if isinstance(value_filter, And):
        left, right = template_from(value_filter.left), template_from(value_filter.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None


def _same_element(item: Any, other: Any, attribute: Attribute) -> bool:
    """Two elements of a multi-valued attribute are one when their values are (or, lacking values, all of them)."""
    if isinstance(item, dict) and isinstance(other, dict):
        if "value" in item or "value" in other:
            sub = attribute.sub("value")
            return same(item.get("value"), other.get("value"), sub.case_exact if sub else False)
        return item == other
    return same(item, other, attribute.case_exact)


def matches(element: dict, value_filter: Filter, attribute: Attribute) -> bool:
    """Evaluate a value filter (`type eq "work"`) against one element of a multi-valued attribute."""
    if isinstance(value_filter, And):
        return matches(element, value_filter.left, attribute) and matches(element, value_filter.right, attribute)
    if isinstance(value_filter, Or):
        return matches(element, value_filter.left, attribute) or matches(element, value_filter.right, attribute)
    if isinstance(value_filter, Not):
        return not matches(element, value_filter.inner, attribute)
    if isinstance(value_filter, ValuePath):
        raise invalid_path("a [filter] cannot nest another [filter]")
    sub = attribute.sub(value_filter.path.attr)
    if sub is None:
        raise invalid_path(f"{attribute.name} has no sub-attribute '{value_filter.path.attr}'")
    actual = next((v for k, v in element.items() if k.lower() == sub.name.lower()), None)
    if isinstance(value_filter, Present):
        return actual not in (None, "", [])
    return _compare(actual, value_filter.op, value_filter.value, sub)


def _compare(actual: Any, op: str, expected: Any, sub: Attribute) -> bool:
    if sub.type == "boolean" and isinstance(expected, str):
        expected = expected.lower() == "true"
    if op == "ne":
        return not _compare(actual, "eq", expected, sub)
    if actual is None:
        return False
    if isinstance(actual, str) and isinstance(expected, str) and not sub.case_exact:
        actual, expected = actual.lower(), expected.lower()
    return holds(actual, op, expected)


def _drop_empty_extension(resource: dict, urn: str | None) -> None:
    if urn is not None and resource.get(urn) == {}:
        del resource[urn]
