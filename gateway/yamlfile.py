"""YAML files that remember where each value came from, so errors can say file and line.

Settings and maps are read once, at start-up and on reload; every problem found in them is a
`Problem` with the file, the line and what was expected, and all of them are reported together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields

from gateway.privatefiles import service_user


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str
    warning: bool = False  # the file works, but something in it will hurt (mapping check)

    def __str__(self) -> str:
        message = f"warning: {self.message}" if self.warning else self.message
        return f"{self.file}:{self.line}: {message}" if self.line else f"{self.file}: {message}"


class ConfigError(Exception):
    """One or more problems in a settings or map file; str() lists them one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LineDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict


class LineList(list):
    line: int = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)):
            raise yaml.constructor.ConstructorError(
                None, None, "a key cannot be a mapping or a list", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {result.key_lines[key]})", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load(path: Path | str) -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        why = f"cannot read: {error.strerror}"
        if isinstance(error, PermissionError):
            why += f" (as user {service_user()})"
        raise ConfigError([Problem(str(path), None, why)]) from None
    return loads(text, str(path))


def loads(text: str, name: str = "<string>") -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise ConfigError([Problem(name, mark.line + 1 if mark else None, message or str(error))]) from None
    except yaml.YAMLError as error:
        raise ConfigError([Problem(name, None, str(error))]) from None


def line_of(document: Any, path: tuple | list) -> int | None:
    """The line of the value at `path` (keys and list indexes), or of its nearest parent."""
    line = getattr(document, "line", None)
    node = document
    for key in path:
        if isinstance(node, LineDict) and key in node:
            line = node.key_lines.get(key, line)
            node = node[key]
        elif isinstance(node, LineList) and isinstance(key, int) and 0 <= key < len(node):
            line = node.item_lines[key]
            node = node[key]
        else:
            break
    return line


def problems_from_marshmallow(
    messages: Any, document: Any, file: str, path: tuple = (), schema: Schema | None = None
) -> list[Problem]:
    """Flatten marshmallow's nested error dict into problems, each with its line.

    `schema`, the one that reported the errors, says what each level of the dict is: a Dict
    field reports an entry's errors under "key" and "value", which are no part of the path,
    while a nested schema's field that is really named `key` or `value` is.
    """
    return _problems(messages, document, file, path, schema)


def _problems(messages: Any, document: Any, file: str, path: tuple, shape: Any) -> list[Problem]:
    """`shape` is what reported `messages`: a Schema, a field, or None when unknown."""
    problems: list[Problem] = []
    if isinstance(messages, dict):
        for key, inner in messages.items():
            if key == "_schema":
                problems.extend(_problems(inner, document, file, path, None))
            elif isinstance(shape, fields.Mapping) and isinstance(inner, dict):
                # one entry of a Dict field: {"key": [...]} and/or {"value": [...]}
                for part, part_messages in inner.items():
                    part_shape = shape.value_field if part == "value" else shape.key_field
                    problems.extend(_problems(part_messages, document, file, (*path, key), part_shape))
            else:
                problems.extend(_problems(inner, document, file, (*path, key), _inner_shape(shape, key)))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                problems.extend(_problems(message, document, file, path, shape))
            else:
                where = ".".join(str(p) for p in path)
                text = f"{where}: {message}" if where else str(message)
                problems.append(Problem(file, line_of(document, path), text))
    else:
        problems.append(Problem(file, line_of(document, path), str(messages)))
    return problems


def _inner_shape(shape: Any, key: Any) -> Any:
    """What reported the errors under `key` of what `shape` reported."""
    if isinstance(shape, fields.Nested):
        shape = shape.schema
    if isinstance(shape, Schema):
        by_key = {field.data_key or name: field for name, field in shape.fields.items()}
        found = by_key.get(key)
        return found.schema if isinstance(found, fields.Nested) else found
    if isinstance(shape, fields.List):
        return shape.inner
    return None
