"""One SCIM resource type served through a map and a backend: the road every request takes.

HTTP-free and directory-free: the views hand it parsed JSON and query parameters; it runs the
pure SCIM layer (normalize, PATCH, filter), the pure mapping (resource <-> record, filter ->
query) and calls the backend for I/O. A write is computed completely in memory first, so a
request that fails validation has written nothing.

A write that was sent and never answered (`Unavailable(in_doubt=True)`) is settled with the
time the request has left: an add by looking its unique key up, a modify by reading the entry
again. Found, the answer is the truth (201 with the entry, 200 with the state that holds the
change); not found or not readable, the 503 says the outcome is unknown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    StoreSpec,
    Target,
    Unavailable,
    UnsupportedQuery,
    Update,
)
from gateway.mapping import codec
from gateway.mapping.blind import blind_changes
from gateway.mapping.filters import to_query
from gateway.mapping.increments import incremental_rules, split_operations
from gateway.mapping.model import ResourceMap
from gateway.scim.errors import invalid_value, uniqueness
from gateway.scim.filter import parse_filter
from gateway.scim.limits import DEFAULT_LIMITS, Limits
from gateway.scim.patch import apply_patch, parse_operations
from gateway.scim.projection import Projection
from gateway.scim.resource import normalize, require
from gateway.store import NOTHING, Change, Entry, Page, Query, Record, Ref, Value, all_of, any_of, references

log = logging.getLogger(__name__)


def store_spec(resource_map: ResourceMap) -> StoreSpec[Target]:
    """What the backend needs to know of a resource map."""
    if resource_map.target is None:
        raise ValueError(f"the {resource_map.name} map has no backend section")  # the loader refuses such a map
    return StoreSpec(
        kind=resource_map.name,
        target=resource_map.target,
        id_attribute=resource_map.id_attribute,
        created_attribute=resource_map.created_attribute,
        modified_attribute=resource_map.modified_attribute,
        references={rule.key: rule.reference for rule in resource_map.rules if rule.reference},
        multi_valued=resource_map.multi_valued_attributes | resource_map.target.incremental_attributes,
        names=resource_map.attribute_names,
        written=frozenset(resource_map.written_attributes),
    )


@dataclass(frozen=True)
class ListResult:
    total: int
    start: int
    resources: list[dict]


class ResourceService:
    def __init__(self, resource_map: ResourceMap, backend: Backend, limits: Limits = DEFAULT_LIMITS):
        self.map = resource_map
        self.backend = backend
        self.limits = limits
        self.kind = resource_map.name
        self.resource_type = resource_map.resource_type
        spec = store_spec(resource_map)
        self.multi_valued = spec.multi_valued
        self._references = frozenset(spec.references)  # the attributes an entry holds Refs in
        target = resource_map.target
        self._blind_writes = bool(target and target.writes_changes)
        self._renaming = target.renaming_attributes if target else frozenset()

    # --- reads ---------------------------------------------------------------------------------

    def get(self, id: str, projection: Projection | None = None) -> dict:
        entry = self.backend.get(self.kind, id, codec.directory_attributes(self.map, projection))
        return self._render([entry], projection)[0]

    def query(
        self, filter_text: str | None, start: int, count: int, projection: Projection | None = None
    ) -> ListResult:
        query = to_query(self.map, parse_filter(filter_text, self.limits)) if filter_text else all_of()
        if query == NOTHING:
            return ListResult(0, start, [])
        page = self.backend.search(self.kind, query, codec.directory_attributes(self.map, projection), start, count)
        return ListResult(page.total, start, self._render(page.entries, projection))

    # --- writes --------------------------------------------------------------------------------

    def create(self, body: Any) -> dict:
        resource = normalize(body, self.resource_type)
        self._require(resource)
        record = codec.to_record(self.map, resource)
        self._ensure_unique(resource, None)
        try:
            entry = self.backend.create(self.kind, record, codec.directory_attributes(self.map, None))
        except AlreadyExists:
            raise uniqueness(self._taken_detail(resource)) from None
        except Unavailable as error:
            if not error.in_doubt:
                raise
            entry = self._created_after_all(resource, error)
        return self._render([entry], None)[0]

    def _created_after_all(self, resource: dict, error: Unavailable) -> Entry:
        """The entry an add in doubt made, found by its unique key (userName); or the error again.
        (Nothing held the key before the add, so what holds it now is what the add made.)"""
        queries = self._unique_queries(resource)
        if not queries:
            raise error
        try:
            page = self.backend.search(self.kind, queries[0], codec.directory_attributes(self.map, None), 1, 2)
        except BackendError:
            raise error from None
        if len(page.entries) != 1:
            raise error
        log.warning("%s: an add in doubt was done after all (found %s)", self.kind, page.entries[0].id)
        return page.entries[0]

    def patch(self, id: str, body: Any, projection: Projection | None = None, respond: bool = True) -> dict | None:
        """Apply a PATCH. Member changes go straight to the backend value by value, and so do
        changes that do not depend on the entry (blind.py); everything else is applied to the
        resource as read (without its members) and diffed."""
        operations = parse_operations(body, self.limits)
        member_changes, operations = split_operations(self.map, operations)
        if not operations:
            return self._write(Entry(id, {}), None, None, projection, member_changes, respond)
        blind = blind_changes(self.map, operations, self._renaming) if self._blind_writes else None
        if blind is not None:  # nothing in it depends on the entry as it is: no read (blind.py)
            return self._write(Entry(id, {}), None, None, projection, [*blind, *member_changes], respond)
        entry = self.backend.get(self.kind, id, self._attributes_without_members())
        old = codec.to_resource(self.map, entry)
        new = apply_patch(old, operations, self.resource_type)
        self._require(new)
        return self._write(entry, old, new, projection, member_changes, respond)

    def replace(self, id: str, body: Any, projection: Projection | None = None) -> dict:
        new = normalize(body, self.resource_type)
        self._require(new)
        entry = self.backend.get(self.kind, id, codec.directory_attributes(self.map, None))
        old = codec.to_resource(self.map, entry)
        response = self._write(entry, old, new, projection)
        assert response is not None  # a write that responds answers the resource
        return response

    def delete(self, id: str) -> None:
        self.backend.delete(self.kind, id)

    def _write(
        self,
        entry: Entry,
        old: dict | None,
        new: dict | None,
        projection: Projection | None,
        member_changes: Sequence[Change] = (),
        respond: bool = True,
    ) -> dict | None:
        """Diff old and new (when there are), add the member changes, resolve every reference
        in one backend call, and send it all as one modify."""
        new_record = codec.to_record(self.map, new) if new is not None else None
        refs = references(c.values for c in member_changes) + references((new_record or {}).values())
        pending = [r for r in refs if not (r.id and r.locator)]
        known = self.backend.resolve(pending) if pending else {}
        changes = [Change(c.attribute, c.op, _substitute_values(c.values, known)) for c in member_changes]
        if old is not None and new_record is not None:
            new_record = _substitute(new_record, known)
            changes = codec.diff(codec.to_record(self.map, old), new_record, self.multi_valued) + changes
        if not changes:
            if not respond:
                return None
            return self._render([entry], projection, known)[0] if new is not None else self.get(entry.id, projection)
        if old is not None and new is not None and self._unique_changed(old, new):
            self._ensure_unique(new, entry.id)
        attributes = codec.directory_attributes(self.map, projection) if respond else None
        try:
            after = self.backend.modify(self.kind, Update(entry, tuple(changes), new_record), attributes)
        except AlreadyExists:
            raise uniqueness(self._taken_detail(new or {})) from None
        except Unavailable as error:
            if not error.in_doubt:
                raise
            after = self._modified_after_all(entry.id, changes, projection, error)
        return self._render([after], projection, known)[0] if respond else None

    def _modified_after_all(
        self, id: str, changes: Sequence[Change], projection: Projection | None, error: Unavailable
    ) -> Entry:
        """The entry a modify in doubt left, if reading it again shows every change; or the error.
        (A change not seen yet may still be done later, so that stays unknown.)"""
        wanted = codec.directory_attributes(self.map, projection)
        try:
            current = self.backend.get(self.kind, id, sorted({*wanted, *(c.attribute for c in changes)}))
        except BackendError:
            raise error from None
        if not all(_holds(current.attributes.get(c.attribute.lower(), []), c) for c in changes):
            raise error
        log.warning("%s %s: a modify in doubt was done after all", self.kind, id)
        return current

    def _attributes_without_members(self) -> list[str]:
        members = {rule.key for rule in incremental_rules(self.map)}
        return [a for a in codec.directory_attributes(self.map, None) if a.lower() not in members]

    # --- helpers -------------------------------------------------------------------------------

    def _render(
        self, entries: list[Entry], projection: Projection | None, known: dict[Ref, Ref] | None = None
    ) -> list[dict]:
        """Resources for entries, with every reference turned into an id (one backend call)."""
        by_locator = {r.locator.lower(): r for r in (known or {}).values() if r.locator and r.id}
        # A reference whose DN names no entry (dangling, or refint not done yet) is left out.
        pending = []
        for entry in entries:
            for name in self._references & entry.attributes.keys():
                for value in entry.attributes[name]:
                    if isinstance(value, Ref) and not value.id and (value.locator or "").lower() not in by_locator:
                        pending.append(value)
        if pending:
            by_locator.update(
                {r.locator.lower(): r for r in self.backend.resolve(pending).values() if r.locator and r.id}
            )
        resources = []
        for entry in entries:
            held = self._references & entry.attributes.keys()
            if held:  # only the attributes that hold references change
                attributes = dict(entry.attributes)
                for name in held:
                    attributes[name] = [v for v in (_with_id(v, by_locator) for v in attributes[name]) if v is not None]
                entry = Entry(entry.id, attributes, entry.locator, entry.created, entry.modified)
            resource = codec.to_resource(self.map, entry, projection)
            resources.append(projection.apply(resource, self.resource_type) if projection else resource)
        return resources

    def _require(self, resource: dict) -> None:
        """The schema's required attributes, then the map's (`required:`), all named at once."""
        require(resource, self.resource_type)
        missing = codec.missing_required(self.map, resource)
        if missing:
            noun = self.resource_type.name.lower()
            raise invalid_value(
                f"this gateway needs {', '.join(missing)} for every {noun}, and the request has no value"
            )

    def _unique_values(self, resource: dict) -> list[tuple[str, Any]]:
        """(path, value) that no other entry may share: userName (Groups: displayName) and the map's `unique:`."""
        found = [
            (a.name, resource.get(a.name))
            for a in self.resource_type.core.attributes
            if a.uniqueness == "server" and self.map.rules_for(None, a.name) and resource.get(a.name) not in (None, "")
        ]
        for path in self.map.unique:
            found.extend((str(path), value) for value in codec.read_scim(resource, path) if value not in (None, ""))
        return found

    def _ensure_unique(self, resource: dict, own_id: str | None) -> None:
        """409 uniqueness when another entry holds a value no other may share (userName, the map's
        `unique:`), found the way Entra's own lookups are: `userName eq "x"` through the map."""
        if taken(self.backend, self.kind, self._unique_queries(resource), own_id):
            raise uniqueness(self._taken_detail(resource))

    def _unique_queries(self, resource: dict) -> list[Query]:
        """`userName eq "x"`, then each of the map's `unique:` paths, through the map."""
        return [
            to_query(self.map, parse_filter(f"{path} eq {json.dumps(value)}"))
            for path, value in self._unique_values(resource)
        ]

    def _unique_changed(self, old: dict, new: dict) -> bool:
        def folded(resource: dict) -> set[tuple[str, str]]:
            return {(path, str(value).lower()) for path, value in self._unique_values(resource)}

        return folded(old) != folded(new)

    def _taken_detail(self, resource: dict) -> str:
        names = [f"{path} {value!r}" for path, value in self._unique_values(resource)]
        return f"{' or '.join(names) or 'the name'} is already taken by another {self.resource_type.name.lower()}"


def taken(backend: Backend, kind: str, queries: list[Query], own_id: str | None) -> bool:
    """Does an entry other than `own_id` match one of the queries? One search for all of them (a
    directory answers an `or`); a backend that cannot refuses it before any I/O (an API looks
    records up one field at a time), and is then asked for each in turn."""
    queries = [query for query in queries if query != NOTHING]  # a value the map cannot store is never taken
    if not queries:
        return False
    try:
        return _held_by_another(backend.search(kind, any_of(*queries), [], 1, 2), own_id)
    except UnsupportedQuery:
        if len(queries) == 1:
            raise
    return any(_held_by_another(backend.search(kind, query, [], 1, 2), own_id) for query in queries)


def _held_by_another(page: Page, own_id: str | None) -> bool:
    return any(own_id is None or entry.id.lower() != own_id.lower() for entry in page.entries)


def _with_id(value: Any, by_locator: dict[str, Ref]) -> Any:
    if isinstance(value, Ref) and not value.id:
        found = by_locator.get((value.locator or "").lower())
        return Ref(value.kind, found.id, value.locator) if found else None
    return value


def _holds(values: Sequence[Value], change: Change) -> bool:
    """Whether an attribute's values show a change done (values compared as text, case-insensitively)."""

    def key(value: Value) -> str:
        return str((value.locator or value.id) if isinstance(value, Ref) else value).lower()

    held = {key(v) for v in values}
    given = {key(v) for v in change.values}
    if change.op == "replace":
        return held == given
    if change.op == "add":
        return given <= held
    return not (given & held)


def _substitute(record: Record, known: dict[Ref, Ref]) -> Record:
    return {name: list(_substitute_values(values, known)) for name, values in record.items()}


def _substitute_values(values: Iterable[Value], known: dict[Ref, Ref]) -> tuple[Value, ...]:
    return tuple(known.get(v, v) if isinstance(v, Ref) else v for v in values)
