"""Map YAML -> a compiled, fully checked Mapping. Every problem is reported with file and line.

Two passes: marshmallow checks the shape of the document (keys, types, allowed values), then
`_Compiler` checks the meaning (every SCIM path exists, every attribute name is valid for the
map's backend, nothing is mapped twice, the DN template only uses attributes the map writes).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from gateway import yamlfile
from gateway.backends.targets import BackendSyntax, backend_syntax
from gateway.mapping.model import Default, Mapping, ResourceMap, Rule, ScimTarget, Template
from gateway.mapping.transforms import Identity, ValueMap, disable_strategy
from gateway.scim.errors import ScimError
from gateway.scim.filter import parse_patch_path
from gateway.scim.patch import template_from
from gateway.scim.resource import coerce, resolve
from gateway.scim.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    GROUP,
    KNOWN_EXTENSIONS,
    USER,
    Attribute,
    ResourceType,
    custom_extension,
)
from gateway.yamlfile import ConfigError, Problem, line_of


class RuleSchema(Schema):
    """One line of `attributes:`; `attribute` is checked by the backend's syntax (see _schemas)."""

    class Meta:
        unknown = RAISE

    attribute = fields.Str()
    values = fields.Dict(keys=fields.Raw(), values=fields.Raw(allow_none=True))
    default = fields.Raw(allow_none=True)
    read_default = fields.Raw(allow_none=True)
    reference = fields.Str(validate=validate.OneOf(["users", "groups"]))
    disable = fields.Raw()
    read_only = fields.Bool(load_default=False)


class ResourceMapSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.Str()
    created = fields.Str()
    last_modified = fields.Str()
    ldap = fields.Dict()
    rest = fields.Dict()
    attributes = fields.Dict(keys=fields.Str(), values=fields.Raw(), required=True)
    defaults = fields.Dict(keys=fields.Str(), values=fields.Raw())


@cache
def _schemas(backend: str) -> tuple[type[Schema], type[Schema]]:
    """The rule and resource-map schemas with attribute names checked the backend's way:
    LDAP attribute names for `ldap`, JSON field names (dotted when nested) for `rest`."""
    name = backend_syntax(backend).attribute_name()
    rule = type("RuleSchema", (RuleSchema,), {"attribute": fields.Str(validate=name)})
    resource_map = type(
        "ResourceMapSchema",
        (ResourceMapSchema,),
        {
            "id": fields.Str(validate=name),
            "created": fields.Str(validate=name),
            "last_modified": fields.Str(validate=name),
            "defaults": fields.Dict(keys=fields.Str(validate=name), values=fields.Raw()),
        },
    )
    return rule, resource_map


class MappingSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.Int(required=True, validate=validate.Equal(1, error="this gateway reads map version 1"))
    backend = fields.Str(load_default="ldap", validate=validate.OneOf(["ldap", "rest"]))
    users = fields.Dict(required=True)
    groups = fields.Dict()
    examples = fields.List(fields.Raw())


def load_mapping(path: Path | str) -> Mapping:
    document = yamlfile.load(path)
    return compile_mapping(document, str(path))


def compile_mapping(document: Any, source: str) -> Mapping:
    if not isinstance(document, dict):
        raise ConfigError([Problem(source, None, "a map is a YAML mapping with version, users (and groups)")])
    try:
        top = MappingSchema().load(document)
    except ValidationError as error:
        raise ConfigError(yamlfile.problems_from_marshmallow(error.messages, document, source)) from None
    compiler = _Compiler(document, source, top["backend"])
    users = compiler.resource_map("users", USER, (ENTERPRISE,), top["users"])
    groups = compiler.resource_map("groups", GROUP, (), top["groups"]) if "groups" in top else None
    if compiler.problems:
        raise ConfigError(compiler.problems)
    maps = {"users": users, **({"groups": groups} if groups else {})}
    return Mapping(source, top["backend"], users, groups, maps)


class _Compiler:
    def __init__(self, document: Any, source: str, backend: str):
        self.document = document
        self.source = source
        self.backend = backend
        self.syntax: BackendSyntax = backend_syntax(backend)
        self.rule_schema, self.resource_map_schema = _schemas(backend)
        self.problems: list[Problem] = []

    def problem(self, where: tuple, message: str) -> None:
        self.problems.append(Problem(self.source, line_of(self.document, where), message))

    def resource_map(self, name: str, core, known_extensions, raw: dict) -> ResourceMap | None:
        try:
            section = self.resource_map_schema().load(raw)
        except ValidationError as error:
            self.problems.extend(
                yamlfile.problems_from_marshmallow(error.messages, self.document, self.source, (name,))
            )
            return None
        target, target_class = self.target(name, section)
        provisional = ResourceType(
            core.name, f"/{core.name}s", core, self.extensions(name, section["attributes"], known_extensions)
        )
        rules = []
        for path_text, spec in section["attributes"].items():
            rule = self.rule(name, provisional, path_text, spec)
            if rule is not None:
                rules.append(rule)
        self.check_duplicates(name, rules)
        used = {r.target.urn for r in rules}
        resource_type = ResourceType(
            provisional.name, provisional.endpoint, core, tuple(e for e in provisional.extensions if e.id in used)
        )
        defaults = [self.default(name, provisional, attr, spec) for attr, spec in section.get("defaults", {}).items()]
        resource_map = ResourceMap(
            name=name,
            resource_type=resource_type,
            rules=tuple(rules),
            id_attribute=section.get("id") or getattr(target_class, "DEFAULT_ID", "id"),
            created_attribute=section.get("created") or getattr(target_class, "DEFAULT_CREATED", None),
            modified_attribute=section.get("last_modified") or getattr(target_class, "DEFAULT_MODIFIED", None),
            defaults=tuple(d for d in defaults if d is not None),
            target=target,
        )
        self.check_target(name, resource_map)
        return resource_map

    def target(self, name: str, section: dict):
        schema_class = self.syntax.target_schema
        raw = section.get(self.backend)
        if raw is None:
            self.problem((name,), f"{name} needs {self.syntax.section} for the {self.backend} backend")
            return None, None
        try:
            target = schema_class(unknown=RAISE).load(raw)
        except ValidationError as error:
            self.problems.extend(
                yamlfile.problems_from_marshmallow(error.messages, self.document, self.source, (name, self.backend))
            )
            return None, None
        return target, type(target)

    def extensions(self, name: str, attributes: dict, known) -> tuple:
        """The extensions the map's paths use: known ones, plus custom `urn:...:Name:2.0:User:attr`."""
        custom: dict[str, list[str]] = {}
        for path_text in attributes:
            if not path_text.lower().startswith("urn:"):
                continue
            urn, _, attribute = path_text.split("[")[0].rpartition(":")
            if urn.lower() in (CORE_USER.lower(), CORE_GROUP.lower()):
                continue
            known_schema = KNOWN_EXTENSIONS.get(urn.lower())
            if known_schema is None:
                custom.setdefault(urn, []).append(attribute.split(".")[0])
        return tuple(known) + tuple(custom_extension(urn, names) for urn, names in custom.items())

    def rule(self, name: str, resource_type: ResourceType, path_text: str, spec: Any) -> Rule | None:
        where = (name, "attributes", path_text)
        line = line_of(self.document, where)
        try:
            target = scim_target(resource_type, path_text)
        except ScimError as error:
            self.problem(where, error.detail)
            return None
        if isinstance(spec, str):
            spec = {"attribute": spec}
        if not isinstance(spec, dict):
            self.problem(where, f"'{path_text}' maps to {self.syntax.a_noun} name or to a mapping with 'attribute:'")
            return None
        try:
            options = self.rule_schema().load(spec)
        except ValidationError as error:
            self.problems.extend(yamlfile.problems_from_marshmallow(error.messages, self.document, self.source, where))
            return None
        attribute_def = resource_type.attribute(target.urn, target.attribute)
        sub_def = attribute_def.sub(target.sub) if target.sub else None
        scim_type = (sub_def or attribute_def).type
        transform, attribute = self.transform(where, options, scim_type)
        if attribute is None:
            self.problem(where, f"'{path_text}' needs 'attribute:' (the {self.syntax.noun} that holds it)")
            return None
        return Rule(
            target=target,
            attribute=attribute,
            transform=transform,
            reference=options.get("reference"),
            writable=not options["read_only"],
            line=line,
        )

    def transform(self, where: tuple, options: dict, scim_type: str):
        attribute = options.get("attribute")
        if "disable" in options:
            spec = options["disable"]
            if spec == "ppolicy-lock":
                return disable_strategy(spec), attribute or "pwdAccountLockedTime"
            if isinstance(spec, dict) and {"attribute", "enabled", "disabled"} <= set(spec):
                return disable_strategy(spec), spec["attribute"]
            self.problem(
                (*where, "disable"),
                "disable is 'ppolicy-lock' or {attribute: ..., enabled: <value>, disabled: <value>}",
            )
            return Identity(scim_type), attribute
        if "values" in options:
            pairs = tuple(
                (self.scim_value(k, scim_type), None if v is None else str(v)) for k, v in options["values"].items()
            )
            return (
                ValueMap(
                    pairs,
                    default=None if options.get("default") is None else str(options["default"]),
                    read_default=options.get("read_default"),
                    has_default="default" in options,
                ),
                attribute,
            )
        return Identity(scim_type), attribute

    @staticmethod
    def scim_value(key: Any, scim_type: str) -> Any:
        if scim_type == "boolean" and isinstance(key, str) and key.lower() in ("true", "false"):
            return key.lower() == "true"
        return key

    def default(self, name: str, resource_type: ResourceType, attribute: str, spec: Any) -> Default | None:
        where = (name, "defaults", attribute)
        texts = spec if isinstance(spec, list) else [spec]
        templates = []
        for text in texts:
            if not isinstance(text, str):
                self.problem(where, 'a default is a template string or a list of them, e.g. "{userName}"')
                return None
            template = Template(text)
            paths = []
            for placeholder in template.names():
                try:
                    paths.append(scim_target(resource_type, placeholder))
                except ScimError as error:
                    self.problem(where, f"{{{placeholder}}}: {error.detail}")
                    return None
            templates.append(Template(text, tuple(paths)))
        return Default(attribute.lower(), tuple(templates), line_of(self.document, where), attribute)

    def check_duplicates(self, name: str, rules: list[Rule]) -> None:
        seen: dict[str, Rule] = {}
        for rule in rules:
            if rule.key in seen and rule.writable and seen[rule.key].writable:
                self.problem(
                    (name, "attributes", rule.target.text),
                    f"{self.syntax.noun} '{rule.attribute}' is already written by '{seen[rule.key].target}' "
                    f"(line {seen[rule.key].line}); mark one of them read_only: true",
                )
            seen.setdefault(rule.key, rule)

    def check_target(self, name: str, resource_map: ResourceMap) -> None:
        target = resource_map.target
        if target is not None and hasattr(target, "problems_with"):
            # A backend's section checks itself against the rules: (path inside it, message).
            for where, message in target.problems_with(resource_map):
                self.problem((name, self.backend, *where), message)
        if target is None or not hasattr(target, "placeholders_in_dn"):
            return
        written = resource_map.written_attributes
        for placeholder in target.placeholders_in_dn():
            if placeholder not in written:
                self.problem(
                    (name, self.backend, "dn"),
                    f"the DN template uses {{{placeholder}}}, which the map never writes: "
                    f"map a SCIM attribute to {placeholder} or add it under defaults",
                )


def scim_target(resource_type: ResourceType, text: str) -> ScimTarget:
    """Compile a map path such as `emails[type eq "work"].value` into a ScimTarget."""
    patch_path = parse_patch_path(text)
    resolved = resolve(resource_type, patch_path.attr)
    attribute = resolved.attribute
    sub = resolved.sub.name if resolved.sub else None
    if attribute.type == "complex" and sub is None and attribute.sub("value") is not None:
        sub = "value"  # `manager`, `members`: the map means their value
    elif attribute.type == "complex" and sub is None:
        raise ScimError(400, f"{attribute.name} is complex: map its sub-attributes, e.g. {attribute.name}.formatted")
    selector: tuple = ()
    if patch_path.value_filter is not None:
        if not attribute.multi_valued:
            raise ScimError(400, f"{attribute.name} is not multi-valued, so it takes no [filter]")
        template = template_from(patch_path.value_filter)
        if not template:
            raise ScimError(400, "a map path's [filter] can only be eq conditions joined by 'and'")
        element = Attribute(attribute.name, attribute.type, sub_attributes=attribute.sub_attributes)
        # `roles[primary eq "True"]`: the selector holds typed values, as elements do after coerce()
        selector = tuple(sorted((coerce(template, element, text) or {}).items()))
    multi = attribute.multi_valued and not selector
    return ScimTarget(resolved.urn, attribute.name, sub, selector, multi, text)
