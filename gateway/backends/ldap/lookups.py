"""Ids and DNs looked up in batches: the references a request carries (manager, members, a
filter on a member) and the new entries that follow a kept sorted list (views.py). One search per
kind and direction, per `refs_per_search` values (389 DS and AD test each candidate against the
whole OR: capabilities.py)."""

from __future__ import annotations

from collections.abc import Iterable

import ldap3

from gateway.backends.base import UnknownReference
from gateway.backends.ldap import results
from gateway.backends.ldap.compose import all_filters, normalized_dn, render_filter
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.paging import scope
from gateway.backends.ldap.target import LdapSpec
from gateway.store import AnyOf, Match, Ref


class Lookups:
    def __init__(self, pool: ConnectionPool, specs: dict[str, LdapSpec]):
        self.pool = pool
        self.specs = specs

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """Fill in ids for DNs and DNs for ids: one search per kind and direction (per refs_per_search refs)."""
        resolved: dict[Ref, Ref] = {}
        pending = [r for r in dict.fromkeys(refs) if not (r.id and r.locator)]
        for kind in {r.kind for r in pending}:
            spec = self.specs[kind]
            by_id = [(r, r.id) for r in pending if r.kind == kind and r.id]
            by_dn = [(r, r.locator) for r in pending if r.kind == kind and not r.id and r.locator]
            found = self._keyed(spec, [id for _, id in by_id], spec.id_attribute)
            missing = [id for _, id in by_id if id.lower() not in found]
            if missing:
                raise UnknownReference(kind, missing)
            for ref, id in by_id:
                resolved[ref] = Ref(kind, id, found[id.lower()][0])
            found = self._keyed(spec, [dn for _, dn in by_dn], spec.target.dn_attribute)
            for ref, dn in by_dn:
                hit = found.get(_dn_key(dn))
                resolved[ref] = Ref(kind, hit[1] if hit else None, dn)
        return resolved

    def by_ids(self, spec: LdapSpec, ids: list[str], attributes: list[str]) -> list[dict]:
        """The entries with these ids, in their order (one that is gone is left out)."""
        found = {
            (results.id_of(spec, raw) or "").lower(): raw
            for raw in self._any_of(spec, ids, spec.id_attribute, attributes)
        }
        return [found[id.lower()] for id in ids if id.lower() in found]

    def _keyed(self, spec: LdapSpec, keys: list[str], attribute: str) -> dict[str, tuple[str, str]]:
        """{key: (dn, id)} for entries whose `attribute` is one of `keys` (ids lower-cased, DNs normalized)."""
        by_dn = attribute == spec.target.dn_attribute
        result: dict[str, tuple[str, str]] = {}
        for raw in self._any_of(spec, keys, attribute, [spec.id_attribute]):
            id_value = results.id_of(spec, raw) or ""
            result[_dn_key(raw["dn"]) if by_dn else id_value.lower()] = (raw["dn"], id_value)
        return result

    def _any_of(self, spec: LdapSpec, keys: list[str], attribute: str, attributes: list[str]) -> list[dict]:
        """The entries whose `attribute` is one of `keys`: one search per refs_per_search keys."""
        target = spec.target
        unique_keys = list(dict.fromkeys(keys))
        per_search = self.pool.capabilities.refs_per_search
        found: list[dict] = []
        for start in range(0, len(unique_keys), per_search):
            chunk = unique_keys[start : start + per_search]
            query = AnyOf(tuple(Match(attribute, "eq", key) for key in chunk))
            search_filter = all_filters(target.scope_filter, render_filter(query))

            def run(connection: ldap3.Connection, search_filter=search_filter) -> list[dict]:
                connection.search(target.base, search_filter, scope(target), attributes=attributes)
                results.check(connection, base=target.base)
                return results.entries(connection)

            found += self.pool.run(run, idempotent=True)
        return found

    def locators(self, refs: list[Ref], missing_ok: bool = False) -> dict[Ref, str]:
        wanted = [r for r in refs if r.id and not r.locator]
        if not wanted:
            return {}
        try:
            return _located(self.resolve(wanted))
        except UnknownReference:
            if not missing_ok:
                raise
            known: dict[Ref, str] = {}
            for ref in wanted:  # a filter on an unknown id simply matches nothing
                try:
                    known.update(_located(self.resolve([ref])))
                except UnknownReference:
                    continue
            return known


def _located(resolved: dict[Ref, Ref]) -> dict[Ref, str]:
    return {ref: full.locator for ref, full in resolved.items() if full.locator}


def _dn_key(dn: str) -> str:
    return repr(normalized_dn(dn))
