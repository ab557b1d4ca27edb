"""The YAML grammar of one attribute line and one computed attribute, compiled into a Chain.

Transform keys sit next to `attribute:` and combine; they always apply in the same order,
whatever order the YAML lists them in:

    SCIM value -> negate -> case -> one of (values | boolean | date | split | disable) -> directory

Reading goes the same way backwards. Every combination that cannot work (negating a string,
two encoders, a date format that cannot be read back) is a problem with its line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gateway.mapping.transforms import (
    DISABLE_PRESETS,
    GENERALIZED_TIME,
    ISO_8601,
    Case,
    Chain,
    DateFormat,
    Identity,
    Negate,
    Split,
    ValueMap,
    boolean_format,
    disable_strategy,
)

ENCODERS = ("values", "boolean", "date", "split", "disable")
DATE_WORDS = {"generalized": GENERALIZED_TIME, "iso": ISO_8601}

Report = Callable[[tuple, str], None]  # (where below the line, message)


class _TransformFields(Schema):
    """The keys that change a value on its way, shared by attribute lines and computed ones."""

    class Meta:
        unknown = RAISE

    case = fields.Str(validate=validate.OneOf(["lower", "upper"]))
    values = fields.Dict(keys=fields.Raw(), values=fields.Raw(allow_none=True))
    default = fields.Raw(allow_none=True)
    split = fields.Str(validate=validate.Length(min=1))
    date = fields.Raw()


class RuleSchema(_TransformFields):
    attribute = fields.Str()  # checked the backend's way (loader._schemas)
    read_default = fields.Raw(allow_none=True)
    reference = fields.Str(validate=validate.OneOf(["users", "groups"]))
    disable = fields.Raw()
    read_only = fields.Bool(load_default=False)
    read = fields.Str(load_default="exact", validate=validate.OneOf(["exact", "stored", "none"]))
    sensitive = fields.Bool(load_default=False)  # its values are masked in the audit trail
    negate = fields.Bool(load_default=False)
    boolean = fields.Dict(keys=fields.Raw(), values=fields.Str())


class ComputedSchema(_TransformFields):
    template = fields.Str()
    first_of = fields.List(fields.Str(), validate=validate.Length(min=1))

    @validates_schema
    def one_source(self, data: dict, **kwargs) -> None:
        if ("template" in data) == ("first_of" in data):
            raise ValidationError("give exactly one of template: or first_of:")


def compile_chain(options: dict, scim_type: str, multi: bool, report: Report) -> Chain:
    """The transform for a line's options; problems go to `report` (the result is then unused)."""
    encoders = [key for key in ENCODERS if key in options]
    if len(encoders) > 1:
        report((encoders[1],), f"choose one of {', '.join(ENCODERS)}: each decides how the value is written")
    if "default" in options and "values" not in options:
        report(("default",), "default: belongs to a value map: add values:")
    steps: list = []
    if options.get("negate"):
        if scim_type != "boolean":
            report(("negate",), f"negate turns true into false: it works on booleans such as active, not a {scim_type}")
        steps.append(Negate())
    if "case" in options:
        if scim_type not in ("string", "reference"):
            report(("case",), f"case works on text, not on a {scim_type}")
        steps.append(Case(options["case"]))
    return Chain(_encoder(options, scim_type, multi, report), tuple(steps))


def _encoder(options: dict, scim_type: str, multi: bool, report: Report):
    if "values" in options:
        pairs = tuple((_scim_value(k, scim_type), None if v is None else str(v)) for k, v in options["values"].items())
        return ValueMap(
            pairs,
            default=None if options.get("default") is None else str(options["default"]),
            read_default=options.get("read_default"),
            has_default="default" in options,
        )
    if "boolean" in options:
        spelled = {_scim_value(k, "boolean"): v for k, v in options["boolean"].items()}
        if scim_type != "boolean" or set(spelled) != {True, False}:
            report(("boolean",), "boolean spells a boolean attribute's two values: {true: Y, false: N}")
            return Identity(scim_type)
        return boolean_format(spelled[True], spelled[False])
    if "date" in options:
        return _date(options["date"], report)
    if "split" in options:
        if multi:
            report(
                ("split",), "split turns one SCIM value into several directory values; this path already has several"
            )
        return Split(options["split"])
    if "disable" in options:
        spec = options["disable"]
        if spec in DISABLE_PRESETS or (isinstance(spec, dict) and {"attribute", "enabled", "disabled"} <= set(spec)):
            return disable_strategy(spec)
        report(
            ("disable",),
            f"disable is one of {', '.join(DISABLE_PRESETS)} or {{attribute: ..., enabled: <value>, disabled: <value>}}",
        )
    return Identity(scim_type)


def _date(spec: Any, report: Report) -> DateFormat | Identity:
    if isinstance(spec, str):
        spec = {"directory": spec}
    if not isinstance(spec, dict) or set(spec) - {"directory", "scim"} or "directory" not in spec:
        report(
            ("date",),
            "date is a directory format (generalized, or strftime like %Y%m%d) or {directory: ..., scim: ...}",
        )
        return Identity()
    formats = {side: DATE_WORDS.get(str(value), str(value)) for side, value in spec.items()}
    sample = datetime(2026, 1, 31, 9, 30, 15)
    for side, text in formats.items():
        try:
            readable = datetime.strptime(sample.strftime(text), text).strftime(text) == sample.strftime(text)
        except ValueError:
            readable = False
        if not readable or "%" not in text:
            report(("date", side), f"{text!r} is not a date format that can be read back (strftime, e.g. %Y-%m-%d)")
            return Identity()
    return DateFormat(formats["directory"], formats.get("scim", ISO_8601))


def _scim_value(key: Any, scim_type: str) -> Any:
    if scim_type == "boolean" and isinstance(key, str) and key.lower() in ("true", "false"):
        return key.lower() == "true"
    return key
