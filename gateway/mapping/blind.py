"""PATCH operations whose directory changes do not depend on what the entry holds: sent blind.

Most of what Entra sends after the first cycle is `replace` of one plain attribute (a new title,
a department, `active: "False"`). Read-patch-diff costs a read of the entry before the write;
when no computed attribute, default or rule reads the attribute, when nothing unique, required
or naming hangs on it and its transform is a plain function of the value, the change is the
same whatever the entry held: one modify (with post-read, the answer too) does it all.

Pure: operations in, Changes out, or None when any operation needs the entry as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.mapping.model import ResourceMap, Rule
from gateway.mapping.transforms import Case, DateFormat, Identity, Negate, ValueMap
from gateway.scim.errors import ScimError
from gateway.scim.patch import Operation
from gateway.scim.resource import coerce_simple, resolve
from gateway.scim.schema import Attribute
from gateway.store import Change

# Transforms whose output depends on the value alone (a new kind, e.g. one that flips a bit
# of the stored value, is not blind until it is listed here).
STATELESS = (Identity, ValueMap, DateFormat, Negate, Case)


def blind_changes(
    resource_map: ResourceMap, operations: Iterable[Operation], renaming: frozenset[str] = frozenset()
) -> list[Change] | None:
    """The changes for `operations` if none depends on the entry's current values, else None.
    `renaming`: directory attributes a change of which renames the entry (the backend needs the
    whole record then)."""
    changes: dict[str, Change] = {}
    for operation in operations:
        change = _blind(resource_map, operation, renaming)
        if change is None:
            return None
        changes[change.attribute] = change
    return list(changes.values())


def _blind(resource_map: ResourceMap, operation: Operation, renaming: frozenset[str]) -> Change | None:
    if operation.op not in ("replace", "add") or operation.path is None or operation.path.value_filter is not None:
        return None
    try:
        resolved = resolve(resource_map.resource_type, operation.path.attr)
    except ScimError:
        return None  # the normal road says what is wrong with it
    attribute = resolved.sub or resolved.attribute
    if resolved.attribute.multi_valued or attribute.type == "complex" or _guarded(resolved.attribute, attribute):
        return None
    rules = resource_map.rules_for(resolved.urn, resolved.attribute.name, resolved.sub.name if resolved.sub else None)
    if len(rules) != 1 or not _plain(rules[0], resource_map, renaming):
        return None
    if _read_by_computed(resource_map, resolved.urn, resolved.attribute.name) or _in_map_lists(
        resource_map, resolved.urn, resolved.attribute.name
    ):
        return None
    value = _value(operation.value, attribute)
    if value is _NOT_PLAIN:
        return None
    rule = rules[0]
    return Change(rule.key, "replace", tuple(rule.transform.to_directory(value)))


def _guarded(attribute: Attribute, leaf: Attribute) -> bool:
    """Required, unique or not writable: the normal road checks those against the whole resource."""
    return any(
        a.required or a.uniqueness != "none" or a.mutability not in ("readWrite", "writeOnly")
        for a in (attribute, leaf)
    )


def _plain(rule: Rule, resource_map: ResourceMap, renaming: frozenset[str]) -> bool:
    computed = {c.attribute for c in resource_map.computed_attributes}
    return (
        rule.writable
        and rule.reference is None
        and not rule.multi_valued
        and not rule.path.selector
        and rule.key not in computed
        and rule.key not in renaming
        and all(isinstance(part, STATELESS) for part in rule.transform.parts)
    )


def _read_by_computed(resource_map: ResourceMap, urn: str | None, name: str) -> bool:
    return any(
        path.urn == urn and path.attribute.lower() == name.lower()
        for computed in resource_map.computed_attributes
        for template in computed.templates
        for path in template.paths
    )


def _in_map_lists(resource_map: ResourceMap, urn: str | None, name: str) -> bool:
    """The map's own `required:` and `unique:` lines."""
    return any(
        path.urn == urn and path.attribute.lower() == name.lower()
        for path in (*resource_map.required, *resource_map.unique)
    )


_NOT_PLAIN = object()


def _value(value: Any, attribute: Attribute) -> Any:
    if isinstance(value, (dict, list)):
        return _NOT_PLAIN
    try:
        return coerce_simple(value, attribute, attribute.name) if value is not None else None
    except ScimError:
        return _NOT_PLAIN  # the normal road refuses it with its own words
