"""Referential integrity kept by the gateway, for directories without it (no refint overlay).

When a map says `referential_integrity: gateway`, a renamed entry's new DN replaces the old one
in every attribute that references its kind (a group's member, a user's manager), and a deleted
entry's DN is removed from them. Directories with refint (OpenLDAP's overlay, AD) do this
themselves, atomically; this is the slower, best-effort substitute.
"""

from __future__ import annotations

import logging

import ldap3

from gateway.backends.base import StoreSpec
from gateway.backends.ldap import controls, results
from gateway.backends.ldap.compose import all_filters, render_filter
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.paging import Pager
from gateway.directory import Match

log = logging.getLogger(__name__)


class Referrers:
    def __init__(self, specs: dict[str, StoreSpec]):
        self.by_kind: dict[str, list[tuple[StoreSpec, str]]] = {}
        for spec in specs.values():
            for attribute, kind in spec.references.items():
                self.by_kind.setdefault(kind, []).append((spec, attribute))

    def renamed(self, pool: ConnectionPool, kind: str, old_dn: str, new_dn: str) -> None:
        self._rewrite(pool, kind, old_dn, new_dn)

    def deleted(self, pool: ConnectionPool, kind: str, dn: str) -> None:
        self._rewrite(pool, kind, dn, None)

    def _rewrite(self, pool: ConnectionPool, kind: str, old_dn: str, new_dn: str | None) -> None:
        for spec, attribute in self.by_kind.get(kind, []):
            target = spec.target
            name = spec.name(attribute)
            search_filter = all_filters(target.scope_filter, render_filter(Match(name, "eq", old_dn)))
            placeholder = target.placeholders.get(attribute)

            def run(connection: ldap3.Connection, search_filter=search_filter, name=name, placeholder=placeholder):
                pages = Pager(connection, target, search_filter)
                referring = [raw["dn"] for raw in pages.read(10**9, ["1.1"])]
                for dn in referring:
                    operations = [(ldap3.MODIFY_DELETE, [old_dn])]
                    if new_dn is not None:
                        operations.append((ldap3.MODIFY_ADD, [new_dn]))
                    connection.modify(dn, {name: operations}, controls=[controls.permissive_modify()])
                    if results.code(connection) == results.OBJECT_CLASS_VIOLATION and placeholder:
                        operations.append((ldap3.MODIFY_ADD, [placeholder]))
                        connection.modify(dn, {name: operations}, controls=[controls.permissive_modify()])
                    if results.code(connection) not in (0, results.NO_SUCH_ATTRIBUTE):
                        log.error("could not update %s of %s after %s moved: %s", name, dn, old_dn, connection.result)

            pool.run(run, idempotent=True)
