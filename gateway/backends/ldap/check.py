"""An LDAP tenant's online checks (`scim-gateway check`) and its readiness probe (`/readyz`).

The checks use their own connection, with the schema and the root DSE read (the serving pool
never reads them): bind, every base DN, the map's object classes and attributes in the
directory's schema, the path each write takes (capabilities.py: the controls the backend
sends, or what it does instead and what that costs), the equality indexes the map claims
(indexes.py), and whether paged searches hit a size limit.

Only what breaks provisioning fails (exit 1). What the backend works around passes, saying
what it does instead; what works at a cost someone can remove is a warning with the fix.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors

from gateway.backends.base import BackendError, StoreSpec, Unavailable
from gateway.backends.ldap import capabilities, indexes, vlv, vlv_index
from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.capabilities import FALLBACKS, Capabilities, Fallback
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.paging import PAGED_RESULTS
from gateway.backends.ldap.results import NO_SUCH_OBJECT
from gateway.backends.ldap.settings import LdapSettings
from gateway.backends.ldap.target import LdapTarget
from gateway.checks import Finding, failed, passed, untold, warned

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
        found = pool.capabilities  # what the backend derives: the root DSE, then ldap.capabilities
        directory = found.directory
        findings = [passed(bind)]
        findings += [_base(connection, name, target) for name, target in targets.items()]
        findings += _schema(pool.server, directory, specs)
        info = pool.server.info
        listed = {oid for oid, *_ in info.supported_controls or []} if info else None
        findings += control_findings(listed, settings.capabilities or {}, capabilities.read(connection), found)
        findings += [indexes.finding(connection, pool.server, directory, name, t) for name, t in targets.items()]
        findings += indexes.hashes(connection, pool.server, directory, specs)
        findings += [_size_limit(connection, settings, found, name, target) for name, target in targets.items()]
        findings += _listings(connection, pool.server, specs, found, settings)
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
    connection: ldap3.Connection,
    server: ldap3.Server,
    specs: dict[str, StoreSpec[Any]],
    used: Capabilities,
    settings: LdapSettings,
) -> list[Finding]:
    """Pages and totals that cost a page need the directory to sort and position (vlv.py).
    Without that listings still work, reading every DN below the base: said, not failed."""
    searches = [vlv.listing(spec, None, used) for spec in specs.values() if isinstance(spec.target, LdapTarget)]
    try:
        if used.directory == "389ds" and used.sorting:
            return [_ds389_index(connection, server, search, settings.bind_dn) for search in searches]
        found = vlv.problems(connection, searches)  # its sorted lists go when the check's pool closes
    except BackendError as error:  # e.g. a missing base, which its own line reports
        return [untold("listings", f"could not be told: {error}", "fix the failures above first")]
    if not found:
        kept = settings.keep_sorted_lists
        how_long = (
            f"each worker keeps a sorted list {kept:g} s for the next page, so what other replicas and tools"
            f" write shows in listings after at most {kept:g} s (keep_sorted_lists)"
            if kept
            else "every listing is sorted afresh (keep_sorted_lists: 0)"
        )
        return [
            passed(
                "listings",
                f"the directory sorts and positions pages (VLV): a page costs a page at any size; {how_long}",
            )
        ]
    return [warned("listings", "; ".join(found), "see the README's 'Large directories' (OpenLDAP: the sssvlv overlay)")]


def _ds389_index(connection: ldap3.Connection, server: ldap3.Server, search: vlv.Search, account: str) -> Finding:
    """389 DS sorts every entry for every page unless a VLV index in the backend that holds the
    base matches the listing and the account may use it (vlv_index.py)."""
    what = f"{search.kind}: listings"
    backend = indexes.backend_389(server, search.base)
    if backend is None:
        return _no_backend(what, search.base)
    index = vlv_index.needed(search, backend)
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
        return warned(what, detail, _steps(steps[3:]))
    if refusal:
        return warned(what, f"389 DS will not sort it ({refusal}): every page reads every DN", _steps(steps))
    if found:
        detail = (
            f"the VLV index {found.dn} is not built yet: 389 DS sorts every entry for every page and total"
            " (389 builds none over an empty subtree; after a reindex it may take a few seconds)"
        )
        return warned(what, detail, _steps(steps[2:3]))
    detail = (
        "no VLV index: 389 DS sorts every entry below the base for every page and every total"
        " (about a second per 20,000 entries)"
    )
    return warned(what, detail, _steps(steps))


def _no_backend(what: str, base: str) -> Finding:
    """Which backend holds the base names the index's entries and every command: never guessed."""
    return untold(
        what,
        f"which 389 DS backend holds {base} cannot be told: the root DSE shows the service account no"
        " nsBackendSuffix that holds it, so its VLV index can be neither read nor set up from here",
        "let the service account read nsBackendSuffix on the root DSE (389's default ACI there,"
        ' "rootdse anon read access", lets every account), or make the index in the backend'
        " `dsconf INSTANCE backend suffix list` shows for the base (README: 389 Directory Server)",
    )


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


def _schema(server: ldap3.Server, directory: str, specs: dict[str, StoreSpec[Any]]) -> list[Finding]:
    schema = server.schema
    if schema is None:
        return [untold("schema", "the directory did not let the service account read its schema")]
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
        findings.append(failed(what, "; ".join(parts), _schema_fix(directory, missing_classes + missing)))
    return findings


def _schema_fix(directory: str, names: list[str]) -> str:
    """What to load: the OpenLDAP map's own schema and overlays (deploy/ldap); elsewhere, the map."""
    lowered = {n.lower() for n in names} if directory == "openldap" else set()
    hints = []
    if lowered & {"scimgatewayperson", "scimexternalid", "scimgatewaygroup"}:
        hints.append("load deploy/ldap/scim-gateway.ldif (ldapadd -Y EXTERNAL -H ldapi:/// -f ...)")
    if any(n.startswith("pwd") for n in lowered):
        hints.append("load the ppolicy overlay and schema (pwdAccountLockedTime)")
    if "memberof" in lowered:
        hints.append("load the memberof overlay (it defines memberOf)")
    hints.append(f"{'or ' if hints else ''}point the map at attributes and classes the directory has")
    return "; ".join(hints)


def control_findings(
    listed: set[str] | None, overrides: dict, derived: Capabilities, used: Capabilities
) -> list[Finding]:
    """The path each write takes, as the backend takes it (`used`: the root DSE as capabilities.py
    reads it, then the tenant's ldap: capabilities: `overrides`); `derived`: the root DSE's alone,
    to tell what an override changed; `listed`: its supportedControl (None: it could not be read)."""
    findings = [_directory(used)]
    if listed is None:
        findings.append(
            untold(
                "controls",
                "the service account may not read the root DSE: every write takes its fallback",
                "let it read the root DSE, or say what the directory honours in the tenant's ldap: capabilities:",
            )
        )
    elif PAGED_RESULTS not in listed:
        findings.append(
            warned(
                "control: paged results (RFC 2696)",
                "not offered: lookups and writes work, but a listing (GET /Users without an eq filter) comes back"
                " whole, not as the page asked for, and stops at the directory's size limit",
                "enable the simple paged results control (1.2.840.113556.1.4.319) on the directory",
            )
        )
    else:
        findings.append(passed("control: paged results (RFC 2696)", "offered: listings are read in pages"))
    for fallback in FALLBACKS:
        if fallback.capability == "matched_values" and used.permissive_modify:
            continue  # only the permissive modify fallback reads values
        findings.append(_control(fallback, used, derived, overrides))
    return findings


def _directory(used: Capabilities) -> Finding:
    if used.directory == "unknown":
        return passed(
            "directory",
            f"{used.vendor or 'no vendorName'}: not one the gateway knows by its root DSE (OpenLDAP, 389 DS,"
            " Active Directory); it sends the controls the root DSE lists, and no other",
        )
    return passed("directory", f"{used.directory} ({used.vendor or 'no vendorName'}), as its root DSE says")


def _control(fallback: Fallback, used: Capabilities, derived: Capabilities, overrides: dict) -> Finding:
    name = f"control: {fallback.control}"
    key = fallback.capability
    on, offered = getattr(used, key), getattr(derived, key)
    setting = f"ldap: capabilities: {{{key}: {'true' if on else 'false'}}} in the tenant's settings"
    if on and key in overrides and not offered:
        return passed(name, f"sent, as {setting} says (the root DSE does not list it): {fallback.saves}")
    if on:
        return passed(name, f"offered: {fallback.saves}")
    if key in overrides and offered:
        return warned(
            name,
            f"offered, but {setting} turns it off: {fallback.instead}",
            f"take {key} out of the tenant's ldap: capabilities: unless the directory fails the control",
        )
    if used.directory == "unknown":
        return passed(
            name,
            f"not listed by the directory: {fallback.instead} (if it honours the control without listing it:"
            f" ldap: capabilities: {{{key}: true}} in the tenant's settings)",
        )
    return passed(name, f"not offered by {used.directory}: {fallback.instead}")


def _size_limit(
    connection: ldap3.Connection, settings: LdapSettings, used: Capabilities, name: str, target: LdapTarget
) -> Finding:
    what = f"{name}: size limit"
    read, cookie, page = 0, None, min(500, used.max_page_size)
    while read < SIZE_PROBE:
        connection.search(
            target.base, target.scope_filter, ldap3.SUBTREE, attributes=["1.1"], paged_size=page, paged_cookie=cookie
        )
        code = (connection.result or {}).get("result", 0)
        read += sum(1 for r in connection.response or [] if r.get("type") == "searchResEntry")
        if code in (4, 11):
            return failed(
                what,
                f"a paged search stopped after {read} entries ({connection.result.get('description')})",
                _no_limit(used.directory, settings.bind_dn, target.base),
            )
        if code == NO_SUCH_OBJECT:
            return untold(what, "could not be told: the base is missing", "fix the base first (its line above)")
        if code != 0:
            return failed(what, f"a paged search failed ({connection.result.get('description')})", BIND_FIX)
        cookie = (
            (((connection.result or {}).get("controls") or {}).get(PAGED_RESULTS) or {}).get("value", {}).get("cookie")
        )
        if not cookie:
            return passed(what, f"read all {read} entries below the base in pages without reaching a limit")
    return passed(what, f"read {read} entries in pages without reaching a limit")


def _no_limit(directory: str, bind_dn: str, base: str) -> str:
    """The setting that lifts the service account's limit on paged searches, where it lives."""
    if directory == "389ds":
        return f"nsLookThroughLimit, nsPagedSizeLimit and nsSizeLimit: -1 on {bind_dn} (README: 389 Directory Server)"
    if directory == "active-directory":
        return "raise MaxPageSize and MaxResultSetSize in the domain's LDAP query policy (ntdsutil, ldap policies)"
    if directory == "openldap":
        return f'olcLimits: dn.exact="{bind_dn}" size.prtotal=unlimited (on the database of {base})'
    return f"lift the directory's size limit on paged searches for {bind_dn}"
