"""The schema of a map's `rest:` section: YAML in, a checked RestTarget (target.py) out.

Every path, placeholder, method and body template is checked at start-up with the line it
is on, so a running gateway never meets a call it cannot make.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from gateway.backends.rest.target import (
    FIELD_NAME,
    IDEMPOTENT,
    METHODS,
    PLACEHOLDER,
    RECORD,
    TYPES,
    Action,
    ListOperation,
    Lookup,
    Operation,
    Paging,
    RestTarget,
)
from gateway.declared import schema_of


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
