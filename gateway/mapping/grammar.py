"""The grammar of a map file: which keys each level has, of which types, with which values.

marshmallow checks a document against it (with file and line for every problem) before the
compiler (loader.py) gives it meaning. A resource section's attribute names are checked the
way its backend kind spells them; one attribute line's own keys are in spec.py.
"""

from __future__ import annotations

from functools import cache

from marshmallow import RAISE, Schema, fields, validate

from gateway.backends.registry import DEFAULT, KINDS, backend_kind
from gateway.mapping.spec import RuleSchema


class ResourceMapSchema(Schema):
    """A `users:` or `groups:` section; attribute names are checked the backend's way (section_schemas)."""

    class Meta:
        unknown = RAISE

    id = fields.Str()
    created = fields.Str()
    last_modified = fields.Str()
    attributes = fields.Dict(keys=fields.Str(), values=fields.Raw(), required=True)
    computed = fields.Dict(keys=fields.Str(), values=fields.Raw())
    defaults = fields.Dict(keys=fields.Str(), values=fields.Raw())
    required = fields.List(fields.Str())
    unique = fields.List(fields.Str())
    entra_attributes = fields.List(fields.Str())


@cache
def section_schemas(backend: str) -> tuple[type[Schema], type[Schema]]:
    """The rule and resource-map schemas with attribute names checked the backend's way
    (LDAP attribute names, JSON field names dotted when nested), and its own section."""
    kind = backend_kind(backend)
    name = validate.Regexp(kind.attribute_pattern, error="{input!r} is not " + f"{kind.a_noun} name")
    rule = type("RuleSchema", (RuleSchema,), {"attribute": fields.Str(validate=name)})
    names: dict[str, fields.Field] = {key: fields.Str(validate=name) for key in ("id", "created", "last_modified")}
    names |= {key: fields.Dict(keys=fields.Str(validate=name), values=fields.Raw()) for key in ("computed", "defaults")}
    # Each kind's section is loaded by its own target_schema (_Compiler.target); a map may
    # carry the sections of other kinds too, unread.
    names |= {other: fields.Dict() for other in KINDS}
    return rule, type("ResourceMapSchema", (ResourceMapSchema,), names)


class ExampleSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.Str(required=True)
    resource = fields.Str(load_default="users", validate=validate.OneOf(["users", "groups"]))
    request = fields.Dict(required=True)
    current = fields.Dict()
    expect = fields.Dict()
    error = fields.Str()


class MappingSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.Int(required=True, validate=validate.Equal(1, error="this gateway reads map version 1"))
    backend = fields.Str(load_default=DEFAULT, validate=validate.OneOf(list(KINDS)))
    users = fields.Dict(required=True)
    groups = fields.Dict()
    examples = fields.List(fields.Nested(ExampleSchema))
