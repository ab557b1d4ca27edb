"""A compiled map: what the loader builds from YAML and every other layer reads.

Frozen dataclasses only; a map is built once (start-up, reload) and shared by all requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gateway.mapping.transforms import Chain
from gateway.scim.schema import ResourceType

if TYPE_CHECKING:
    from gateway.backends.base import Target


@dataclass(frozen=True)
class ScimPath:
    """Where a rule's value lives in a SCIM resource.

    `emails[type eq "work"].value` is attribute "emails", selector (("type", "work"),), sub "value".
    A multi-valued attribute without a selector (`members`, `roles.value`) is `multi`: every
    element's sub-attribute maps to one value of a multi-valued directory attribute.
    """

    urn: str | None
    attribute: str
    sub: str | None = None
    selector: tuple[tuple[str, Any], ...] = ()
    multi: bool = False
    text: str = ""

    def __str__(self) -> str:
        return self.text or self.attribute


@dataclass(frozen=True)
class Rule:
    """One line of the map: a SCIM path and the directory attribute that holds it."""

    path: ScimPath
    attribute: str  # directory attribute, as the map spells it
    transform: Chain = field(default_factory=Chain)
    reference: str | None = None  # "users" or "groups": the value is that object's id
    writable: bool = True
    line: int | None = None
    read: str = "exact"  # how Entra reads it back: "exact", "stored" (lossy, said so) or "none"
    sensitive: bool = False  # values masked in the audit trail (`sensitive: true`, or a password)

    @property
    def key(self) -> str:
        return self.attribute.lower()

    @property
    def readable(self) -> bool:
        return self.read != "none"

    @property
    def multi_valued(self) -> bool:
        """The directory attribute holds several values: a multi-valued path, or `split:`."""
        return self.path.multi or self.transform.splits


@dataclass(frozen=True)
class Template:
    """`"{name.givenName} {name.familyName}"`: text with SCIM paths in braces."""

    text: str
    paths: tuple[ScimPath, ...] = ()

    PLACEHOLDER = re.compile(r"\{([^{}]+)\}")

    def names(self) -> list[str]:
        return self.PLACEHOLDER.findall(self.text)


@dataclass(frozen=True)
class Computed:
    """A directory attribute computed from SCIM values: a template, the first of several
    templates that has all its values, or a constant (a template without braces).

    From `computed:` it is always written; from `defaults:` (`fallback`) only when no
    attribute line gave it a value. Either way it is never read back.
    """

    attribute: str  # lower case
    templates: tuple[Template, ...]
    transform: Chain = field(default_factory=Chain)
    fallback: bool = False
    line: int | None = None
    name: str = ""  # as the map spells it


@dataclass(frozen=True)
class Family:
    """`urn:...:alvao_tPersonCust:2.0:User:*`: every attribute of an extension whose name
    starts with `prefix`, each in a directory attribute named after it (`alvaoCust{name}`,
    where {name} is the part of the SCIM name after the prefix)."""

    urn: str
    prefix: str
    attribute: str  # a template with one {name}
    transform: Chain = field(default_factory=Chain)
    line: int | None = None
    text: str = ""
    name_pattern: str = r"^[A-Za-z][A-Za-z0-9-]*$"  # what the backend accepts as an attribute name

    def covers(self, urn: str | None, name: str) -> bool:
        return (
            urn is not None
            and urn.lower() == self.urn.lower()
            and name.lower().startswith(self.prefix.lower())
            and len(name) > len(self.prefix)
        )

    def directory_attribute(self, name: str) -> str | None:
        """The directory attribute for a SCIM attribute name, or None if it cannot name one."""
        attribute = self.attribute.replace("{name}", name[len(self.prefix) :])
        return attribute if re.match(self.name_pattern, attribute) else None

    def scim_name(self, key: str) -> str | None:
        """The SCIM attribute name a directory attribute (lower case) stands for, if it is ours."""
        before, _, after = self.attribute.lower().partition("{name}")
        if len(key) <= len(before) + len(after) or not (key.startswith(before) and key.endswith(after)):
            return None
        return self.prefix + key[len(before) : len(key) - len(after)]

    def rule(self, name: str) -> Rule | None:
        attribute = self.directory_attribute(name)
        if attribute is None:
            return None
        path = ScimPath(self.urn, name, text=f"{self.urn}:{name}")
        return Rule(path, attribute, self.transform, line=self.line)


@dataclass(frozen=True)
class ResourceMap:
    """How one SCIM resource type (Users or Groups) lands in the directory."""

    name: str  # "users" or "groups"
    resource_type: ResourceType
    rules: tuple[Rule, ...]
    id_attribute: str
    created_attribute: str | None = None
    modified_attribute: str | None = None
    defaults: tuple[Computed, ...] = ()
    target: Target | None = None  # the backend's own section for this resource (base DN, DN template, ...)
    computed: tuple[Computed, ...] = ()
    families: tuple[Family, ...] = ()
    required: tuple[ScimPath, ...] = ()  # beyond the schema's own (userName, displayName)
    unique: tuple[ScimPath, ...] = ()  # beyond the schema's own
    entra_paths: tuple[ScimPath, ...] = ()  # what Entra's attribute mapping sends (mapping check)
    lines: dict[str, int | None] = field(default_factory=dict)  # where its keys are in the file ("attributes": 12)

    @cached_property
    def memo(self) -> dict:
        """What is worked out from this map once and kept (codec.py: what a projection reads)."""
        return {}

    def rules_for(self, urn: str | None, attribute: str, sub: str | None = None) -> list[Rule]:
        """Rules whose SCIM path is this attribute (and this sub-attribute, if given)."""
        found = [
            rule
            for rule in self.rules
            if rule.path.urn == urn and rule.path.attribute == attribute and (sub is None or rule.path.sub == sub)
        ]
        if not found and sub is None:
            family = self.family_for(urn, attribute)
            rule = family.rule(attribute) if family else None
            found = [rule] if rule else []
        return found

    def family_for(self, urn: str | None, attribute: str) -> Family | None:
        return next((f for f in self.families if f.covers(urn, attribute)), None)

    @property
    def computed_attributes(self) -> tuple[Computed, ...]:
        """Always-computed first, then the defaults that fill what is still empty."""
        return (*self.computed, *self.defaults)

    @property
    def attribute_names(self) -> dict[str, str]:
        """Directory attribute names as the map spells them, by their lower-case key."""
        names = {d.attribute: d.name or d.attribute for d in self.computed_attributes}
        names.update({rule.key: rule.attribute for rule in self.rules})
        return names

    @property
    def written_attributes(self) -> set[str]:
        return {rule.key for rule in self.rules if rule.writable} | {d.attribute for d in self.computed_attributes}

    @property
    def multi_valued_attributes(self) -> frozenset[str]:
        return frozenset(rule.key for rule in self.rules if rule.multi_valued)

    @property
    def sensitive_attributes(self) -> frozenset[str]:
        """Directory attributes (lower case) whose values the audit trail masks."""
        return frozenset(rule.key for rule in self.rules if rule.sensitive)

    @property
    def name_attribute(self) -> str | None:
        """The directory attribute (lower case) that holds userName (Groups: displayName)."""
        for path in ("userName", "displayName"):
            rules = [rule for rule in self.rules_for(None, path) if rule.readable]
            if rules:
                return rules[0].key
        return None


@dataclass(frozen=True)
class Example:
    """`examples:` in a map: a SCIM request and what it must write, run by `mapping check`."""

    name: str
    resource: str  # "users" or "groups"
    request: dict  # a POST body, or a PATCH body (one with Operations)
    current: dict | None = None  # the resource a PATCH applies to
    expect: dict | None = None  # {dn: ..., attribute: value, [values] or ~ for absent}
    error: str | None = None  # or: the request fails, and its message contains this
    line: int | None = None


@dataclass(frozen=True)
class Mapping:
    """A whole map file: which backend it is for, and the Users (and Groups) maps."""

    source: str
    backend: str
    users: ResourceMap
    groups: ResourceMap | None = None
    resource_maps: dict[str, ResourceMap] = field(default_factory=dict)
    examples: tuple[Example, ...] = ()
