"""One LDAP modify built from Changes, and the few ways a directory says "not like that".

Multi-valued attributes (members) change value by value, never by rewriting the whole list:
- adding a value that is already there succeeds (permissive modify control, where the
  directory honours it); where it does not (389 DS: attributeOrValueExists; AD: 68
  entryAlreadyExists), the values already there are found and the modify is sent again
  without them: "already a member" is done, never a uniqueness error;
- deleting values of which none is there fails with noSuchAttribute (AD: 53) even so; then
  one read with the matched-values control (else a plain read of the attribute) tells which
  of *these* values exist (not the other 19,990) and the modify is sent again without the
  absent ones;
- an attribute that must never be empty (groupOfNames' member) always keeps its placeholder
  value; a group created elsewhere without it gets it added when its last member goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import ldap3

from gateway.backends.base import UnknownReference
from gateway.backends.ldap import controls, results
from gateway.backends.ldap.capabilities import UNKNOWN, Capabilities
from gateway.backends.ldap.compose import normalized_dn
from gateway.backends.ldap.target import LdapSpec
from gateway.store import Change, Flags, Record, Ref

OPS = {"replace": ldap3.MODIFY_REPLACE, "add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE}


class Modification:
    def __init__(self, spec: LdapSpec, changes: list[Change], locators: dict[Ref, str], current: Record | None = None):
        self.spec = spec
        self.target = spec.target
        self.locators = locators
        self.current = current or {}
        self.changes = [Change(c.attribute, c.op, tuple(self.ldap_values(c.values, c.attribute))) for c in changes]
        self.changes = [c for c in self.changes if c.values or c.op == "replace"]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def ldap_values(self, values, attribute: str | None = None) -> list[str]:
        texts = []
        for value in values:
            if isinstance(value, Flags):
                # Only these bits change; the rest are what the entry held when it was read.
                held = self.current.get(attribute or "") or []
                texts.append(str(value.apply(_integer(held[0]) if held else None)))
            elif isinstance(value, Ref):
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
            texts = self.ldap_values(items, key)
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

    def apply(
        self, connection: ldap3.Connection, dn: str, request_controls: list, capabilities: Capabilities = UNKNOWN
    ) -> None:
        """Send the modify; retry without values already there or absent, or with the placeholder."""
        if capabilities.permissive_modify and any(c.op in ("add", "delete") for c in self.changes):
            request_controls = [*request_controls, controls.permissive_modify()]
        extra: list[Change] = []
        for _ in range(4):
            connection.modify(dn, self.as_ldap(extra), controls=request_controls)
            code = results.code(connection)
            if code in (results.NO_SUCH_OBJECT, results.ASSERTION_FAILED):
                raise results.StaleLocator()
            if code in results.VALUE_ABSENT and self._drop(connection, dn, "delete", capabilities):
                if not self.changes:
                    return
                continue
            if code in results.VALUE_PRESENT and self._drop(connection, dn, "add", capabilities):
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

    def _drop(self, connection: ldap3.Connection, dn: str, op: str, capabilities: Capabilities) -> bool:
        """Remove values an `op` change cannot make (deleting what is absent, adding what is
        there: both already done); True if anything was dropped."""
        dropped = False
        kept: list[Change] = []
        for change in self.changes:
            if change.op != op:
                kept.append(change)
                continue
            present = self._present(connection, dn, change, capabilities)
            values = tuple(
                v for v in change.values if (self._key(change.attribute, str(v)) in present) == (op == "delete")
            )
            dropped = dropped or len(values) != len(change.values)
            if values:
                kept.append(Change(change.attribute, op, values))
        self.changes = kept
        return dropped

    def _present(self, connection: ldap3.Connection, dn: str, change: Change, capabilities: Capabilities) -> set[str]:
        name = self.spec.name(change.attribute)
        connection.search(
            dn,
            "(objectClass=*)",
            ldap3.BASE,
            attributes=[name],
            controls=[controls.matched_values(name, [str(v) for v in change.values])]
            if capabilities.matched_values
            else None,
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


def _integer(text) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None
