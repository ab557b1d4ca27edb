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

A bit flag (AD's userAccountControl, where 0x2 is `active`) is one number that others write
too: an admin or a tool sets 0x10000 "password never expires" or 0x40000 "smartcard required"
between the gateway's read and its write. A replace would undo that. So when the entry was read
with a value, the new number is written as one modify that deletes exactly the value read and
adds the new one:

    was  replace: userAccountControl / 514                   (whatever the entry held by then)
    now  delete: userAccountControl / 512, add: ... / 514    (only if it still holds the 512 read)

If the value changed meanwhile, the directory refuses the whole modify and writes nothing
(noSuchAttribute, measured on slapd 2.5, 389 DS 2.3 and Samba 4.17; AD fails a delete of a
value the attribute lacks, MS-ADTS 3.1.1.3.4.1.8). Then the attribute is read again; if it did
change, the number is computed anew from it and the modify sent again, up to FLAG_ATTEMPTS
modifies, then `Contended` (503 with Retry-After, nothing written). If it did not, the refusal
was about another value and the fixes above apply. No assertion control is needed (AD has none).
Permissive modify is never sent with such a modify: it makes that delete succeed (same section;
on Samba the raced write then answered success, and the gateway's bit was lost). A new entry,
or one read without the attribute (or that lost it meanwhile), gets a replace as before. The
race-free path costs what the replace cost: one modify.
"""

from __future__ import annotations

from collections.abc import Sequence

import ldap3

from gateway.backends.base import Contended, UnknownReference
from gateway.backends.ldap import controls, results
from gateway.backends.ldap.capabilities import UNKNOWN, Capabilities
from gateway.backends.ldap.compose import normalized_dn
from gateway.backends.ldap.target import LdapSpec
from gateway.store import Change, Flags, Record, Ref

OPS = {"replace": ldap3.MODIFY_REPLACE, "add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE}
FIXES = 4  # modifies sent again without values already there or absent, or with the placeholder
FLAG_ATTEMPTS = 5  # a bit flag's number changed by someone else since it was read: read again this often


class Modification:
    def __init__(self, spec: LdapSpec, changes: list[Change], locators: dict[Ref, str], current: Record | None = None):
        self.spec = spec
        self.target = spec.target
        self.locators = locators
        self.current = current or {}
        # bit flag changes to an attribute that was read: guarded by deleting the value read
        self.flags = {c.attribute: c for c in changes if c.op == "replace" and _has_flags(c) and self._held(c)}
        self.changes = [written for c in changes for written in self._written(c)]
        self.changes = [c for c in self.changes if c.values or c.op == "replace"]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def _written(self, change: Change) -> list[Change]:
        values = tuple(self.ldap_values(change.values, change.attribute))
        if change.attribute in self.flags:
            return [Change(change.attribute, "delete", self._held(change)), Change(change.attribute, "add", values)]
        return [Change(change.attribute, change.op, values)]

    def _held(self, change: Change) -> tuple[str, ...]:
        """The values the entry held when it was read, as the directory spelled them."""
        return tuple(str(v) for v in self.current.get(change.attribute) or [])

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
        """Send the modify; retry without values already there or absent, or with the placeholder;
        a bit flag's number changed since it was read: read again and computed anew."""
        permissive = capabilities.permissive_modify and not self.flags  # it would hide a raced flag
        if permissive and any(c.op in ("add", "delete") for c in self.changes):
            request_controls = [*request_controls, controls.permissive_modify()]
        extra: list[Change] = []
        races = 0
        for _ in range(FIXES + FLAG_ATTEMPTS):
            connection.modify(dn, self.as_ldap(extra), controls=request_controls)
            code = results.code(connection)
            if code in (results.NO_SUCH_OBJECT, results.ASSERTION_FAILED):
                raise results.StaleLocator()
            if code in results.VALUE_ABSENT and self.flags and self._raced(connection, dn):
                races += 1
                if races < FLAG_ATTEMPTS:
                    continue
                names = ", ".join(self.spec.name(a) for a in self.flags)
                raise Contended(
                    f"{names} kept being changed by another writer while the gateway wrote it ({races} tries)"
                )
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

    def _raced(self, connection: ldap3.Connection, dn: str) -> bool:
        """Did a guarded bit flag's value change since it was read? If so, its changes are made
        again from the value the entry holds now (one read of those attributes)."""
        connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[self.spec.name(a) for a in self.flags])
        results.check(connection)
        found = results.entries(connection)
        held = {k.lower(): v for k, v in (found[0]["attributes"] if found else {}).items()}
        now: Record = {a: [_text(v) for v in _listed(held.get(self.spec.name(a).lower()))] for a in self.flags}
        if all(tuple(now[a]) == self._held(change) for a, change in self.flags.items()):
            return False  # the refusal was about another value: the usual fixes deal with it
        self.current = {**self.current, **now}
        planned = list(self.flags.values())
        self.flags = {a: c for a, c in self.flags.items() if now[a]}  # gone meanwhile: a replace, as for a new entry
        self.changes = [c for c in self.changes if c.attribute not in now]
        self.changes += [written for c in planned for written in self._written(c)]
        return True

    def _emptied(self) -> list[str]:
        return [c.attribute for c in self.changes if c.op == "delete" and c.attribute in self.target.placeholders]

    def _drop(self, connection: ldap3.Connection, dn: str, op: str, capabilities: Capabilities) -> bool:
        """Remove values an `op` change cannot make (deleting what is absent, adding what is
        there: both already done); True if anything was dropped. A bit flag's guard stays (_raced)."""
        dropped = False
        kept: list[Change] = []
        for change in self.changes:
            if change.op != op or change.attribute in self.flags:
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


def _has_flags(change: Change) -> bool:
    return any(isinstance(v, Flags) for v in change.values)


def _listed(values) -> list:
    return values if isinstance(values, list) else [] if values is None else [values]


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _integer(text) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None
