"""The API's JSON <-> records, and the one place values are put into paths and bodies.

A record is what every backend hands the mapping: `{field (lower case): [text values]}`.
Dotted field names (`names.first`) are nested objects; fields the map declares under `types:`
are written as JSON numbers or booleans and read back as text; `null` and "" are no value.
Values put into a path are URL-encoded here and nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from gateway.backends.base import InvalidData
from gateway.backends.rest.target import ID, PLACEHOLDER, RECORD, RestSpec, RestTarget
from gateway.store import Record, Ref, Value

NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$")
TRUE, FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def get_field(document: Any, name: str) -> Any:
    """The value at a dotted field name; names match case-insensitively when not exactly."""
    node = document
    for part in name.split("."):
        if not isinstance(node, dict):
            return None
        key = part if part in node else next((k for k in node if k.lower() == part.lower()), None)
        if key is None:
            return None
        node = node[key]
    return node


def set_field(document: dict, name: str, value: Any) -> None:
    parts = name.split(".")
    node = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def texts(value: Any) -> list[str]:
    """JSON values as record values: true -> "true", 42 -> "42"; null and "" are none."""
    result = []
    for item in value if isinstance(value, list) else [value]:
        if item is None or item == "":
            continue
        if isinstance(item, bool):
            result.append("true" if item else "false")
        elif isinstance(item, (int, float)):
            result.append(json.dumps(item))
        elif isinstance(item, str):
            result.append(item)
        else:
            result.append(json.dumps(item, sort_keys=True, ensure_ascii=False))
    return result


def read_record(document: dict, spec: RestSpec) -> Record:
    """The fields the map knows, read from one of the API's records."""
    names = dict(spec.names)
    for extra in (spec.id_attribute, spec.created_attribute, spec.modified_attribute):
        if extra:
            names.setdefault(extra.lower(), extra)
    record: Record = {}
    for key, name in names.items():
        values: list[Value] = list(texts(get_field(document, name)))
        if key in spec.references:
            # The API holds the other record's id, which is its SCIM id as well.
            values = [Ref(spec.references[key], str(v), str(v)) for v in values]
        if values:
            record[key] = values
    return record


def json_value(value: Value, kind: str, name: str) -> Any:
    """A record value as the JSON type the map declares for its field."""
    if isinstance(value, Ref):
        text = value.locator or value.id or ""
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    if kind == "string":
        return text
    if kind == "boolean" and text.lower() in TRUE | FALSE:
        return text.lower() in TRUE
    if kind in ("integer", "number") and NUMBER.match(text):
        number = json.loads(text)
        if kind == "number":
            return number
        if float(number).is_integer():
            return int(number)
    article = "an" if kind == "integer" else "a"
    raise InvalidData(f"{name} is {text!r}, and the API wants {article} {kind} there")


def write_fields(record: Record, spec: RestSpec, target: RestTarget, keys: Iterable[str], nulls: bool) -> dict:
    """A JSON object with these fields of a record (an action's fields never: the action writes them)."""
    document: dict = {}
    for key in sorted(keys):
        if key in target.action_fields or key == spec.id_attribute.lower():
            continue
        name = spec.name(key)
        values = [json_value(v, target.type_of(name), name) for v in record.get(key, [])]
        value: Any = values if key in spec.multi_valued else (values[0] if values else None)
        if value is None and not nulls:
            continue
        set_field(document, name, value)
    return document


def fill_body(template: Any, fields: dict, id: Any = None) -> Any:
    """A body template with "{record}" replaced by the fields and "{id}" by the id."""
    if template == RECORD:
        return fields
    if template == ID:
        return id
    if isinstance(template, dict):
        return {key: fill_body(value, fields, id) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_body(value, fields, id) for value in template]
    return template


def fill_path(path: str, **values: str) -> str:
    """A path template with each placeholder replaced by its URL-encoded value."""

    def encode(match: re.Match) -> str:
        value = values[match.group(1)]
        if value.strip(".") == "":
            return value.replace(".", "%2E")  # "." and ".." would climb out of the path
        return quote(value, safe="")

    return PLACEHOLDER.sub(encode, path)


def iso_time(value: Any) -> str | None:
    """An API timestamp as SCIM's `meta` wants it, '2024-05-01T12:00:00Z'; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
