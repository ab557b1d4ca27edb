"""The `rest:` section of a resource map: the HTTP calls that create, read, find, list, update,
disable and delete one kind of object in an API that will never speak SCIM.

Pure settings, validated with the rest of the map at start-up; the REST backend reads them.
Paths are relative to the tenant's base URL (a setting, not part of the map). The only
placeholders are `{id}` in paths and bodies, `{value}` in a lookup's path and `{record}` in a
body; the backend URL-encodes whatever it puts into a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from gateway.backends.base import Problems, StoreSpec
from gateway.declared import schema_of, setting

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


# --- schemas -----------------------------------------------------------------------------------


def _check_field(name: str) -> None:
    if not FIELD_NAME.match(name):
        raise ValidationError(f"{name!r} is not an API field name (letters, digits, _ and -; dots for nested fields)")


def _check_fields(names: Iterable[str]) -> None:
    for name in names:
        _check_field(name)


def _check_path(path: str, allowed: set[str], required: set[str]) -> None:
    if not path.startswith("/"):
        raise ValidationError(
            f"a path starts with / and is relative to the tenant's base_url, e.g. /employees (got {path!r})"
        )
    names = set(PLACEHOLDER.findall(path))
    for name in names - allowed:
        known = " and ".join("{" + n + "}" for n in sorted(allowed)) or "no placeholders"
        raise ValidationError(f"{{{name}}} is not a placeholder this path knows (it knows {known})")
    for name in required - names:
        raise ValidationError(f"this path needs {{{name}}}, e.g. /employees/{{{name}}}")


def _check_body(body: Any, allowed: set[str]) -> None:
    if isinstance(body, dict):
        for value in body.values():
            _check_body(value, allowed)
    elif isinstance(body, list):
        for value in body:
            _check_body(value, allowed)
    elif isinstance(body, str) and "{" in body:
        known = " or ".join("{" + n + "}" for n in sorted(allowed))
        if PLACEHOLDER.fullmatch(body) is None or body[1:-1] not in allowed:
            raise ValidationError(f"a body value in braces is a whole placeholder, {known}; got {body!r}")


class _OperationSchema(Schema):
    class Meta:
        unknown = RAISE

    method = fields.Str()
    path = fields.Str(required=True)
    body = fields.Raw(allow_none=True)
    record = fields.Str()
    idempotent = fields.Bool()
    partial_ = fields.Bool(data_key="partial", attribute="partial")  # `partial` is the Schema's own
    when = fields.Dict(keys=fields.Str(), values=fields.Raw())

    @validates("method")
    def check_method(self, value: str, **kwargs) -> None:
        if value.upper() not in METHODS:
            raise ValidationError(f"one of {', '.join(METHODS)}")

    @validates("record")
    def check_record(self, value: str, **kwargs) -> None:
        _check_field(value)


# What each operation is, by default: method, body, the placeholders its path knows and needs.
_KINDS: dict[str, tuple[str, Any, set[str]]] = {
    "create": ("POST", RECORD, set()),
    "read": ("GET", None, {"id"}),
    "update": ("PUT", RECORD, {"id"}),
    "delete": ("DELETE", None, {"id"}),
    "action": ("POST", None, {"id"}),
    "lookup": ("GET", None, {"value"}),
}


class OperationField(fields.Field):
    """An operation as a mapping, or just its path (`read: /employees/{id}`) with the usual method."""

    def __init__(self, kind: str, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def _deserialize(self, value: Any, attr, data, **kwargs) -> Operation:
        method, body, placeholders = _KINDS[self.kind]
        raw = {"path": value} if isinstance(value, str) else value
        if not isinstance(raw, dict):
            raise ValidationError("an operation is a path, or a mapping with method, path (and body, record)")
        loaded = _OperationSchema().load(raw)
        misplaced = {"when": "action", "partial": "update"}
        for option, kind in misplaced.items():
            if option in loaded and self.kind != kind:
                raise ValidationError(
                    {option: [f"only {'disable and enable' if kind == 'action' else kind} take '{option}'"]}
                )
        if self.kind == "action" and not loaded.get("when"):
            raise ValidationError({"when": ["say which field values this call sets, e.g. when: {status: T}"]})
        checks = {
            "path": lambda: _check_path(loaded["path"], placeholders, placeholders),
            "body": lambda: _check_body(loaded.get("body", body), {"record"} | (placeholders & {"id"})),
            "when": lambda: _check_fields(loaded.get("when", {})),
        }
        for key, check in checks.items():
            try:
                check()
            except ValidationError as error:
                raise ValidationError({key: error.messages}) from None
        method = loaded.get("method", method).upper()
        options = {
            "method": method,
            "path": loaded["path"],
            "body": loaded.get("body", body) if method != "GET" else None,
            "record": loaded.get("record"),
            "idempotent": loaded.get("idempotent", method in IDEMPOTENT),
            "partial": loaded.get("partial", method == "PATCH" and self.kind == "update"),
        }
        if self.kind == "action":
            when = tuple((name, _param_text(value)) for name, value in loaded["when"].items())
            return Action(**options, when=when)
        return Operation(**options)


class _PagingBuilt(Schema):
    @post_load
    def build(self, data: dict, **kwargs) -> Paging:
        return Paging(**data)


_PagingSchema = schema_of(Paging, base=_PagingBuilt)


class _ListSchema(Schema):
    class Meta:
        unknown = RAISE

    method = fields.Str(load_default="GET", validate=validate.OneOf(["GET", "get"], error="a list call is a GET"))
    path = fields.Str(required=True)
    items = fields.Str()
    total = fields.Str()
    params = fields.Dict(keys=fields.Str(), values=fields.Raw(), load_default=dict)
    paging = fields.Nested(_PagingSchema, load_default=lambda: Paging())

    @validates("path")
    def check_path(self, value: str, **kwargs) -> None:
        _check_path(value, set(), set())

    @validates("items")
    def check_items(self, value: str, **kwargs) -> None:
        _check_field(value)

    @validates("total")
    def check_total(self, value: str, **kwargs) -> None:
        _check_field(value)

    @post_load
    def build(self, data: dict, **kwargs) -> ListOperation:
        params = tuple((k, _param_text(v)) for k, v in data["params"].items())
        return ListOperation(data["path"], data.get("items"), data.get("total"), params, data["paging"])


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class LookupField(fields.Field):
    """`login: login` (a query parameter of the list call) or `login: {path: /x/{value}}` (a call)."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            return OperationField("lookup")._deserialize(value, attr, data)
        raise ValidationError("a query parameter name, or a lookup call {path: /employees/by-login/{value}}")


class RestTargetSchema(Schema):
    create = OperationField("create", required=True)
    read = OperationField("read", required=True)
    update = OperationField("update", required=True)
    delete = OperationField("delete", required=True)
    list = fields.Nested(_ListSchema, required=True)
    search = fields.Dict(keys=fields.Str(), values=LookupField(), load_default=dict)
    disable = OperationField("action")
    enable = OperationField("action")
    types = fields.Dict(keys=fields.Str(), values=fields.Str(validate=validate.OneOf(TYPES)), load_default=dict)
    id_pattern = fields.Str()

    @validates("id_pattern")
    def check_id_pattern(self, value: str, **kwargs) -> None:
        try:
            re.compile(value)
        except re.error as error:
            raise ValidationError(f"not a regular expression: {error}") from None

    @validates_schema
    def check_names(self, data: dict, **kwargs) -> None:
        problems: dict[str, dict] = {}
        for section in ("search", "types"):
            for name in data.get(section, {}):
                try:
                    _check_field(name)
                except ValidationError as error:
                    problems.setdefault(section, {})[name] = error.messages
        if problems:
            raise ValidationError(problems)

    @post_load
    def build(self, data: dict, **kwargs) -> RestTarget:
        search = tuple(
            Lookup(name, param=how) if isinstance(how, str) else Lookup(name, operation=how)
            for name, how in data["search"].items()
        )
        return RestTarget(
            create=data["create"],
            read=data["read"],
            update=data["update"],
            delete=data["delete"],
            list=data["list"],
            search=search,
            disable=data.get("disable"),
            enable=data.get("enable"),
            types=tuple(data["types"].items()),
            id_pattern=data.get("id_pattern"),
        )
