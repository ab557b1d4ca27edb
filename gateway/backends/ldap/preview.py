"""The LDAP backend's dry run: the same adds, modDNs and modifies, written down as LDIF.

`mapping preview` and a map's `examples:` run the real ResourceService on this backend. It
builds every operation with the plans the LDAP backend sends (plan.py: the DN, a rename or
move, the modify, the memberships written on groups), so what it prints is what the server
would write; it only never connects. Entries live in memory, so a PATCH can be previewed
against a given current user.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from gateway.backends.base import NotFound, Update
from gateway.backends.ldap.compose import all_filters, render_filter
from gateway.backends.ldap.memberships import GroupChange
from gateway.backends.ldap.plan import AddPlan, ModifyPlan, plan_add, plan_modify
from gateway.backends.ldap.target import LdapSpec
from gateway.store import Change, Entry, Page, Query, Record, Ref, applied, references

NEW_ID = "new-entry-id"  # the directory assigns the real one (entryUUID)


class LdapPreview:
    current_id = "current-entry-id"  # the entry a previewed PATCH starts from

    def __init__(self, specs: dict[str, LdapSpec]):
        self.specs = specs
        self.entries: dict[tuple[str, str], Entry] = {}
        self.blocks: list[str] = []

    # --- what the preview shows --------------------------------------------------------------

    def transcript(self) -> str:
        return "\n".join(self.blocks)

    def entry(self, kind: str, id: str) -> Entry | None:
        return self.entries.get((kind, id.lower()))

    def seed(self, kind: str, id: str, record: Record) -> Entry:
        """Put the entry a PATCH starts from in place, named as the server would have named it."""
        plan = plan_add(self.specs[kind], record, _locators(references(record.values())))
        entry = Entry(id, _stored(record, plan), locator=plan.dn)
        self.entries[(kind, id.lower())] = entry
        return entry

    # --- the Backend interface -------------------------------------------------------------------

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        entry = self.entry(kind, id)
        if entry is None:
            raise NotFound.no_such(kind, id)
        return _visible(self.specs[kind], entry)

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        """Finds nothing; says what it would search (a write searches only to check uniqueness)."""
        target = self.specs[kind].target
        search = all_filters(target.scope_filter, render_filter(query))
        self.blocks.append(f"# first: a search below {target.base} for {search}; if another entry matches: 409\n")
        return Page(0, [])

    def create(self, kind: str, record: Record, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        plan = plan_add(spec, record, _locators(references(record.values())))
        self.blocks.append(_add_ldif(plan))
        self.blocks.extend(_group_ldif(plan.group_changes, plan.dn))
        entry = Entry(NEW_ID, _stored(record, plan), locator=plan.dn)
        self.entries[(kind, NEW_ID)] = entry
        return _visible(spec, entry)

    def modify(self, kind: str, update: Update, attributes: list[str] | None) -> Entry:
        spec = self.specs[kind]
        self.get(kind, update.id, [])  # NotFound, as the directory would say
        entry = self.entries[(kind, update.id.lower())]  # as stored (a blind update carries just the id)
        changes = list(update.changes)
        refs = _locators(references(c.values for c in changes))
        plan = plan_modify(spec, entry.locator, changes, update.after, refs, entry.attributes)
        if update.after is None and plan.modification:
            self.blocks.append("# one modify, without reading the entry first: nothing in this change depends on it\n")
        self.blocks.extend(_group_ldif(plan.group_changes, entry.locator))
        self.blocks.extend(_modify_ldif(plan))
        attributes_after = {
            name: values for name, values in applied(entry.attributes, _located(changes)).items() if values
        }
        after = Entry(entry.id, attributes_after, plan.new_dn, entry.created, entry.modified)
        self.entries[(kind, entry.id.lower())] = after
        return _visible(spec, after)

    def delete(self, kind: str, id: str) -> str:
        entry = self.get(kind, id, [])
        self.blocks.append(f"dn: {entry.locator}\nchangetype: delete\n")
        del self.entries[(kind, id.lower())]
        return entry.locator

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        return {ref: Ref(ref.kind, ref.id or ref.locator, ref.locator or _stand_in(ref)) for ref in refs}

    def close(self) -> None:
        return None


def _locators(refs: list[Ref]) -> dict[Ref, str]:
    return {ref: ref.locator or _stand_in(ref) for ref in refs}


def _stand_in(ref: Ref) -> str:
    """The DN the directory would give for a referenced id (the preview has no directory)."""
    noun = "user" if ref.kind == "users" else "group"
    return f"(the DN of {noun} {ref.id})"


def _complete(value):
    return Ref(value.kind, value.id, value.locator or _stand_in(value)) if isinstance(value, Ref) else value


def _stored(record: Record, plan: AddPlan) -> Record:
    """The entry as the directory would hold it (references keep their id for the answer)."""
    stored = {name: [_complete(v) for v in values] for name, values in record.items() if values}
    for name, values in plan.attributes.items():
        if name.lower() not in stored:  # object classes, placeholders
            stored[name.lower()] = list(values)
    return stored


def _visible(spec: LdapSpec, entry: Entry) -> Entry:
    """The entry as the backend answers: placeholder values hidden, as results.to_entry does."""
    hidden = {name.lower(): value.lower() for name, value in spec.target.placeholders.items()}
    attributes = {
        name: [v for v in values if not (isinstance(v, str) and v.lower() == hidden.get(name))]
        for name, values in entry.attributes.items()
    }
    return Entry(entry.id, attributes, entry.locator, entry.created, entry.modified)


def _located(changes: list[Change]) -> list[Change]:
    return [Change(c.attribute, c.op, tuple(_complete(v) for v in c.values)) for c in changes]


def _add_ldif(plan: AddPlan) -> str:
    lines = [_line("dn", plan.dn), "changetype: add"]
    lines += [_line("objectClass", c) for c in plan.attributes.get("objectClass", [])]
    for name, values in plan.attributes.items():
        if name != "objectClass":
            lines += [_line(name, v) for v in values]
    return "\n".join(lines) + "\n"


def _modify_ldif(plan: ModifyPlan) -> list[str]:
    blocks = []
    if plan.renamed:
        lines = [_line("dn", plan.dn), "changetype: modrdn", _line("newrdn", plan.new_rdn), "deleteoldrdn: 1"]
        if plan.new_superior is not None:
            lines.append(_line("newsuperior", plan.new_superior))
        blocks.append("\n".join(lines) + "\n")
    operations = plan.modification.operations()
    if operations:
        lines = [_line("dn", plan.new_dn), "changetype: modify"]
        for name, op, values in operations:
            lines += [f"{op}: {name}", *(_line(name, v) for v in values), "-"]
        blocks.append("\n".join(lines) + "\n")
    return blocks


def _group_ldif(changes: list[GroupChange], member_dn: str) -> list[str]:
    """Memberships a map keeps on the groups (roles as groups): one modify per group."""
    return [
        "\n".join(
            [_line("dn", c.group), "changetype: modify", f"{c.op}: {c.attribute}", _line(c.attribute, member_dn), "-"]
        )
        + "\n"
        for c in changes
    ]


def _line(name: str, value: str) -> str:
    """One LDIF attribute line; values LDIF cannot carry as plain text go base64 (RFC 2849)."""
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) and not value.endswith(" ")
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
