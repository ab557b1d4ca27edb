"""Referential integrity kept by the gateway, for directories without it (no refint overlay).

When a resource's ldap section says `referential_integrity: gateway`, its reference attributes
are kept by the gateway: when an entry they point at is renamed, its new DN replaces the old
one (a group's member, a user's manager); when it is deleted, its DN is removed. Directories with refint (OpenLDAP's overlay, AD) do this
themselves, atomically; this is the slower, best-effort substitute.
"""

from __future__ import annotations

import logging
from functools import partial

import ldap3

from gateway.backends.ldap import controls, results
from gateway.backends.ldap.compose import all_filters, render_filter
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.paging import Pager
from gateway.backends.ldap.target import LdapSpec
from gateway.observability import context
from gateway.store import Match

log = logging.getLogger(__name__)


class Referrers:
    def __init__(self, specs: dict[str, LdapSpec]):
        self.by_kind: dict[str, list[tuple[LdapSpec, str]]] = {}
        for spec in specs.values():
            if spec.target.referential_integrity != "gateway":
                continue
            for attribute, kind in spec.references.items():
                self.by_kind.setdefault(kind, []).append((spec, attribute))

    def renamed(self, pool: ConnectionPool, kind: str, old_dn: str, new_dn: str) -> None:
        self._rewrite(pool, kind, old_dn, new_dn)

    def deleted(self, pool: ConnectionPool, kind: str, dn: str) -> None:
        self._rewrite(pool, kind, dn, None)

    def _rewrite(self, pool: ConnectionPool, kind: str, old_dn: str, new_dn: str | None) -> None:
        permissive = pool.capabilities.permissive_modify  # 389 DS refuses the control (critical)
        for spec, attribute in self.by_kind.get(kind, []):
            pool.run(
                partial(
                    _rewrite_references,
                    spec=spec,
                    attribute=attribute,
                    old_dn=old_dn,
                    new_dn=new_dn,
                    permissive=permissive,
                ),
                idempotent=True,
            )


def _rewrite_references(
    connection: ldap3.Connection,
    spec: LdapSpec,
    attribute: str,
    old_dn: str,
    new_dn: str | None,
    permissive: bool = True,
) -> None:
    """In every entry of `spec` whose `attribute` holds old_dn: replace it by new_dn (or drop it)."""
    target = spec.target
    name = spec.name(attribute)
    placeholder = target.placeholders.get(attribute)
    search_filter = all_filters(target.scope_filter, render_filter(Match(name, "eq", old_dn)))
    referring = [raw["dn"] for raw in Pager(connection, target, search_filter).read(10**9, ["1.1"])]
    for dn in referring:
        operations = [(ldap3.MODIFY_DELETE, [old_dn])]
        if new_dn is not None:
            operations.append((ldap3.MODIFY_ADD, [new_dn]))
        sent = [controls.permissive_modify()] if permissive else None
        connection.modify(dn, {name: operations}, controls=sent)
        if results.code(connection) == results.OBJECT_CLASS_VIOLATION and placeholder:
            operations.append((ldap3.MODIFY_ADD, [placeholder]))
            connection.modify(dn, {name: operations}, controls=sent)
        refused = None
        if results.code(connection) not in (0, results.NO_SUCH_ATTRIBUTE, *results.VALUE_PRESENT):
            refused = f"the directory refused it: {connection.result.get('description')}"
            log.error("could not update %s of %s after %s moved: %s", name, dn, old_dn, refused)
        changes = [{"attribute": attribute, "op": "delete", "values": [old_dn]}]
        if new_dn is not None:
            changes.append({"attribute": attribute, "op": "add", "values": [new_dn]})
        context.follow_up(spec.kind, dn, changes, refused)  # its own audit line
