"""A setting declared once: its name, type, default and check live on the dataclass field.

A settings dataclass says what a running gateway holds; the YAML block it is loaded from is
checked by a marshmallow schema (file:line errors, unknown keys refused). Written twice, the
two drift: a default changed in one place and not the other. So each field the YAML sets is
declared with `setting(default, marshmallow field)`, and `schema_of(cls)` builds the schema
from the dataclass: one declaration, the default taken from it.

Not marshmallow-dataclass: our blocks are not our dataclasses (a password is read from the
file the block names, paths are resolved, keys like `password_file` exist only in YAML), so a
schema that builds the dataclass from the YAML as it stands would not fit. A schema subclass
adds such input-only keys; the loader builds the dataclass.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from marshmallow import RAISE, Schema, fields

FIELD = "schema"  # the metadata key that holds a field's marshmallow field
GIVEN_ONLY = "given_only"


def setting(default: Any = dataclasses.MISSING, field: fields.Field | None = None, *, given_only: bool = False) -> Any:
    """A dataclass field the YAML sets, checked by `field`; without a default the key is required.

    The schema fills in the default when the key is left out, unless the default is None or
    `given_only` says the loaded block holds the key only when the YAML gives it (a check
    across keys asks whether it was given)."""
    return dataclasses.field(default=default, metadata={FIELD: field or fields.Raw(), GIVEN_ONLY: given_only})


def schema_of(cls: type, base: type[Schema] = Schema) -> type[Schema]:
    """A schema with a field for each `setting` of the dataclass, its default the dataclass's.
    `base` adds what the dataclass does not declare: keys only the YAML has, checks across keys."""
    declared: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if FIELD not in item.metadata:
            continue
        field = copy.copy(item.metadata[FIELD])
        if item.default is dataclasses.MISSING:
            field.required = True
        elif item.default is not None and not item.metadata[GIVEN_ONLY]:
            field.load_default = item.default
        declared[item.name] = field
    declared["Meta"] = type("Meta", (), {"unknown": RAISE})
    return type(f"{cls.__name__}Schema", (base,), declared)
