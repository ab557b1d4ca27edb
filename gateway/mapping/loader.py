"""Map YAML -> a compiled, fully checked Mapping. Every problem is reported with file and line.

Two passes: marshmallow checks the shape of the document against the grammar (grammar.py:
keys, types, allowed values; spec.py: one attribute line), then `_Compiler` checks the
meaning (every SCIM path exists, every attribute name is valid for the map's backend, nothing
is written twice, transforms fit their attribute, the backend's section agrees with the lines).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError

from gateway import yamlfile
from gateway.backends.base import BackendKind, Target
from gateway.backends.registry import backend_kind
from gateway.mapping import entra, functions
from gateway.mapping.consistency import consistency_problems
from gateway.mapping.grammar import MappingSchema, section_schemas
from gateway.mapping.model import Computed, Example, Family, Mapping, ResourceMap, Rule, ScimPath, Template
from gateway.mapping.spec import ComputedSchema, RuleSchema, compile_chain
from gateway.mapping.transforms import Chain, Identity
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

# The attribute each `disable:` preset keeps its state in, unless the line names another.
PRESET_ATTRIBUTES = {
    "ppolicy-lock": "pwdAccountLockedTime",
    "389-account-lock": "nsAccountLock",
    "ad-account-control": "userAccountControl",
}
WILDCARD = "*"


def load_mapping(path: Path | str) -> Mapping:
    document = yamlfile.load(path)
    return compile_mapping(document, str(path))


def compile_mapping(document: Any, source: str) -> Mapping:
    if not isinstance(document, dict):
        raise ConfigError([Problem(source, None, "a map is a YAML mapping with version, users (and groups)")])
    schema = MappingSchema()
    try:
        top = schema.load(document)
    except ValidationError as error:
        raise ConfigError(yamlfile.problems_from_marshmallow(error.messages, document, source, schema=schema)) from None
    compiler = _Compiler(document, source, top["backend"])
    users = compiler.resource_map("users", USER, (ENTERPRISE,), top["users"])
    groups = compiler.resource_map("groups", GROUP, (), top["groups"]) if "groups" in top else None
    maps = {"users": users, **({"groups": groups} if "groups" in top else {})}
    examples = compiler.examples(top.get("examples", []), maps)
    if compiler.problems or users is None:
        raise ConfigError(compiler.problems)
    resource_maps = {name: resource_map for name, resource_map in maps.items() if resource_map is not None}
    return Mapping(source, top["backend"], users, groups, resource_maps, examples)


class _Compiler:
    def __init__(self, document: Any, source: str, backend: str):
        self.document = document
        self.source = source
        self.backend = backend
        self.kind: BackendKind[Any, Any] = backend_kind(backend)
        self.rule_schema, self.resource_map_schema = section_schemas(backend)
        self.problems: list[Problem] = []

    def problem(self, where: tuple, message: str) -> None:
        self.problems.append(Problem(self.source, line_of(self.document, where), message))

    def marshmallow(self, schema: Schema, raw: Any, where: tuple) -> Any:
        """What the schema loads (a dict, or what its post_load builds); None after a problem."""
        try:
            return schema.load(raw)
        except ValidationError as error:
            problems = yamlfile.problems_from_marshmallow(
                error.messages, self.document, self.source, where, schema=schema
            )
            self.problems.extend(_with_known_keys(p, schema) for p in problems)
            return None

    def resource_map(self, name: str, core, known_extensions, raw: dict) -> ResourceMap | None:
        section = self.marshmallow(self.resource_map_schema(), raw, (name,))
        if section is None:
            return None
        target = self.target(name, section)
        provisional = ResourceType(
            core.name, f"/{core.name}s", core, self.extensions(section["attributes"], known_extensions)
        )
        rules, families = [], []
        for path_text, spec in section["attributes"].items():
            if path_text.rstrip().endswith(WILDCARD):
                family = self.family(name, provisional, path_text, spec)
                families.extend([family] if family else [])
                continue
            rule = self.rule(name, provisional, path_text, spec)
            rules.extend([rule] if rule else [])
        computed = self.computed_section(name, "computed", provisional, section.get("computed", {}))
        defaults = self.computed_section(name, "defaults", provisional, section.get("defaults", {}))
        required = self.paths(name, "required", provisional, section.get("required", []))
        used = {r.path.urn for r in rules} | {f.urn for f in families} | {t.urn for t in required}
        used |= {path.urn for item in (*computed, *defaults) for template in item.templates for path in template.paths}
        resource_type = ResourceType(
            provisional.name, provisional.endpoint, core, tuple(e for e in provisional.extensions if e.id in used)
        )
        resource_map = ResourceMap(
            name=name,
            resource_type=resource_type,
            rules=tuple(rules),
            id_attribute=section.get("id") or self.kind.default_id,
            created_attribute=section.get("created") or self.kind.default_created,
            modified_attribute=section.get("last_modified") or self.kind.default_modified,
            defaults=tuple(defaults),
            target=target,
            computed=tuple(computed),
            families=tuple(families),
            required=required,
            unique=self.paths(name, "unique", provisional, section.get("unique", [])),
            entra_paths=self.entra_paths(name, provisional, section),
            lines={
                **{key: line_of(self.document, (name, key)) for key in raw if isinstance(key, str)},
                "indexes": line_of(self.document, (name, self.backend, "indexes")),
            },
        )
        for where, message in consistency_problems(name, self.backend, self.kind.noun, resource_map):
            self.problem(where, message)
        return resource_map

    def target(self, name: str, section: dict) -> Target | None:
        raw = section.get(self.backend)
        if raw is None:
            self.problem((name,), f"{name} needs {self.kind.section} for the {self.backend} backend")
            return None
        target = self.marshmallow(self.kind.target_schema(unknown=RAISE), raw, (name, self.backend))
        if target is not None and not isinstance(target, self.kind.target_class):
            raise TypeError(f"the {self.backend} section loads a {type(target).__name__}")  # a kind's own mistake
        return target

    def extensions(self, attributes: dict, known) -> tuple:
        """The extensions the map's paths use: known ones, plus custom `urn:...:Name:2.0:User:attr`."""
        custom: dict[str, list[str]] = {}
        open_prefixes: dict[str, list[str]] = {}
        for path_text in attributes:
            if not path_text.lower().startswith("urn:"):
                continue
            urn, _, attribute = path_text.split("[")[0].strip().rpartition(":")
            if urn.lower() in (CORE_USER.lower(), CORE_GROUP.lower()) or urn.lower() in KNOWN_EXTENSIONS:
                continue
            if attribute.endswith(WILDCARD):
                open_prefixes.setdefault(urn, []).append(attribute[:-1])
                custom.setdefault(urn, [])
            else:
                custom.setdefault(urn, []).append(attribute.split(".")[0])
        return tuple(known) + tuple(
            custom_extension(urn, names, tuple(open_prefixes.get(urn, ()))) for urn, names in custom.items()
        )

    # --- attribute lines ---------------------------------------------------------------------

    def rule(self, name: str, resource_type: ResourceType, path_text: str, spec: Any) -> Rule | None:
        where = (name, "attributes", path_text)
        try:
            path = scim_path(resource_type, path_text)
        except ScimError as error:
            self.problem(where, error.detail)
            return None
        if isinstance(spec, str):
            spec = {"attribute": spec}
        if not isinstance(spec, dict):
            self.problem(where, f"'{path_text}' maps to {self.kind.a_noun} name or to a mapping with 'attribute:'")
            return None
        options = self.marshmallow(self.rule_schema(), spec, where)
        if options is None:
            return None
        attribute_def = resource_type.attribute(path.urn, path.attribute)
        if attribute_def is None:  # scim_path resolved it: never
            raise ValueError(f"{path} is not an attribute of {resource_type.name}")
        sub_def = attribute_def.sub(path.sub) if path.sub else None
        scim_type = (sub_def or attribute_def).type
        transform = compile_chain(options, scim_type, path.multi, lambda at, text: self.problem((*where, *at), text))
        attribute = options.get("attribute")
        if isinstance(options.get("disable"), dict):
            attribute = options["disable"].get("attribute", attribute)
        elif options.get("disable") in PRESET_ATTRIBUTES:
            attribute = attribute or PRESET_ATTRIBUTES[options["disable"]]
        if attribute is None:
            self.problem(where, f"'{path_text}' needs 'attribute:' (the {self.kind.noun} that holds it)")
            return None
        if options.get("reference") and transform != Chain(Identity(scim_type)):
            self.problem(where, "a reference is stored as the DN it points at: it takes no transform")
        if options["read_only"] and options["read"] != "exact":
            self.problem((*where, "read"), "read_only: true is never written, so read: can only be exact")
        return Rule(
            path=path,
            attribute=attribute,
            transform=transform,
            reference=options.get("reference"),
            writable=not options["read_only"],
            line=line_of(self.document, where),
            read=options["read"],
            # A password is never shown, not even to an auditor: masked whether or not the map says so.
            sensitive=options["sensitive"] or (sub_def or attribute_def).returned == "never",
        )

    def family(self, name: str, resource_type: ResourceType, path_text: str, spec: Any) -> Family | None:
        """`urn:...:Name:2.0:User:*: {attribute: "prefix{name}"}`: a whole extension, or its names with a prefix."""
        where = (name, "attributes", path_text)
        urn, _, pattern = path_text.strip().rpartition(":")
        extension = resource_type.extension(urn) if urn.lower().startswith("urn:") else None
        if extension is None or not extension.open_prefixes or pattern.count("*") != 1:
            self.problem(
                where, "only a custom extension's attributes take a wildcard: urn:...:Name:2.0:User:* or :prefix*"
            )
            return None
        if isinstance(spec, str):
            spec = {"attribute": spec}
        template = spec.get("attribute") if isinstance(spec, dict) else None
        if not isinstance(template, str) or template.count("{name}") != 1:
            self.problem(
                where, 'a wildcard maps to attribute names made from each SCIM name, e.g. attribute: "custom{name}"'
            )
            return None
        if not re.match(self.kind.attribute_pattern, template.replace("{name}", "x")) or template.strip() == "{name}":
            self.problem(
                (*where, "attribute"),
                f'{template!r} must make {self.kind.noun} names and have a fixed part, e.g. "custom{{name}}"',
            )
            return None
        options = self.marshmallow(RuleSchema(), {k: v for k, v in spec.items() if k != "attribute"}, where)
        if options is None:
            return None
        transform = compile_chain(options, "string", False, lambda at, text: self.problem((*where, *at), text))
        line = line_of(self.document, where)
        return Family(extension.id, pattern[:-1], template, transform, line, path_text, self.kind.attribute_pattern)

    # --- computed attributes, rules and Entra's attribute list ------------------------------

    def computed_section(self, name: str, key: str, resource_type: ResourceType, section: dict) -> list[Computed]:
        found = []
        for attribute, spec in section.items():
            computed = self.computed(name, key, resource_type, attribute, spec)
            found.extend([computed] if computed else [])
        return found

    def computed(self, name: str, key: str, resource_type: ResourceType, attribute: str, spec: Any) -> Computed | None:
        where = (name, key, attribute)
        if isinstance(spec, str):
            spec = {"template": spec}
        elif isinstance(spec, list):
            spec = {"first_of": spec}
        if not isinstance(spec, dict):
            self.problem(
                where,
                "a computed value is a template string, a list of them (the first that fills), or {template: ...}",
            )
            return None
        options = self.marshmallow(ComputedSchema(), spec, where)
        if options is None:
            return None
        texts = [options["template"]] if "template" in options else options["first_of"]
        templates = []
        for text in texts:
            template = Template(text)
            paths = []
            for placeholder in template.names():
                placeholder, calls = functions.split_placeholder(placeholder)
                for text_problem in functions.problems(calls):
                    self.problem(where, f"{{{placeholder}}}: {text_problem}")
                try:
                    paths.append(scim_path(resource_type, placeholder))
                except ScimError as error:
                    self.problem(where, f"{{{placeholder}}}: {error.detail}")
                    return None
            templates.append(Template(text, tuple(paths)))
        transform = compile_chain(options, "string", False, lambda at, text: self.problem((*where, *at), text))
        line = line_of(self.document, where)
        return Computed(attribute.lower(), tuple(templates), transform, key == "defaults", line, attribute)

    def paths(self, name: str, key: str, resource_type: ResourceType, texts: list[str]) -> tuple[ScimPath, ...]:
        found = []
        for index, text in enumerate(texts):
            try:
                found.append(scim_path(resource_type, text))
            except ScimError as error:
                self.problem((name, key, index), f"{key}: {error.detail}")
        return tuple(found)

    def entra_paths(self, name: str, resource_type: ResourceType, section: dict) -> tuple[ScimPath, ...]:
        texts = section.get("entra_attributes", ["default"])
        found: list[ScimPath] = []
        for index, text in enumerate(texts):
            if text == "default":
                found.extend(scim_path(resource_type, p) for p in entra.DEFAULTS[name])
                continue
            try:
                found.append(scim_path(resource_type, text))
            except ScimError as error:
                if not text.lower().startswith("urn:"):
                    self.problem((name, "entra_attributes", index), f"entra_attributes: {error.detail}")
                    continue
                urn, _, attribute = text.rpartition(":")  # an extension this map does not store at all
                found.append(ScimPath(urn, attribute, text=text))
        return tuple(found)

    def examples(self, raw: list[dict], maps: dict[str, ResourceMap | None]) -> tuple[Example, ...]:
        found = []
        for index, example in enumerate(raw):
            if example["resource"] not in maps:
                self.problem(("examples", index, "resource"), f"the map has no {example['resource']} section")
                continue
            if "expect" not in example and "error" not in example:
                self.problem(
                    ("examples", index), "an example needs expect: (the entry written) or error: (the refusal)"
                )
                continue
            found.append(
                Example(
                    name=example["name"],
                    resource=example["resource"],
                    request=example["request"],
                    current=example.get("current"),
                    expect=example.get("expect"),
                    error=example.get("error"),
                    line=line_of(self.document, ("examples", index)),
                )
            )
        return tuple(found)


def _with_known_keys(problem: Problem, schema: Schema) -> Problem:
    """marshmallow's "Unknown field." says what is wrong; say what is right as well."""
    if not problem.message.endswith(": Unknown field."):
        return problem
    known = ", ".join(sorted(schema.fields))
    return dataclasses.replace(
        problem, message=problem.message.replace("Unknown field.", f"unknown key; known: {known}")
    )


def scim_path(resource_type: ResourceType, text: str) -> ScimPath:
    """Compile a map path such as `emails[type eq "work"].value` into a ScimPath."""
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
    return ScimPath(resolved.urn, attribute.name, sub, selector, multi, text)
