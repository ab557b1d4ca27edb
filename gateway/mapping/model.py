"""A compiled map: what the loader builds from YAML and every other layer reads.

Frozen dataclasses only; a map is built once (start-up, reload) and shared by all requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gateway.mapping.transforms import Identity, ValueMap
from gateway.scim.schema import ResourceType


@dataclass(frozen=True)
class ScimTarget:
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

    target: ScimTarget
    attribute: str  # directory attribute, as the map spells it
    transform: Identity | ValueMap = field(default_factory=Identity)
    reference: str | None = None  # "users" or "groups": the value is that object's id
    writable: bool = True
    line: int | None = None

    @property
    def key(self) -> str:
        return self.attribute.lower()


@dataclass(frozen=True)
class Template:
    """`"{name.givenName} {name.familyName}"`: text with SCIM paths in braces."""

    text: str
    paths: tuple[ScimTarget, ...] = ()

    PLACEHOLDER = re.compile(r"\{([^{}]+)\}")

    def names(self) -> list[str]:
        return self.PLACEHOLDER.findall(self.text)


@dataclass(frozen=True)
class Default:
    """A directory attribute the request may leave empty but the directory requires."""

    attribute: str  # lower case
    templates: tuple[Template, ...]
    line: int | None = None
    name: str = ""  # as the map spells it


@dataclass(frozen=True)
class ResourceMap:
    """How one SCIM resource type (Users or Groups) lands in the directory."""

    name: str  # "users" or "groups"
    resource_type: ResourceType
    rules: tuple[Rule, ...]
    id_attribute: str
    created_attribute: str | None = None
    modified_attribute: str | None = None
    defaults: tuple[Default, ...] = ()
    target: Any = None  # the backend's own settings for this resource (base DN, DN template, ...)

    def rules_for(self, urn: str | None, attribute: str, sub: str | None = None) -> list[Rule]:
        """Rules whose SCIM path is this attribute (and this sub-attribute, if given)."""
        return [
            rule
            for rule in self.rules
            if rule.target.urn == urn and rule.target.attribute == attribute and (sub is None or rule.target.sub == sub)
        ]

    @property
    def attribute_names(self) -> dict[str, str]:
        """Directory attribute names as the map spells them, by their lower-case key."""
        names = {d.attribute: d.name or d.attribute for d in self.defaults}
        names.update({rule.key: rule.attribute for rule in self.rules})
        return names

    @property
    def written_attributes(self) -> set[str]:
        return {rule.key for rule in self.rules if rule.writable} | {d.attribute for d in self.defaults}


@dataclass(frozen=True)
class Mapping:
    """A whole map file: which backend it is for, and the Users (and Groups) maps."""

    source: str
    backend: str
    users: ResourceMap
    groups: ResourceMap | None = None
    resource_maps: dict[str, ResourceMap] = field(default_factory=dict)
