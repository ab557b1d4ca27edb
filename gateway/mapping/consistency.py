"""Checks across the lines of a resource map, once each line compiled on its own.

Nothing is written twice, nothing is read back twice, unique paths are stored, and the
backend's own section agrees with the lines (an LDAP DN template only uses attributes the map
writes; a REST section looks up only fields the map stores). Each problem is (where in the
file, message).
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.mapping.model import ResourceMap, Rule, ScimPath


def consistency_problems(name: str, backend: str, noun: str, resource_map: ResourceMap) -> list[tuple[tuple, str]]:
    """`noun` is what the backend calls an attribute ("directory attribute", "field")."""
    return [
        *_written_twice(name, noun, resource_map),
        *_read_twice(name, resource_map),
        *_computed_twice(name, resource_map),
        *_unique(name, resource_map),
        *_backend_section(name, backend, resource_map),
    ]


def same_path(path: ScimPath) -> ScimPath:
    """A path without its spelling, to compare paths."""
    return ScimPath(path.urn, path.attribute, path.sub, path.selector, path.multi)


def _written_twice(name: str, noun: str, resource_map: ResourceMap) -> Iterator[tuple[tuple, str]]:
    seen: dict[str, Rule] = {}
    for rule in resource_map.rules:
        if rule.key in seen and rule.writable and seen[rule.key].writable:
            yield (
                (name, "attributes", rule.path.text),
                f"{noun} '{rule.attribute}' is already written by '{seen[rule.key].path}' "
                f"(line {seen[rule.key].line}); mark one of them read_only: true",
            )
        seen.setdefault(rule.key, rule)


def _read_twice(name: str, resource_map: ResourceMap) -> Iterator[tuple[tuple, str]]:
    readers: dict[ScimPath, Rule] = {}
    for rule in resource_map.rules:
        key = same_path(rule.path)
        if rule.readable and key in readers:
            yield (
                (name, "attributes", rule.path.text),
                f"'{rule.path}' is already read back from '{readers[key].attribute}' (line {readers[key].line}); "
                "say read: none on one of them",
            )
        if rule.readable:
            readers.setdefault(key, rule)


def _computed_twice(name: str, resource_map: ResourceMap) -> Iterator[tuple[tuple, str]]:
    written = {rule.key: rule for rule in resource_map.rules if rule.writable}
    computed: set[str] = set()
    for item in resource_map.computed:
        if item.attribute in written:
            yield (
                (name, "computed", item.name),
                f"'{item.name}' is also written by '{written[item.attribute].path}' (line "
                f"{written[item.attribute].line}); move it to defaults: to fill it only when that has no value",
            )
        computed.add(item.attribute)
    for item in resource_map.defaults:
        if item.attribute in computed:
            yield ((name, "defaults", item.name), f"'{item.name}' is already computed: it needs no default")


def _unique(name: str, resource_map: ResourceMap) -> Iterator[tuple[tuple, str]]:
    for index, path in enumerate(resource_map.unique):
        if not any(same_path(r.path) == same_path(path) for r in resource_map.rules):
            yield (
                (name, "unique", index),
                f"unique: '{path}' is not stored by this map, so the gateway cannot look for it",
            )


def _backend_section(name: str, backend: str, resource_map: ResourceMap) -> Iterator[tuple[tuple, str]]:
    """The backend's section checks itself against the rules: (path inside it, message)."""
    if resource_map.target is not None:
        for where, message in resource_map.target.problems_with(resource_map):
            yield ((name, backend, *where), message)
