"""PATCH operations on multi-valued references (group members), as value-by-value changes.

Entra's membership traffic is most of what it sends, on groups of any size. Reading a group's
whole member list to apply "add these two" would make every PATCH cost as much as the group is
big, so these operations never go through read-patch-diff: each becomes an add or delete of
exactly the values it names. Pure: operations in, Changes out.

The forms (docs/entra-wire.md#group-members):
  {"op":"Add","path":"members","value":[{"$ref":null,"value":"id"}]}           -> add id
  {"op":"Remove","path":"members","value":[{"value":"id"}]}                    -> delete id (only)
  {"op":"remove","path":"members[value eq \"id\"]"}                            -> delete id
  {"op":"remove","path":"members"}                                             -> delete all
  {"op":"replace","path":"members","value":[...]}                              -> replace all
"""

from __future__ import annotations

from typing import Any

from gateway.mapping.model import ResourceMap, Rule
from gateway.scim.errors import invalid_path, invalid_value
from gateway.scim.filter import Compare, Filter, Or
from gateway.scim.patch import Operation, whole_extension
from gateway.scim.resource import resolve
from gateway.store import Change, Ref


def incremental_rules(resource_map: ResourceMap) -> list[Rule]:
    """Rules whose values are changed one by one: multi-valued references (members)."""
    return [rule for rule in resource_map.rules if rule.reference and rule.path.multi and rule.writable]


def split_operations(resource_map: ResourceMap, operations: list[Operation]) -> tuple[list[Change], list[Operation]]:
    """(changes for incremental attributes, the operations left for read-patch-diff)."""
    rules = incremental_rules(resource_map)
    if not rules:
        return [], operations
    by_attribute = {(rule.path.urn, rule.path.attribute.lower()): rule for rule in rules}
    changes: list[Change] = []
    remaining: list[Operation] = []
    for operation in operations:
        if operation.path is None:
            kept = {}
            for key, value in operation.value.items():
                rule = by_attribute.get((None, str(key).lower()))
                if rule is None:
                    kept[key] = value
                else:
                    changes.append(_change(rule, operation.op, value, None))
            if kept:
                remaining.append(Operation(operation.op, None, kept))
            continue
        if whole_extension(resource_map.resource_type, operation.path) is not None:
            remaining.append(operation)  # read-patch-diff applies it, attribute by attribute
            continue
        resolved = resolve(resource_map.resource_type, operation.path.attr)
        rule = by_attribute.get((resolved.urn, resolved.attribute.name.lower()))
        if rule is None:
            remaining.append(operation)
            continue
        if resolved.sub is not None and resolved.sub.name != rule.path.sub:
            raise invalid_path(f"'{operation.path}': only {rule.path.attribute}.{rule.path.sub} can be changed")
        changes.append(_change(rule, operation.op, operation.value, operation.path.value_filter))
    return changes, remaining


def _change(rule: Rule, op: str, value: Any, value_filter: Filter | None) -> Change:
    kind = rule.reference or ""  # an incremental rule is a reference (members)
    if value_filter is not None:
        if op != "remove":
            raise invalid_path(f"{rule.path.attribute}[filter] can only be removed; add or replace the values instead")
        return Change(rule.key, "delete", tuple(Ref(kind, id) for id in _ids_in_filter(value_filter, rule)))
    ids = _ids(value, rule)
    if op == "add":
        return Change(rule.key, "add", tuple(Ref(kind, id) for id in ids))
    if op == "remove" and ids:
        # Entra without the flag: a value list removes only those members, never all of them.
        return Change(rule.key, "delete", tuple(Ref(kind, id) for id in ids))
    if op == "remove":
        return Change(rule.key, "replace", ())
    return Change(rule.key, "replace", tuple(Ref(kind, id) for id in ids))


def _ids(value: Any, rule: Rule) -> list[str]:
    if value in (None, "", [], {}):
        return []
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = next((v for k, v in item.items() if k.lower() == (rule.path.sub or "value").lower()), None)
        if not isinstance(item, (str, int)) or isinstance(item, bool) or str(item) == "":
            raise invalid_value(f"each {rule.path.attribute} value needs a '{rule.path.sub or 'value'}' with an id")
        ids.append(str(item))
    return list(dict.fromkeys(ids))


def _ids_in_filter(value_filter: Filter, rule: Rule) -> list[str]:
    """`value eq "a"` or `value eq "a" or value eq "b"`: the ids to remove."""
    if isinstance(value_filter, Or):
        return _ids_in_filter(value_filter.left, rule) + _ids_in_filter(value_filter.right, rule)
    if (
        isinstance(value_filter, Compare)
        and value_filter.op == "eq"
        and value_filter.path.attr.lower() == (rule.path.sub or "value").lower()
        and not value_filter.path.sub
        and value_filter.value not in (None, "")
    ):
        return [str(value_filter.value)]
    raise invalid_path(f'{rule.path.attribute}[...] can only select by id, e.g. {rule.path.attribute}[value eq "<id>"]')
