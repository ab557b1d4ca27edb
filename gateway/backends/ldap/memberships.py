"""Memberships written on the group side: a map can store roles as group memberships.

OpenLDAP's memberOf (and AD's) is computed by the directory and cannot be written. A map that
says `memberships: {memberOf: member}` in its ldap section reads an entry's groups from its
memberOf values and changes them by adding or deleting the entry's DN in each group's
`member` attribute. So a role value map such as
    roles.value: {attribute: memberOf, values: {Admin: "cn=admins,ou=Groups,dc=example,dc=com"}}
puts users with the Admin role into that group, and reads their roles back from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap3

from gateway.backends.base import InvalidData
from gateway.backends.ldap import results
from gateway.backends.ldap.target import LdapTarget
from gateway.store import Change


@dataclass(frozen=True)
class GroupChange:
    group: str  # the group's DN
    attribute: str  # the group's member attribute
    op: str  # "add" or "delete"


def split(target: LdapTarget, changes: list[Change]) -> tuple[list[Change], list[GroupChange]]:
    """(changes for the entry itself, changes to make on groups instead)."""
    own: list[Change] = []
    on_groups: list[GroupChange] = []
    for change in changes:
        member_attribute = target.memberships.get(change.attribute)
        if member_attribute is None:
            own.append(change)
            continue
        if change.op == "replace":
            raise InvalidData(f"{change.attribute} can only change value by value")
        on_groups.extend(GroupChange(str(group), member_attribute, change.op) for group in change.values)
    return own, on_groups


def apply(connection: ldap3.Connection, group_changes: list[GroupChange], member_dn: str) -> None:
    """Make the group changes; if one fails, undo the ones made and raise."""
    done: list[GroupChange] = []
    for change in group_changes:
        if not _modify(connection, change, member_dn):
            failure = dict(connection.result or {})
            undo(connection, done, member_dn)
            connection.result = failure
            if results.code(connection) == results.NO_SUCH_OBJECT:
                raise InvalidData(f"the map puts this entry into {change.group}, which does not exist")
            results.check(connection)
        done.append(change)


def undo(connection: ldap3.Connection, group_changes: list[GroupChange], member_dn: str) -> None:
    for change in reversed(group_changes):
        _modify(
            connection,
            GroupChange(change.group, change.attribute, "delete" if change.op == "add" else "add"),
            member_dn,
        )


def _modify(connection: ldap3.Connection, change: GroupChange, member_dn: str) -> bool:
    """One member value added or deleted; already there / already gone counts as done (one
    value per modify, so the directory's complaint can only be about this value)."""
    operation = ldap3.MODIFY_ADD if change.op == "add" else ldap3.MODIFY_DELETE
    connection.modify(change.group, {change.attribute: [(operation, [member_dn])]})
    done = results.VALUE_PRESENT if change.op == "add" else results.VALUE_ABSENT
    return results.code(connection) == 0 or results.code(connection) in done
