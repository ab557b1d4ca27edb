"""What a create or an update will send, decided before anything is sent. Pure.

The LDAP backend sends these plans; `mapping preview` (ldap/preview.py) prints them as LDIF. One
place decides the DN of a new entry, whether an update renames or moves it (a value its DN is
built from changed, e.g. the department that chooses its OU), which changes the modDN already
makes, and which changes land on groups instead (memberships); so the preview cannot drift
from what the server does.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.backends.ldap import memberships
from gateway.backends.ldap.compose import build_dn, normalized_dn, rdn_text, split_dn
from gateway.backends.ldap.modification import Modification
from gateway.backends.ldap.target import LdapSpec
from gateway.store import Change, Record, Ref


@dataclass(frozen=True)
class AddPlan:
    dn: str
    attributes: dict[str, list[str]]  # names as the map spells them, objectClass and placeholders included
    group_changes: list[memberships.GroupChange]


@dataclass(frozen=True)
class ModifyPlan:
    dn: str
    new_dn: str  # the same as dn unless the entry is renamed or moved
    modification: Modification
    group_changes: list[memberships.GroupChange]

    @property
    def renamed(self) -> bool:
        return _renamed(self.dn, self.new_dn)

    @property
    def new_rdn(self) -> str:
        return split_dn(self.new_dn)[0]

    @property
    def new_superior(self) -> str | None:
        """The new parent when the entry moves (None: it stays where it is)."""
        parent = split_dn(self.new_dn)[1]
        return parent if normalized_dn(parent) != normalized_dn(split_dn(self.dn)[1]) else None


def plan_add(spec: LdapSpec, record: Record, locators: dict[Ref, str]) -> AddPlan:
    target = spec.target
    on_groups = [Change(key, "add", tuple(record[key])) for key in target.memberships if record.get(key)]
    _, group_changes = memberships.split(target, on_groups)
    attributes = Modification(spec, [], locators).new_entry(
        {key: values for key, values in record.items() if key not in target.memberships}
    )
    return AddPlan(build_dn(target.dn, record), attributes, group_changes)


def plan_modify(
    spec: LdapSpec,
    dn: str,
    changes: list[Change],
    record: Record | None,
    locators: dict[Ref, str],
    current: Record | None = None,
) -> ModifyPlan:
    """`current`: the entry's values as read (a bit flag change keeps the bits it does not own)."""
    target = spec.target
    touched = any(c.attribute in target.placeholders_in_dn() for c in changes)
    new_dn = build_dn(target.dn, record) if record is not None and touched else dn
    if _renamed(dn, new_dn):
        # A replace of the naming attribute with its one new value is what the modDN does.
        changes = [
            c for c in changes if not (c.attribute == target.rdn_attribute and c.op == "replace" and len(c.values) == 1)
        ]
    changes, group_changes = memberships.split(target, changes)
    return ModifyPlan(dn, new_dn, Modification(spec, changes, locators, current), group_changes)


def _renamed(dn: str, new_dn: str) -> bool:
    """A new name, or the same name in a new case (Entra renames "alice" to "Alice")."""
    if new_dn == dn:  # most updates: no need to parse the DN (a noticeable part of a write's CPU)
        return False
    return normalized_dn(new_dn) != normalized_dn(dn) or rdn_text(new_dn) != rdn_text(dn)
