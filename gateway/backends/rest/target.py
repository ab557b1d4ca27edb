"""The `rest:` section of a resource map: the HTTP calls that create, read, find, list, update,
disable and delete one kind of object in an API that will never speak SCIM.

Pure settings, validated with the rest of the map at start-up (target_schema.py reads the
YAML into them); the REST backend reads them.
Paths are relative to the tenant's base URL (a setting, not part of the map). The only
placeholders are `{id}` in paths and bodies, `{value}` in a lookup's path and `{record}` in a
body; the backend URL-encodes whatever it puts into a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from marshmallow import fields, validate

from gateway.backends.base import Problems, StoreSpec
from gateway.declared import setting

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
RECORD = "{record}"
ID = "{id}"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
TYPES = ("string", "integer", "number", "boolean")

if TYPE_CHECKING:
    from gateway.mapping.model import ResourceMap


@dataclass(frozen=True)
class Operation:
    """One HTTP call. `record` is where the record sits in the answer (dotted; None: the body)."""

    method: str
    path: str
    body: Any = None  # a JSON template; "{record}" and "{id}" are filled in; None: no body
    record: str | None = None
    idempotent: bool = False  # may be sent again when the answer is lost (default: by method)
    partial: bool = False  # an update that sends only the changed fields (default: PATCH does)


@dataclass(frozen=True)
class Action(Operation):
    """A call that replaces writing some fields, e.g. POST /employees/{id}/terminate for status T."""

    when: tuple[tuple[str, str], ...] = ()  # (field, value): the state this call puts a record in


@dataclass(frozen=True)
class Paging:
    # offset: a 0-based position; page: page numbers; none: all at once
    style: str = setting("offset", fields.Str(validate=validate.OneOf(["offset", "page", "none"])))
    offset: str = setting("offset", fields.Str())  # the query parameters that carry them
    limit: str = setting("limit", fields.Str())
    page: str = setting("page", fields.Str())
    first_page: int = setting(1, fields.Int(validate=validate.Range(min=0, max=1)))
    # the most records the API returns in one answer
    size: int = setting(100, fields.Int(validate=validate.Range(min=1, max=10000)))


@dataclass(frozen=True)
class ListOperation:
    path: str
    items: str | None = None  # where the array of records is (dotted; None: the body is the array)
    total: str | None = None  # where the total count is; without it, counting reads every page
    params: tuple[tuple[str, str], ...] = ()  # always sent, e.g. include_terminated=true
    paging: Paging = field(default_factory=Paging)


@dataclass(frozen=True)
class Lookup:
    """How the API finds records by one field: a query parameter of the list call, or a call of its own."""

    field: str
    param: str | None = None
    operation: Operation | None = None  # its path holds {value}; it answers a record, a list or 404


@dataclass(frozen=True)
class RestTarget:
    create: Operation
    read: Operation
    update: Operation
    delete: Operation
    list: ListOperation
    search: tuple[Lookup, ...] = ()
    disable: Action | None = None
    enable: Action | None = None
    types: tuple[tuple[str, str], ...] = ()  # JSON types of non-string fields
    id_pattern: str | None = None  # ids the API can have; any other id is "not found" without a call

    @property
    def incremental_attributes(self) -> frozenset[str]:
        """An API writes whole fields: no attribute needs value-by-value changes."""
        return frozenset()

    @property
    def writes_changes(self) -> bool:
        """An update replaces the whole record: it is read first, and not sent when nothing changed."""
        return False

    @property
    def renaming_attributes(self) -> frozenset[str]:
        """An API's record keeps its id whatever its fields hold."""
        return frozenset()

    def indexed(self, attribute: str) -> bool | None:
        """An API finds records its own way (its `search:` lookups); mapping check has nothing to add."""
        return True

    def lookup(self, name: str) -> Lookup | None:
        return next((item for item in self.search if item.field.lower() == name.lower()), None)

    def type_of(self, name: str) -> str:
        return next((kind for key, kind in self.types if key.lower() == name.lower()), "string")

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(action for action in (self.disable, self.enable) if action is not None)

    @property
    def action_fields(self) -> frozenset[str]:
        """Fields only an action writes: they never go into a create or update body."""
        return frozenset(name.lower() for action in self.actions for name, _ in action.when)

    def accepts_id(self, id: str) -> bool:
        return self.id_pattern is None or re.fullmatch(self.id_pattern, id) is not None

    def problems_with(self, resource_map: ResourceMap) -> Problems:
        """Fields this section names must be fields the map stores (called by the map loader)."""
        known = {rule.key for rule in resource_map.rules} | {resource_map.id_attribute.lower()}
        written = resource_map.written_attributes
        problems: Problems = []
        for lookup in self.search:
            if lookup.field.lower() not in known:
                problems.append(
                    (("search", lookup.field), f"search names '{lookup.field}', which no attribute of the map uses")
                )
        for name in sorted(written | known):
            nested = [other for other in written | known if other.startswith(name + ".")]
            if nested:
                problems.append(((), f"'{name}' is a field, so '{nested[0]}' cannot be a field inside it"))
        for name, _ in self.types:
            if name.lower() not in known | written:
                problems.append((("types", name), f"types names '{name}', which no attribute of the map uses"))
        for label, action in (("disable", self.disable), ("enable", self.enable)):
            for name, _ in action.when if action else ():
                if name.lower() not in written:
                    problems.append(((label, "when"), f"{label}.when names '{name}', which the map never writes"))
        for attribute in resource_map.resource_type.core.attributes:
            if attribute.uniqueness != "server" or attribute.name == "id":
                continue
            for rule in resource_map.rules_for(None, attribute.name):
                if self.lookup(rule.attribute) is None:
                    problems.append(
                        (
                            ("search",),
                            f"add a search entry for '{rule.attribute}' ({attribute.name}): Entra looks "
                            f"{resource_map.name} up by {attribute.name} before it creates one",
                        )
                    )
        return problems


RestSpec = StoreSpec[RestTarget]  # a StoreSpec whose section is a `rest:` one
