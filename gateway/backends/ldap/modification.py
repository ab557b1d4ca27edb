"""One LDAP modify built from Changes, and the few ways a directory says "not like that".

Multi-valued attributes (members) change value by value, never by rewriting the whole list:
- adding a value that is already there succeeds (permissive modify control);
- deleting values of which none is there fails with noSuchAttribute even so; then one read
  with the matched-values control tells which of *these* values exist (not the other 19,990)
  and the modify is sent again without the absent ones;
- an attribute that must never be empty (groupOfNames' member) always keeps its placeholder
  value; a group created elsewhere without it gets it added when its last member goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import ldap3

from gateway.backends.base import UnknownReference
from gateway.backends.ldap import controls, results
from gateway.backends.ldap.compose import normalized_dn
from gateway.backends.ldap.target import LdapSpec
from gateway.store import Change, Record, Ref

OPS = {"replace": ldap3.MODIFY_REPLACE, "add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE}


class Modification:
    def __init__(self, spec: LdapSpec, changes: list[Change], locators: dict[Ref, str]):
        self.spec = spec
        self.target = spec.target
        self.locators = locators
        self.changes = [Change(c.attribute, c.op, tuple(self.ldap_values(c.values))) for c in changes]
        self.changes = [c for c in self.changes if c.values or c.op == "replace"]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def ldap_values(self, values) -> list[str]:
        texts = []
        for value in values:
            if isinstance(value, Ref):
                located = value.locator or self.locators.get(value)
                if located is None:
                    raise UnknownReference(value.kind, [value.id or "?"])
                texts.append(located)
            else:
                texts.append(str(value))
        return texts

    def new_entry(self, record: Record) -> dict[str, list[str]]:
        """The attributes of an add: the record's values, object classes and placeholders."""
        values: dict[str, list[str]] = {}
        for key, items in record.items():
            texts = self.ldap_values(items)
            if key in self.target.placeholders:
                texts = [*texts, self.target.placeholders[key]]
            if texts:
                values[self.spec.name(key)] = texts
        for key, placeholder in self.target.placeholders.items():
            values.setdefault(self.spec.name(key), [placeholder])
        values["objectClass"] = list(self.target.object_classes)
        return values

    def operations(self, extra: Sequence[Change] = ()) -> list[tuple[str, str, list[str]]]:
        """(attribute as the map spells it, add|delete|replace, values): the modify in order."""
        found = []
        for change in [*self.changes, *extra]:
            values = [str(v) for v in change.values]  # text already: ldap_values made it so
            if change.op == "replace" and change.attribute in self.target.placeholders:
                values.append(self.target.placeholders[change.attribute])
            found.append((self.spec.name(change.attribute), change.op, values))
        return found

    def as_ldap(self, extra: Sequence[Change] = ()) -> dict[str, list[tuple]]:
        modification: dict[str, list[tuple]] = {}
        for name, op, values in self.operations(extra):
            modification.setdefault(name, []).append((OPS[op], values))
        return modification

    def apply(self, connection: ldap3.Connection, dn: str, request_controls: list) -> None:
        """Send the modify; retry once without absent deleted values, or with the placeholder."""
        if any(c.op in ("add", "delete") for c in self.changes):
            request_controls = [*request_controls, controls.permissive_modify()]
        extra: list[Change] = []
        for _ in range(3):
            connection.modify(dn, self.as_ldap(extra), controls=request_controls)
            code = results.code(connection)
            if code in (results.NO_SUCH_OBJECT, results.ASSERTION_FAILED):
                raise results.StaleLocator()
            if code == results.NO_SUCH_ATTRIBUTE and self._drop_absent(connection, dn):
                if not self.changes:
                    return
                continue
            if code == results.OBJECT_CLASS_VIOLATION and not extra and self._emptied():
                extra = [Change(key, "add", (self.target.placeholders[key],)) for key in self._emptied()]
                continue
            break
        results.check(connection)

    def _emptied(self) -> list[str]:
        return [c.attribute for c in self.changes if c.op == "delete" and c.attribute in self.target.placeholders]

    def _drop_absent(self, connection: ldap3.Connection, dn: str) -> bool:
        """Remove deleted values the entry does not hold; True if anything was dropped."""
        dropped = False
        kept: list[Change] = []
        for change in self.changes:
            if change.op != "delete":
                kept.append(change)
                continue
            present = self._present(connection, dn, change)
            values = tuple(v for v in change.values if self._key(change.attribute, str(v)) in present)
            dropped = dropped or len(values) != len(change.values)
            if values:
                kept.append(Change(change.attribute, "delete", values))
        self.changes = kept
        return dropped

    def _present(self, connection: ldap3.Connection, dn: str, change: Change) -> set[str]:
        name = self.spec.name(change.attribute)
        connection.search(
            dn,
            "(objectClass=*)",
            ldap3.BASE,
            attributes=[name],
            controls=[controls.matched_values(name, [str(v) for v in change.values])],
        )
        results.check(connection)
        found = results.entries(connection)
        values: list[str] = (
            next((v for k, v in found[0]["attributes"].items() if k.lower() == change.attribute), []) if found else []
        )
        return {self._key(change.attribute, v) for v in values}

    def _key(self, attribute: str, value: str) -> str:
        if attribute in self.spec.references or attribute in self.target.placeholders:
            try:
                return repr(normalized_dn(value))
            except Exception:  # not a DN after all: compare as text
                return value.lower()
        return value.lower()
