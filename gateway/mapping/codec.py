"""SCIM resource <-> directory record, through a ResourceMap. Pure functions.

A write never compares the directory's raw record with the new one: it compares the records
that the old and the new SCIM resource map to, so attributes a PATCH did not touch produce no
change even when the directory holds values the map does not show (a second `mail`, say).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from gateway.mapping import functions
from gateway.mapping.model import Computed, Family, ResourceMap, Rule, ScimPath, Template
from gateway.scim.errors import invalid_value
from gateway.scim.projection import Projection
from gateway.scim.resource import container
from gateway.store import Change, Entry, Record, Ref, Value, same_value

KEPT_READINGS = 64  # per map: what each projection reads (Entra sends two or three kinds)


def _matches_selector(element: Any, selector: tuple[tuple[str, Any], ...]) -> bool:
    if not isinstance(element, dict):
        return False
    for name, expected in selector:
        actual = next((v for k, v in element.items() if k.lower() == name.lower()), None)
        if isinstance(actual, str) and isinstance(expected, str):
            if actual.lower() != expected.lower():
                return False
        elif actual != expected:
            return False
    return True


def read_scim(resource: dict, path: ScimPath) -> list[Any]:
    """The SCIM values at a path: one value, several for a multi path, or none."""
    holder = container(resource, path.urn) or {}
    value = holder.get(path.attribute)
    if value is None:
        return []
    if path.selector:
        elements = [e for e in value if _matches_selector(e, path.selector)]
        elements.sort(key=lambda e: e.get("primary") is not True)  # the primary one wins
        value = elements[0].get(path.sub) if elements and path.sub else (elements[0] if elements else None)
        return [] if value is None else [value]
    if path.multi:
        items = value if isinstance(value, list) else [value]
        if path.sub:
            items = [item.get(path.sub) if isinstance(item, dict) else item for item in items]
        return [item for item in items if item is not None]
    if path.sub:
        value = value.get(path.sub) if isinstance(value, dict) else None
    return [] if value is None else [value]


def write_scim(resource: dict, path: ScimPath, values: list[Any]) -> None:
    """Put values read from the directory at a path, merging typed elements."""
    if not values:
        return
    holder = container(resource, path.urn, create=True)
    if path.selector:
        elements = holder.setdefault(path.attribute, [])
        element = next((e for e in elements if _matches_selector(e, path.selector)), None)
        if element is None:
            element = dict(path.selector)
            elements.append(element)
        element[path.sub or "value"] = values[0]
    elif path.multi:
        holder[path.attribute] = [{path.sub: v} if path.sub else v for v in values]
    elif path.sub:
        holder.setdefault(path.attribute, {})[path.sub] = values[0]
    else:
        holder[path.attribute] = values[0]


def render(template: Template, resource: dict) -> str | None:
    """Fill a template; None if any placeholder has no value."""
    text = template.text
    for name, path in zip(template.names(), template.paths, strict=False):
        values = read_scim(resource, path)
        if not values or values[0] in (None, ""):
            return None
        value = values[0]
        value = ("true" if value else "false") if isinstance(value, bool) else str(value)
        text = text.replace("{" + name + "}", functions.apply(value, functions.split_placeholder(name)[1]), 1)
    return text


def _to_directory(rule: Rule, value: Any) -> list[Value]:
    if rule.reference:
        if isinstance(value, Ref):  # a reference read from the directory, not yet resolved
            return [value]
        return [Ref(rule.reference, str(value))] if value not in (None, "") else []
    return rule.transform.to_directory(value)


def to_record(resource_map: ResourceMap, resource: dict) -> Record:
    """The directory attributes a SCIM resource maps to (only the ones the map writes)."""
    record: Record = {}
    for rule in resource_map.rules:
        if not rule.writable:
            continue
        scim_values = read_scim(resource, rule.path)
        if not scim_values and not rule.path.multi:
            scim_values = [None]  # a value map may store "absent" as a value (ppolicy lock)
        record[rule.key] = [d for v in scim_values for d in _to_directory(rule, v)]
    for family in resource_map.families:
        record.update(_family_record(family, resource))
    for computed in resource_map.computed_attributes:
        if computed.fallback and record.get(computed.attribute):
            continue
        values = _compute(computed, resource)
        if values or not computed.fallback:
            record[computed.attribute] = values
    return record


def _compute(computed: Computed, resource: dict) -> list[Value]:
    """The first template whose placeholders all have values, through the transform."""
    for template in computed.templates:
        value = render(template, resource)
        if value is not None:
            return computed.transform.to_directory(value)
    return computed.transform.when_missing()


def _family_record(family: Family, resource: dict) -> Record:
    record: Record = {}
    for name, value in (container(resource, family.urn) or {}).items():
        if not family.covers(family.urn, name):
            continue
        attribute = family.directory_attribute(name)
        if attribute is None:
            made = family.attribute.replace("{name}", name[len(family.prefix) :])
            raise invalid_value(
                f"{family.urn}:{name} cannot be stored: the map names it {made!r}, which is not a valid "
                "attribute name downstream (LDAP: letters, digits and hyphens)"
            )
        record[attribute.lower()] = family.transform.to_directory(value)
    return record


def missing_required(resource_map: ResourceMap, resource: dict) -> list[str]:
    """The map's required paths that have no value in the resource."""
    return [str(path) for path in resource_map.required if not read_scim(resource, path)]


def directory_attributes(resource_map: ResourceMap, projection: Projection | None) -> list[str]:
    """What to read from the directory to answer with this projection (None: everything)."""
    return list(_reading(resource_map, projection).attributes)


class _Reading(NamedTuple):
    """What a projection reads through a map: worked out once per (map, projection)."""

    rules: tuple[Rule, ...]  # the readable rules whose path the answer carries
    meta: bool  # the answer carries meta
    attributes: tuple[str, ...]  # the directory attributes to read, sorted


def _reading(resource_map: ResourceMap, projection: Projection | None) -> _Reading:
    kept = resource_map.memo
    found = kept.get(projection)
    if found is None:
        meta = projection is None or projection.wants(None, "meta")
        rules = tuple(
            rule
            for rule in resource_map.rules
            if rule.readable
            and (projection is None or projection.wants(rule.path.urn, rule.path.attribute, rule.path.sub))
        )
        wanted = {resource_map.id_attribute, *(rule.attribute for rule in rules)}
        wanted |= {a for a in (resource_map.created_attribute, resource_map.modified_attribute) if a and meta}
        if any(_wants_family(projection, family) for family in resource_map.families):
            wanted.add("*")  # their names are not known in advance: read every attribute and pick them out
        found = _Reading(rules, meta, tuple(sorted(wanted)))
        if len(kept) >= KEPT_READINGS:  # projections come from clients: a bound on what is kept
            kept.clear()
        kept[projection] = found
    return found


def _wants_family(projection: Projection | None, family: Family) -> bool:
    if projection is None:
        return True
    if family.urn in projection.exclude_extensions:
        return False
    if projection.include is None or family.urn in projection.include_extensions:
        return True
    return any(key[0] == family.urn for key in projection.include)


def to_resource(resource_map: ResourceMap, entry: Entry, projection: Projection | None = None) -> dict:
    """The SCIM resource for a directory entry (meta.location is the web layer's to add)."""
    resource_type = resource_map.resource_type
    resource: dict = {"schemas": [resource_type.core.id], "id": entry.id}
    reading = _reading(resource_map, projection)
    for rule in reading.rules:
        path = rule.path
        raw = entry.attributes.get(rule.key, [])
        if rule.reference:
            # An unresolved reference stays a Ref, so a PATCH that does not touch it keeps it.
            values = [(v.id or v) if isinstance(v, Ref) else v for v in raw]
        elif path.multi:
            values = [rule.transform.to_scim([v]) for v in raw]
        else:
            values = [rule.transform.to_scim(raw)]
        write_scim(resource, path, [v for v in values if v is not None])
    _read_families(resource_map, entry, projection, resource)
    for extension in resource_type.extensions:
        if extension.id in resource:
            resource["schemas"].append(extension.id)
    if reading.meta:
        meta = {"resourceType": resource_type.name}
        if entry.created:
            meta["created"] = entry.created
        if entry.modified:
            meta["lastModified"] = entry.modified
        resource["meta"] = meta
    return resource


def _read_families(resource_map: ResourceMap, entry: Entry, projection: Projection | None, resource: dict) -> None:
    if not resource_map.families:
        return
    claimed = resource_map.written_attributes | {rule.key for rule in resource_map.rules}
    claimed |= {
        (name or "").lower()
        for name in (resource_map.id_attribute, resource_map.created_attribute, resource_map.modified_attribute)
    }
    for key, values in entry.attributes.items():
        if key in claimed or not values:
            continue
        for family in resource_map.families:
            name = family.scim_name(key)
            if name is None or (projection is not None and not projection.wants(family.urn, name)):
                continue
            value = family.transform.to_scim(values)
            if value is not None:
                container(resource, family.urn, create=True)[name] = value
            break


def diff(old: Record, new: Record, multi_valued: AbstractSet[str]) -> list[Change]:
    """The changes that turn `old` into `new`; multi-valued attributes change value by value."""
    changes = []
    for attribute in sorted(set(old) | set(new)):
        before, after = old.get(attribute, []), new.get(attribute, [])
        if attribute in multi_valued:
            added = tuple(v for v in after if not _contains(before, v))
            removed = tuple(v for v in before if not _contains(after, v))
            if removed:
                changes.append(Change(attribute, "delete", removed))
            if added:
                changes.append(Change(attribute, "add", added))
        elif not _same_values(before, after):
            changes.append(Change(attribute, "replace", tuple(after)))
    return changes


def _same_values(before: list[Value], after: list[Value]) -> bool:
    if len(before) != len(after):
        return False
    return all(same_value(a, b, case_fold=False) for a, b in zip(before, after, strict=False))


def _contains(values: list[Value], value: Value) -> bool:
    return any(same_value(v, value) for v in values)
