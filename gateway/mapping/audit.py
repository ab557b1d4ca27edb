"""What `mapping check` warns about in a map that loads: things that work, but will hurt.

- An attribute Entra sends (its default mapping, or the map's `entra_attributes:`) that the map
  drops, does not store, or does not read back: Entra re-sends it every cycle, forever.
- A transform that cannot give back what Entra sent (`case: lower`, a value map that folds two
  values into one) on a line that does not say how it reads back (`read: stored`).
- An attribute Entra filters on (userName, externalId, manager, displayName, the map's
  `unique:` paths, the id) that the directory does not index: every lookup scans.

Pure: a compiled Mapping in, warnings (Problems) out.
"""

from __future__ import annotations

from gateway.mapping import entra
from gateway.mapping.consistency import same_path
from gateway.mapping.model import Mapping, ResourceMap, Rule, ScimPath
from gateway.yamlfile import Problem

RESENT = "so Entra will re-send it every cycle"


def audit(mapping: Mapping) -> list[Problem]:
    warnings: list[Problem] = []
    for resource_map in mapping.resource_maps.values():
        if resource_map is None:
            continue
        auditor = _Auditor(mapping.source, resource_map)
        auditor.entra_attributes()
        auditor.lossy_transforms()
        auditor.indexes()
        auditor.id_attribute()
        warnings.extend(auditor.warnings)
    return sorted(warnings, key=lambda w: w.line or 0)


class _Auditor:
    def __init__(self, source: str, resource_map: ResourceMap):
        self.source = source
        self.map = resource_map
        self.warnings: list[Problem] = []

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(Problem(self.source, line, message, warning=True))

    def rules_at(self, path: ScimPath) -> list[Rule]:
        found = [rule for rule in self.map.rules if same_path(rule.path) == same_path(path)]
        family = self.map.family_for(path.urn, path.attribute) if path.sub is None else None
        if not found and family is not None:
            rule = family.rule(path.attribute)
            found = [rule] if rule is not None else []
        return found

    def entra_attributes(self) -> None:
        line = self.map.lines.get("entra_attributes") or self.map.lines.get("attributes")
        for path in self.map.entra_paths:
            rules = self.rules_at(path)
            if not rules:
                self.warn(
                    line,
                    f"{self.map.name}: Entra's attribute mapping sends {path}, and this map drops it, {RESENT}: "
                    "map it, or delete it from the application's attribute mapping in Entra",
                )
            elif not any(rule.writable for rule in rules):
                self.warn(rules[0].line, f"{path} is read_only here: what Entra sends is not stored, {RESENT}")
            elif not any(rule.readable for rule in rules):
                self.warn(rules[0].line, f"{path} is written but never read back (read: none), {RESENT}")

    def lossy_transforms(self) -> None:
        lines = [(rule.path.text or str(rule.path), rule.transform, rule.read, rule.line) for rule in self.map.rules]
        lines += [(family.text, family.transform, "exact", family.line) for family in self.map.families]
        for path, transform, read, line in lines:
            if read == "exact" and transform.loss:
                self.warn(
                    line,
                    f"{path}: {transform.loss}, so Entra will see a change every cycle; "
                    "if Entra only ever sends values that survive it, say read: stored",
                )

    def id_attribute(self) -> None:
        problem = getattr(self.map.target, "id_problem", lambda attribute: None)(self.map.id_attribute)
        if problem:
            self.warn(self.map.lines.get("id"), f"{self.map.name}: {problem}")

    def indexes(self) -> None:
        if self.map.target is None:
            return
        indexed = self.map.target.indexed
        looked_up = self.looked_up()
        line = self.map.lines.get("indexes")
        if indexed(self.map.id_attribute) is None:
            names = ", ".join(sorted({attribute for attribute, _ in looked_up}, key=str.lower))
            self.warn(
                line,
                f"{self.map.name}: the map does not list the directory's indexes (ldap.indexes), "
                f"so mapping check cannot tell whether Entra's lookups ({names}) are indexed",
            )
            return
        for attribute, why in looked_up:
            if not indexed(attribute):
                self.warn(
                    line,
                    f"{self.map.name}: {why} {attribute}, which the directory does not index "
                    "(ldap.indexes): every such lookup reads the whole subtree",
                )

    def looked_up(self) -> list[tuple[str, str]]:
        """(directory attribute, why it is searched) for every lookup Entra's requests cause."""
        found: dict[str, tuple[str, str]] = {
            self.map.id_attribute.lower(): (self.map.id_attribute, "every read by id searches")
        }
        paths = [(p, "Entra looks up by") for p in entra.FILTERED_PATHS.get(self.map.name, ())]
        paths += [(str(t), "the uniqueness check looks up") for t in self.map.unique]
        for path, why in paths:
            for rule in self.map.rules:
                text = rule.path.text or str(rule.path)
                if text.lower() == path.lower() or str(rule.path).lower() == path.lower():
                    found.setdefault(rule.key, (rule.attribute, f"{why} {text}, stored in"))
        return list(found.values())
