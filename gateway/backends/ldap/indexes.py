"""`scim-gateway check`: does the directory index for equality what the map's `ldap.indexes`
says it does? Each directory keeps that somewhere else, and lets the service account read it
or not:

    OpenLDAP          olcDbIndex of the database in cn=config (closed to it by default)
    389 DS            nsIndexType of the backend's entries below cn=index,cn=<backend>,
                      cn=ldbm database,cn=plugins,cn=config (closed to it by default)
    Active Directory  bit 1 (fATTINDEX) of each attributeSchema's searchFlags, in the schema
                      naming context (open to every account); a linked attribute (member,
                      manager) is answered from AD's link table, indexed or not (Samba
                      4.17 does not index them: its lookups on them read every entry)

An attribute the map claims but the directory does not index still works: each lookup on it
reads every entry below the base. So that is a warning with the setting to change, never a
failure. Which directory it is comes from capabilities.py, as for the backend.
"""

from __future__ import annotations

from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors

from gateway.backends.base import StoreSpec
from gateway.backends.ldap.compose import escape_dn_value, escape_filter_value
from gateway.backends.ldap.target import LdapTarget
from gateway.checks import Finding, passed, untold, warned

INDEXED = 1  # searchFlags fATTINDEX (MS-ADTS 2.2.9)


def finding(
    connection: ldap3.Connection, server: ldap3.Server, directory: str, name: str, target: LdapTarget
) -> Finding:
    what = f"{name}: indexes"
    if target.indexes is None:
        return passed(what, "the map claims none (mapping check warns about unindexed lookups)")
    claimed = ", ".join(target.indexes)
    read = {"openldap": _openldap, "389ds": _ds389, "active-directory": _active_directory}.get(directory)
    indexed, where = read(connection, server, target) if read else (None, "")
    if indexed is None:
        return untold(
            what,
            f"the service account may not read {where}" if where else "this directory's indexes cannot be read",
            f"compare ldap.indexes ({claimed}) with {_listing(directory, server, target)} yourself"
            + (f", or let the service account read them ({_readme(directory)})" if _readme(directory) else ""),
        )
    missing = [a for a in target.indexes if a.lower() not in indexed]
    if missing:
        return warned(
            what,
            f"not indexed for equality: {', '.join(missing)} (each lookup on them reads every entry below the base)",
            f"{_how_to_index(directory, server, target, missing)}; or take them out of ldap.indexes in the map"
            " (mapping check then warns about lookups on them)",
        )
    return passed(what, claimed)


def _readme(directory: str) -> str:
    return {"openldap": "README: Directories > OpenLDAP", "389ds": "README: 389 Directory Server"}.get(directory, "")


def _listing(directory: str, server: ldap3.Server, target: LdapTarget) -> str:
    if directory == "openldap":
        return f"olcDbIndex of the database of {_suffix_of(target.base)} in cn=config"
    if directory == "389ds":
        return f"`dsconf INSTANCE backend index list {backend_389(server, target.base) or 'BACKEND'}` (the eq ones)"
    return "the directory's equality indexes"


def _how_to_index(directory: str, server: ldap3.Server, target: LdapTarget, missing: list[str]) -> str:
    if directory == "openldap":
        return f"olcDbIndex: {','.join(missing)} eq on the database of {_suffix_of(target.base)}"
    if directory == "389ds":
        backend = backend_389(server, target.base) or "BACKEND"
        attributes = " ".join(f"--attr {a}" for a in missing)
        return (
            f"dsconf INSTANCE backend index add {attributes} --index-type eq {backend},"
            f" then dsconf INSTANCE backend index reindex {backend}"
        )
    return (
        f"set bit 1 (fATTINDEX) of searchFlags, keeping the bits already set, on the attributeSchema of"
        f" {', '.join(missing)} (a Schema Admin, with ADSI Edit; Samba: samba-tool schema attribute modify"
        " NAME --searchflags=fATTINDEX,...)"
    )


# --- where each directory keeps them -----------------------------------------------------------


def _openldap(connection: ldap3.Connection, server: ldap3.Server, target: LdapTarget) -> tuple[set[str] | None, str]:
    suffix = _suffix_of(target.base)
    found = config(connection, f"(olcSuffix={ldap3.utils.conv.escape_filter_chars(suffix)})", ["olcDbIndex"])
    if not found:
        return None, f"cn=config (olcDbIndex of the database of {suffix})"
    indexed = set()
    for line in _values(found[0], "olcDbIndex"):
        attributes, _, kinds = line.partition(" ")
        if "eq" in kinds.split(",") or not kinds:
            indexed |= {a.strip().lower() for a in attributes.split(",")}
    return indexed, ""


def _ds389(connection: ldap3.Connection, server: ldap3.Server, target: LdapTarget) -> tuple[set[str] | None, str]:
    backend = backend_389(server, target.base)
    if backend is None:
        return None, "nsBackendSuffix on the root DSE (which backend holds the base, and so its indexes)"
    base = f"cn=index,{backend_dn_389(backend)}"
    try:
        connection.search(base, "(nsIndexType=eq)", ldap3.LEVEL, attributes=["cn"])
    except ldap_errors.LDAPAttributeError:
        return None, base
    found = [r for r in connection.response or [] if r.get("type") == "searchResEntry"]
    if not found:  # every backend indexes objectClass: nothing seen is nothing allowed
        return None, base
    return {name.lower() for entry in found for name in _values(entry, "cn")}, ""


def _active_directory(
    connection: ldap3.Connection, server: ldap3.Server, target: LdapTarget
) -> tuple[set[str] | None, str]:
    schema = _root_dse_value(server, "schemaNamingContext")
    if schema is None or not target.indexes:
        return None, ""
    names = "".join(f"(lDAPDisplayName={escape_filter_value(a)})" for a in target.indexes)
    connection.search(
        schema,
        f"(&(objectClass=attributeSchema)(|{names}))",
        ldap3.LEVEL,
        attributes=["lDAPDisplayName", "searchFlags", "linkID"],
    )
    found = [r for r in connection.response or [] if r.get("type") == "searchResEntry"]
    if not found:
        return None, f"the attributeSchema entries of {schema}"
    indexed = set()
    for entry in found:
        flags = _values(entry, "searchFlags")
        if (flags and int(flags[0]) & INDEXED) or _values(entry, "linkID"):
            indexed |= {name.lower() for name in _values(entry, "lDAPDisplayName")}
    return indexed, ""


def backend_dn_389(backend: str) -> str:
    """The entry of a 389 DS backend in cn=config: its indexes, equality and VLV, are below it."""
    return f"cn={escape_dn_value(backend)},cn=ldbm database,cn=plugins,cn=config"


def backend_389(server: ldap3.Server, base: str) -> str | None:
    """The 389 DS backend holding `base` (dscreate names it userroot unless told otherwise, and a
    site may have several): the one, in the root DSE's nsBackendSuffix (`userroot:dc=example,dc=com`),
    with the longest suffix of the base. Its equality indexes and VLV indexes are the ones 389 uses
    for searches below the base (vlv_index.py). None where the account may not read nsBackendSuffix
    (389's root DSE ACI "rootdse anon read access" lets every account, unless narrowed)."""
    base = base.lower().replace(" ", "")
    best: tuple[int, str] | None = None
    for value in _root_dse_values(server, "nsBackendSuffix"):
        backend, _, suffix = value.partition(":")
        suffix = suffix.lower().replace(" ", "")
        if suffix and (base == suffix or base.endswith("," + suffix)) and (best is None or len(suffix) > best[0]):
            best = (len(suffix), backend)
    return best[1] if best else None


def _root_dse_values(server: ldap3.Server, name: str) -> list[str]:
    """An attribute of the root DSE ldap3 read at bind (get_info=ALL), in any case."""
    other = (server.info.other if server.info else None) or {}
    for key, values in other.items():
        if key.lower() == name.lower():
            return [str(v) for v in (values if isinstance(values, list) else [values])]
    return []


def _root_dse_value(server: ldap3.Server, name: str) -> str | None:
    values = _root_dse_values(server, name)
    return values[0] if values else None


def _values(entry: dict, name: str) -> list[str]:
    for key, values in (entry.get("attributes") or {}).items():
        if key.lower() == name.lower():
            return [str(v) for v in (values if isinstance(values, list) else [values])]
    return []


def _suffix_of(base: str) -> str:
    """The dc= part of a base DN: the database suffix, most likely."""
    parts = [p for p in base.split(",") if p.strip().lower().startswith("dc=")]
    return ",".join(parts) or base


def config(connection: ldap3.Connection, search_filter: str, attributes: list[str], base: bool = False) -> list[dict]:
    """Entries of OpenLDAP's cn=config; none where it cannot be read."""
    scope = ldap3.BASE if base else ldap3.SUBTREE
    try:
        connection.search("cn=config", search_filter, scope, attributes=attributes)
    except ldap_errors.LDAPAttributeError:  # a schema without olc* names: not OpenLDAP after all
        return []
    return [r for r in connection.response or [] if r.get("type") == "searchResEntry"]


# --- OpenLDAP's index hash width ---------------------------------------------------------------


def hashes(
    connection: ldap3.Connection, server: ldap3.Server, directory: str, specs: dict[str, StoreSpec[Any]]
) -> list[Finding]:
    """OpenLDAP hashes index keys in 32 bits unless olcIndexHash64 says 64; with 32, deleting a
    value of an indexed attribute re-indexes every value left (back-mdb, ITS#8678), so removing
    10 members from a 50,000-member group costs slapd 34 ms of CPU instead of 10 (tests/perf).
    Said only where it matters (an indexed multi-valued reference such as member) and can be read."""
    indexed = _indexed_references(server, specs)
    if directory != "openldap" or not indexed:
        return []
    found = config(connection, "(objectClass=olcGlobal)", ["olcIndexHash64"], base=True)
    if not found:
        return []  # cn=config is closed to the service account (the indexes lines say so)
    what = "index hashes"
    held = _values(found[0], "olcIndexHash64")
    if held and held[0].upper() == "TRUE":
        return [passed(what, f"64-bit: removing {', '.join(indexed)} values re-indexes only those values")]
    return [
        warned(
            what,
            f"32-bit (olcIndexHash64 is not TRUE): each removal of {', '.join(indexed)} values re-indexes"
            " every value left, a cost that grows with the group",
            "olcIndexHash64: TRUE on cn=config, then slapindex with slapd stopped (README: Directories > OpenLDAP)",
        )
    ]


def _indexed_references(server: ldap3.Server, specs: dict[str, StoreSpec[Any]]) -> list[str]:
    """The multi-valued reference attributes (member, ...) the maps say are indexed."""
    types = server.schema.attribute_types if server.schema else {}
    found = set()
    for spec in specs.values():
        if not isinstance(spec.target, LdapTarget) or not spec.target.indexes:
            continue
        indexes = {a.lower() for a in spec.target.indexes}
        for key in spec.references:
            name = spec.name(key)
            if name.lower() in indexes and not (name in types and types[name].single_value):
                found.add(name)
    return sorted(found)
