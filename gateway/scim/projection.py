"""`attributes` and `excludedAttributes` (RFC 7644 section 3.4.2.5).

One Projection answers two questions with the same rules: which SCIM attributes a response
carries, and (through the mapping) which directory attributes need to be read at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gateway.scim.filter import parse_attr_path
from gateway.scim.resource import resolve
from gateway.scim.schema import ResourceType

Key = tuple[str | None, str, str | None]  # (extension URN or None, attribute, sub-attribute or None)
KEPT = 64  # parsed projections kept per resource type (Entra sends two or three kinds)
KEPT_DECISIONS = 1024  # per projection: one per attribute a resource can carry


@dataclass(frozen=True)
class Projection:
    include: frozenset[Key] | None = None
    exclude: frozenset[Key] = frozenset()
    include_extensions: frozenset[str] = frozenset()
    exclude_extensions: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, resource_type: ResourceType, attributes: str | None, excluded: str | None) -> Projection:
        """The same parameters give the same Projection, kept by the resource type: what it
        decides (here, and what codec.py reads for it) is worked out once, not per request."""
        kept = resource_type.memo
        found = kept.get((cls, attributes, excluded))
        if found is None:
            include, extensions = _keys(resource_type, attributes)
            exclude, excluded_extensions = _keys(resource_type, excluded)
            found = cls(include if attributes else None, exclude, extensions, excluded_extensions)
            if len(kept) >= KEPT:  # a client choosing new attribute lists cannot grow it
                kept.clear()
            kept[(cls, attributes, excluded)] = found
        return found

    @cached_property
    def _decisions(self) -> dict:
        """(type, urn, name) -> (kept?, sub-attributes to keep, sub-attributes to drop)."""
        return {}

    def wants(self, urn: str | None, attribute: str, sub: str | None = None, returned: str = "default") -> bool:
        """Does the response carry this attribute (or this sub-attribute)?"""
        if returned == "always":
            return True
        if returned == "never" or urn in self.exclude_extensions:
            return False
        if (urn, attribute, None) in self.exclude or (sub and (urn, attribute, sub) in self.exclude):
            return False
        if self.include is None:
            return returned != "request"
        if urn is not None and urn in self.include_extensions:
            return True
        if (urn, attribute, None) in self.include:
            return True
        if sub is not None:
            return (urn, attribute, sub) in self.include
        return any(key[:2] == (urn, attribute) for key in self.include)

    def subs(self, urn: str | None, attribute: str) -> set[str] | None:
        """The sub-attributes to keep of a complex attribute, or None for all of them."""
        if (
            self.include is not None
            and (urn, attribute, None) not in self.include
            and not (urn is not None and urn in self.include_extensions)
        ):
            return {key[2] for key in self.include if key[:2] == (urn, attribute) and key[2]}
        return None

    def apply(self, resource: dict, resource_type: ResourceType) -> dict:
        result: dict = {}
        for key, value in resource.items():
            if key in ("schemas", "id"):
                result[key] = value
                continue
            extension = resource_type.extension(key) if key.startswith("urn:") else None
            if extension is not None:
                kept = self._filter(value, extension.id, resource_type)
                if kept:
                    result[key] = kept
                continue
            kept = self._filter({key: value}, None, resource_type)
            result.update(kept)
        return result

    def _filter(self, attributes: dict, urn: str | None, resource_type: ResourceType) -> dict:
        kept = {}
        for name, value in attributes.items():
            wanted, subs, excluded_subs = self._decision(resource_type, urn, name)
            if not wanted:
                continue
            if (subs or excluded_subs) and isinstance(value, (dict, list)):
                value = _trim(value, subs, excluded_subs)
            kept[name] = value
        return kept

    def _decision(self, resource_type: ResourceType, urn: str | None, name: str) -> tuple:
        key = (resource_type.name, urn, name)
        decision = self._decisions.get(key)
        if decision is None:
            attribute = resource_type.attribute(urn, name)
            returned = attribute.returned if attribute else "default"
            excluded_subs = frozenset(k[2] for k in self.exclude if k[:2] == (urn, name) and k[2])
            decision = (self.wants(urn, name, returned=returned), self.subs(urn, name), excluded_subs)
            if len(self._decisions) < KEPT_DECISIONS:  # names come from the map, not the client
                self._decisions[key] = decision
        return decision


def _trim(value, subs: set[str] | None, excluded: set[str]):
    def one(item):
        if not isinstance(item, dict):
            return item
        return {k: v for k, v in item.items() if (subs is None or k in subs) and k not in excluded}

    return [one(item) for item in value] if isinstance(value, list) else one(value)


def _keys(resource_type: ResourceType, text: str | None) -> tuple[frozenset[Key], frozenset[str]]:
    keys: set[Key] = set()
    extensions: set[str] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        extension = resource_type.extension(part)
        if extension is not None:
            extensions.add(extension.id)
            continue
        resolved = resolve(resource_type, parse_attr_path(part))
        keys.add((resolved.urn, resolved.attribute.name, resolved.sub.name if resolved.sub else None))
    return frozenset(keys), frozenset(extensions)
