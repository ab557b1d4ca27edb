"""389 DS's VLV indexes ("browsing indexes"): what makes a listing cost a page there.

389 DS keeps no sorted list between requests (views.py): without an index it sorts every entry
below the base for every page and every total, about a second at 20,000 users (measured on
389 DS 2.3, 2 cores). With a VLV index whose search (base, scope, filter) and sort are exactly
the listing's, a total costs 1-2 ms and a page of 100 4-9 ms at that size, and the
index follows every add and delete, so a listing is never stale.

Two things make 389 use it, both set up by the directory's admin (`commands`):
- the index: a vlvSearch entry (base, scope, filter) and a vlvIndex entry under it (the sort
  keys), built once by a reindex task and kept up to date by 389 after that. Both belong to the
  backend that holds the base (indexes.backend_389): 389 uses no other backend's for it, and
  dsconf puts them in whichever backend it is told, base or not;
- an ACI on the vlvSearch entry that lets the gateway's account read it. Without it, 389
  refuses the sorted search with insufficientAccessRights once the index exists, and the
  gateway falls back to reading every DN (slower than no index at all).
The same ACI lets the account read the index's entries under cn=config, which is how
`scim-gateway check` finds them (`find`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import ldap3

from gateway.backends.ldap import results
from gateway.backends.ldap.compose import normalized_dn
from gateway.backends.ldap.indexes import backend_dn_389
from gateway.backends.ldap.vlv import Search


@dataclass(frozen=True)
class Index:
    """The VLV index a listing needs."""

    name: str  # of the vlvSearch entry; the vlvIndex entry is NAME-by-creation
    backend: str  # the 389 backend that holds the base
    base: str
    scope: str  # 389's vlvScope: 1 one level, 2 subtree
    filter: str
    sort: str  # vlvSort: the sort keys, space-separated

    @property
    def backend_dn(self) -> str:
        return backend_dn_389(self.backend)

    @property
    def search_dn(self) -> str:
        return f"cn={self.name},{self.backend_dn}"


@dataclass(frozen=True)
class Found:
    dn: str  # of the vlvIndex entry
    built: bool  # vlvEnabled: the reindex task has run


def needed(search: Search, backend: str) -> Index:
    return Index(
        f"scim-{search.kind}",
        backend,
        search.base,
        "1" if search.scope == "one" else "2",
        search.filter,
        " ".join(search.sort_keys),
    )


def find(connection: ldap3.Connection, index: Index) -> Found | None:
    """The backend's VLV index for this listing, if the account may read it (the ACI that lets
    it use the index lets it read it)."""
    connection.search(
        index.backend_dn, "(objectClass=vlvSearch)", ldap3.SUBTREE, attributes=["vlvBase", "vlvScope", "vlvFilter"]
    )
    if results.code(connection) != 0:
        return None  # cn=config hidden from the account: no index it could use
    for entry in results.entries(connection):
        if not _same_search(entry["attributes"], index):
            continue
        connection.search(entry["dn"], "(objectClass=vlvIndex)", ldap3.LEVEL, attributes=["vlvSort", "vlvEnabled"])
        for child in results.entries(connection) if results.code(connection) == 0 else []:
            sort = results.first(child["attributes"], "vlvSort") or ""
            if sort.lower().split() == index.sort.lower().split():
                return Found(child["dn"], results.first(child["attributes"], "vlvEnabled") == "1")
    return None


def _same_search(attributes: dict, index: Index) -> bool:
    base, scope, search_filter = (results.first(attributes, k) or "" for k in ("vlvBase", "vlvScope", "vlvFilter"))
    return (
        normalized_dn(base) == normalized_dn(index.base)
        and scope == index.scope
        and search_filter.replace(" ", "").lower() == index.filter.replace(" ", "").lower()
    )


def commands(index: Index, account_dn: str) -> list[str]:
    """What the directory's admin runs to make the index and let the account use it."""
    aci = (
        f'(targetattr="*")(version 3.0; acl "scim-gateway listings"; allow (read,search,compare)'
        f' userdn="ldap:///{account_dn}";)'
    )
    backend = shlex.quote(index.backend)
    return [
        f"dsconf INSTANCE backend vlv-index add-search --name {index.name} --search-base '{index.base}'"
        f" --search-scope {index.scope} --search-filter '{index.filter}' {backend}",
        f"dsconf INSTANCE backend vlv-index add-index --parent-name {index.name} --index-name {index.name}-by-creation"
        f" --sort '{index.sort}' {backend}",
        f"dsconf INSTANCE backend vlv-index reindex --parent-name {index.name} {backend}",
        f"printf 'dn: %s\\nchangetype: modify\\nadd: aci\\naci: %s\\n' '{index.search_dn}' '{aci}'"
        " | ldapmodify -H ldap://HOST -D 'cn=Directory Manager' -W",
    ]
