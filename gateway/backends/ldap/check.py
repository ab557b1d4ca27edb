"""An LDAP tenant's online checks (`scim-gateway check`) and its readiness probe (`/readyz`).

The checks use their own connection, with the schema and the root DSE read (the serving pool
never reads them): bind, every base DN, the map's object classes and attributes in the
directory's schema, the controls the backend sends, the equality indexes the map claims (when
the service account may read cn=config), and whether paged searches hit a size limit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors

from gateway.backends.base import BackendError, StoreSpec, Unavailable
from gateway.backends.ldap import controls, vlv, vlv_index
from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.capabilities import Capabilities
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.settings import LdapSettings
from gateway.backends.ldap.target import LdapTarget
from gateway.checks import Finding, failed, passed

PAGED_RESULTS = "1.2.840.113556.1.4.319"
POST_READ = "1.3.6.1.1.13.2"
CONTROLS = {
    PAGED_RESULTS: "paged results (RFC 2696), for GET /Users",
    POST_READ: "post-read (RFC 4527), for every write",
    controls.ASSERTION: "assertion (RFC 4528), for writes by remembered DN",
}
SIZE_PROBE = 5000  # entries read, in pages, to see whether a size limit cuts paged searches short
BIND_FIX = (
    "check ldap.url (host, port, ldap:// or ldaps://), bind_dn and the password file, and that the"
    " certificate matches the host (ca_file, server_name); the gateway's log has the directory's answer"
)


def probe(backend: LdapBackend, timeout: float) -> None:
    """A bind and a read of the root DSE on a fresh connection; Unavailable if either fails in time."""
    _read_root_dse(ConnectionPool(dataclasses.replace(backend.pool.settings, timeout=timeout)))


def _read_root_dse(pool: ConnectionPool) -> None:
    """Bind and read the root DSE on `pool`'s client, then close it; Unavailable if either fails."""
    try:

        def read_root(connection: ldap3.Connection) -> None:
            connection.search("", "(objectClass=*)", ldap3.BASE, attributes=["1.1"])
            if (connection.result or {}).get("result", 0) != 0:
                raise Unavailable(f"the directory refused a read of its root DSE ({connection.result['description']})")

        pool.run(read_root, idempotent=True)
    finally:
        pool.close()


def check(settings: LdapSettings, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    pool = ConnectionPool(settings, get_info=ldap3.ALL, client="ldap3")  # the schema and root DSE, read at bind
    bind = f"bind to {settings.url} as {settings.bind_dn}"
    targets = {name: spec.target for name, spec in specs.items() if isinstance(spec.target, LdapTarget)}

    def every_check(connection: ldap3.Connection) -> list[Finding]:
        findings = [passed(bind)]
        findings += [_base(connection, name, target) for name, target in targets.items()]
        findings += _schema(pool.server, specs)
        findings += _controls(pool.server)
        findings += [_indexes(connection, name, target) for name, target in targets.items()]
        findings += _index_hashes(connection, pool.server, specs)
        findings += [_size_limit(connection, settings, name, target) for name, target in targets.items()]
        findings += _listings(connection, specs, pool.capabilities, settings.bind_dn)
        return findings

    try:
        return pool.run(every_check, idempotent=True) + _serving_client(settings, bind)
    except Unavailable as error:
        return [failed(bind, str(error), BIND_FIX)]
    except ldap_errors.LDAPException as error:
        return [
            passed(bind),
            failed("the checks", f"the directory stopped answering: {type(error).__name__}", BIND_FIX),
        ]
    finally:
        pool.close()


def _serving_client(settings: LdapSettings, bind: str) -> list[Finding]:
    """The checks read the schema with ldap3; a tenant served by python-ldap (libldap, its own
    TLS) gets a bind and a read of the root DSE with that client too."""
    if settings.client == "ldap3":
        return []
    what = f"{bind} with client {settings.client}"
    try:
        _read_root_dse(ConnectionPool(settings))
    except Unavailable as error:
        return [failed(what, f"{error} (the gateway's log says why)", BIND_FIX)]
    return [passed(what)]


def _listings(
    connection: ldap3.Connection, specs: dict[str, StoreSpec[Any]], capabilities: Capabilities, account: str
) -> list[Finding]:
    """Pages and totals that cost a page need the directory to sort and position (vlv.py).
    Without that listings still work, reading every DN below the base: said, not failed."""
    searches = [vlv.listing(spec, None, capabilities) for spec in specs.values() if isinstance(spec.target, LdapTarget)]
    try:
        if capabilities.directory == "389ds" and capabilities.sorting:
            return [_ds389_index(connection, search, account) for search in searches]
        found = vlv.problems(connection, searches)  # its sorted lists go when the check's pool closes
    except BackendError as error:  # e.g. a missing base, which its own line reports
        return [Finding("listings", None, f"could not be told: {error}", "fix the failures above first")]
    if not found:
        return [passed("listings", "the directory sorts and positions pages (VLV): a page costs a page at any size")]
    return [
        Finding(
            "listings", None, "; ".join(found), "see the README's 'Large directories' (OpenLDAP: the sssvlv overlay)"
        )
    ]


def _ds389_index(connection: ldap3.Connection, search: vlv.Search, account: str) -> Finding:
    """389 DS sorts every entry for every page unless a VLV index matches the listing and the
    account may use it (vlv_index.py)."""
    what = f"{search.kind}: listings"
    index = vlv_index.needed(search)
    steps = vlv_index.commands(index, account)
    found = vlv_index.find(connection, index)
    try:
        vlv.read_window(connection, search, 1, 0, [])
        refusal = ""
    except vlv.Refused as error:
        refusal = str(error)
    if found and found.built and not refusal:
        return passed(what, f"389 DS answers pages and totals from its VLV index {found.dn}")
    if "insufficientAccessRights" in refusal:
        detail = (
            "389 DS has a VLV index for this listing that the service account may not use"
            " (insufficientAccessRights), so every page and total reads every DN below the base"
        )
        return Finding(what, None, detail, _steps(steps[3:]))
    if refusal:
        return Finding(what, None, f"389 DS will not sort it ({refusal}): every page reads every DN", _steps(steps))
    if found:
        detail = f"the VLV index {found.dn} is not built yet: 389 DS sorts every entry for every page and total"
        return Finding(what, None, detail, _steps(steps[2:3]))
    detail = (
        "no VLV index: 389 DS sorts every entry below the base for every page and every total"
        " (about a second per 20,000 entries)"
    )
    return Finding(what, None, detail, _steps(steps))


def _steps(commands: list[str]) -> str:
    return ("\n" + " " * 14).join(commands)


def _base(connection: ldap3.Connection, name: str, target: LdapTarget) -> Finding:
    connection.search(target.base, "(objectClass=*)", ldap3.BASE, attributes=["1.1"])
    what = f"{name}: base {target.base}"
    if (connection.result or {}).get("result") == 0:
        return passed(what, "exists")
    closest = (connection.result or {}).get("dn") or "none"
    return failed(
        what,
        f"missing ({connection.result.get('description')}; the closest entry: {closest})",
        f"create it (ldapadd an organizationalUnit {target.base}) or fix {name}.ldap.base in the map",
    )


def _schema(server: ldap3.Server, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    schema = server.schema
    if schema is None:
        return [Finding("schema", None, "the directory did not let the service account read its schema")]
    findings = []
    for name, spec in specs.items():
        target = spec.target
        if not isinstance(target, LdapTarget):
            continue
        missing_classes = [c for c in target.object_classes if c not in schema.object_classes]
        attributes = set(spec.names.values()) | set(target.memberships)
        attributes |= {a for a in (spec.id_attribute, target.dn_attribute) if a}
        attributes |= {a for a in (spec.created_attribute, spec.modified_attribute) if a}
        missing = sorted(a for a in attributes if a not in schema.attribute_types and a.lower() != "dn")
        what = f"{name}: schema"
        if not missing_classes and not missing:
            findings.append(
                passed(what, f"object classes {', '.join(target.object_classes)} and {len(attributes)} attributes")
            )
            continue
        parts = []
        if missing_classes:
            parts.append(f"no object class {', '.join(missing_classes)}")
        if missing:
            parts.append(f"no attribute {', '.join(missing)}")
        findings.append(failed(what, "; ".join(parts), _schema_fix(missing_classes + missing)))
    return findings


def _schema_fix(names: list[str]) -> str:
    lowered = {n.lower() for n in names}
    hints = []
    if lowered & {"scimgatewayperson", "scimexternalid", "scimgatewaygroup"}:
        hints.append("load deploy/ldap/scim-gateway.ldif (ldapadd -Y EXTERNAL -H ldapi:/// -f ...)")
    if any(n.startswith("pwd") for n in lowered):
        hints.append("load the ppolicy overlay and schema (pwdAccountLockedTime)")
    if "memberof" in lowered:
        hints.append("load the memberof overlay (it defines memberOf)")
    hints.append("or point the map at attributes and classes the directory has")
    return "; ".join(hints)


def _controls(server: ldap3.Server) -> list[Finding]:
    info = server.info
    if info is None:
        return [Finding("controls", None, "the directory did not let the service account read its root DSE")]
    supported = {oid for oid, *_ in info.supported_controls or []}
    missing = [text for oid, text in CONTROLS.items() if oid not in supported]
    if missing:
        return [failed("controls", f"not offered: {'; '.join(missing)}", "enable them (OpenLDAP offers all three)")]
    return [passed("controls", "paged results, post-read, assertion")]


def _indexes(connection: ldap3.Connection, name: str, target: LdapTarget) -> Finding:
    what = f"{name}: indexes"
    if target.indexes is None:
        return passed(what, "the map claims none (mapping check warns about unindexed lookups)")
    found = _config(connection, f"(olcSuffix={_suffix_of(target.base)})", ldap3.SUBTREE, ["olcDbIndex"])
    if not found:
        return Finding(
            what,
            None,
            "cannot read cn=config as the service account (or not OpenLDAP)",
            f"compare ldap.indexes ({', '.join(target.indexes)}) with olcDbIndex yourself",
        )
    indexed = set()
    for line in found[0]["attributes"].get("olcDbIndex", []):
        attributes, _, kinds = line.partition(" ")
        if "eq" in kinds.split(",") or not kinds:
            indexed |= {a.strip().lower() for a in attributes.split(",")}
    missing = [a for a in target.indexes if a.lower() not in indexed]
    if missing:
        return failed(what, f"not indexed for equality: {', '.join(missing)}", f"olcDbIndex: {','.join(missing)} eq")
    return passed(what, ", ".join(target.indexes))


def _config(connection: ldap3.Connection, search_filter: str, scope: str, attributes: list[str]) -> list[dict]:
    """Entries of OpenLDAP's cn=config; none where it cannot be read or does not exist (389 DS
    and AD, whose schema, which this connection checks names against, has no olc* attributes)."""
    try:
        connection.search("cn=config", search_filter, scope, attributes=attributes)
    except ldap_errors.LDAPAttributeError:
        return []
    return [r for r in connection.response or [] if r.get("type") == "searchResEntry"]


def _index_hashes(
    connection: ldap3.Connection, server: ldap3.Server, specs: dict[str, StoreSpec[Any]]
) -> list[Finding]:
    """OpenLDAP hashes index keys in 32 bits unless olcIndexHash64 says 64; with 32, deleting a
    value of an indexed attribute re-indexes every value left (back-mdb, ITS#8678), so removing
    10 members from a 50,000-member group costs slapd 34 ms of CPU instead of 10 (tests/perf).
    Said only where it matters (an indexed multi-valued reference such as member) and can be read."""
    indexed = _indexed_references(server, specs)
    if not indexed:
        return []
    found = _config(connection, "(objectClass=olcGlobal)", ldap3.BASE, ["olcIndexHash64"])
    if not found:
        return []  # not OpenLDAP, or cn=config is closed to the service account (the indexes line says so)
    what = "index hashes"
    held = found[0]["attributes"].get("olcIndexHash64")
    if str(held[0] if isinstance(held, list) and held else held).upper() == "TRUE":
        return [passed(what, f"64-bit: removing {', '.join(indexed)} values re-indexes only those values")]
    return [
        Finding(
            what,
            None,
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


def _suffix_of(base: str) -> str:
    """The dc= part of a base DN: the database suffix, most likely."""
    parts = [p for p in base.split(",") if p.strip().lower().startswith("dc=")]
    return ldap3.utils.conv.escape_filter_chars(",".join(parts) or base)


def _size_limit(connection: ldap3.Connection, settings: LdapSettings, name: str, target: LdapTarget) -> Finding:
    what = f"{name}: size limit"
    read, cookie = 0, None
    while read < SIZE_PROBE:
        connection.search(
            target.base, target.scope_filter, ldap3.SUBTREE, attributes=["1.1"], paged_size=500, paged_cookie=cookie
        )
        code = (connection.result or {}).get("result", 0)
        read += sum(1 for r in connection.response or [] if r.get("type") == "searchResEntry")
        if code in (4, 11):
            return failed(
                what,
                f"a paged search stopped after {read} entries ({connection.result.get('description')})",
                f'olcLimits: dn.exact="{settings.bind_dn}" size.prtotal=unlimited (on the database of {target.base})',
            )
        if code != 0:
            return failed(what, f"a paged search failed ({connection.result.get('description')})", BIND_FIX)
        cookie = (
            (((connection.result or {}).get("controls") or {}).get(PAGED_RESULTS) or {}).get("value", {}).get("cookie")
        )
        if not cookie:
            break
    return passed(what, f"read {read} entries in pages without reaching a limit")
