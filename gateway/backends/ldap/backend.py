"""The LDAP backend: records in, LDAP operations out, with as few round trips as LDAP allows.

- create: one add, whose post-read control (RFC 4527) returns entryUUID and the timestamps,
  after one search when the map asks for uniqueness beyond the entry's name.
- get: one search by the id attribute, for exactly the attributes asked for.
- search: simple paged results (RFC 2696); pages before `startIndex` and after the window are
  read as bare DNs (`1.1`), only the window carries attributes.
- modify: one modify with post-read; a new name is a modDN first (undone if the modify fails).
- references (manager, members): one search per kind resolves every id or DN in a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import ldap3
from ldap3.protocol.rfc4527 import post_read_control

from gateway.backends.base import (
    AlreadyExists,
    BackendError,
    InvalidData,
    NotFound,
    StoreSpec,
    Unavailable,
    UnknownReference,
)
from gateway.backends.ldap.compose import (
    all_filters,
    build_dn,
    iso_time,
    normalized_dn,
    rdn_text,
    render_filter,
    split_dn,
)
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.target import LdapTarget
from gateway.directory import AnyOf, Change, Entry, Match, Page, Query, Record, Ref, Value

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # stays under slapd's default size limit even where paging limits were not lifted
REFS_PER_SEARCH = 200
MODIFY_OPS = {"replace": ldap3.MODIFY_REPLACE, "add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE}
REFUSED_VALUES = {16, 17, 18, 19, 20, 21, 34, 64, 65, 66, 67, 69}
UNAVAILABLE = {3, 11, 51, 52, 80}


class LdapBackend:
    def __init__(self, pool: ConnectionPool, specs: dict[str, StoreSpec]):
        self.pool = pool
        self.specs = specs

    # --- reads ---------------------------------------------------------------------------------

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        target = _target(spec)
        query = Match(spec.id_attribute, "eq", id)
        search_filter = all_filters(target.scope_filter, render_filter(query))

        def run(connection: ldap3.Connection) -> list[dict]:
            connection.search(
                target.base, search_filter, _scope(target), attributes=_wanted(spec, attributes), size_limit=2
            )
            _check(connection, allow={4})
            return _entries(connection)

        found = self.pool.run(run, idempotent=True)
        if not found:
            raise NotFound(f"no {spec.kind[:-1]} with id {id!r}")
        return _entry(spec, found[0])

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        spec = self.specs[kind]
        target = _target(spec)
        locators = self._locators(_refs_in_query(query))
        search_filter = all_filters(target.scope_filter, render_filter(query, locators))
        wanted = _wanted(spec, attributes)

        def run(connection: ldap3.Connection) -> Page:
            pages = _Pager(connection, target, search_filter)
            skipped = pages.skip(start - 1)
            window = pages.read(count, wanted) if count > 0 and not pages.done else []
            rest = pages.skip(None)
            return Page(skipped + len(window) + rest, [_entry(spec, raw) for raw in window])

        return self.pool.run(run, idempotent=True)

    # --- writes --------------------------------------------------------------------------------

    def create(self, kind: str, record: Record, unique: Query | None, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        target = _target(spec)
        locators = self._locators(_refs_in_record(record))
        if unique is not None:
            self._ensure_unique(spec, unique, exclude=None)
        dn = build_dn(target.dn, record)
        values = {spec.name(name): _ldap_values(v, locators) for name, v in record.items() if v}
        values["objectClass"] = list(target.object_classes)

        def run(connection: ldap3.Connection) -> Entry:
            connection.add(dn, attributes=values, controls=[post_read_control(_wanted(spec, attributes))])
            if connection.result["result"] == 68:
                raise AlreadyExists(f"an entry named {split_dn(dn)[0]} already exists")
            _check(connection)
            return _entry(spec, {"dn": dn, "attributes": _post_read(connection)})

        return self.pool.run(run, idempotent=False)

    def modify(
        self,
        kind: str,
        entry: Entry,
        changes: list[Change],
        record: Record,
        attributes: list[str],
        unique: Query | None = None,
    ) -> Entry:
        spec = self.specs[kind]
        target = _target(spec)
        locators = self._locators([v for c in changes for v in c.values if isinstance(v, Ref)])
        if unique is not None:
            self._ensure_unique(spec, unique, exclude=entry.id)
        new_dn = build_dn(target.dn, record) if _touches(changes, target.placeholders()) else entry.locator
        # A new name, or the same name in a new case (Entra renames "alice" to "Alice").
        renamed = normalized_dn(new_dn) != normalized_dn(entry.locator) or rdn_text(new_dn) != rdn_text(entry.locator)
        if renamed:
            rdn_value = split_dn(new_dn)[0]
            changes = [c for c in changes if not _done_by_rename(c, target, record)]
        else:
            rdn_value = None
        modification = {}
        for change in changes:
            modification.setdefault(spec.name(change.attribute), []).append(
                (MODIFY_OPS[change.op], _ldap_values(list(change.values), locators))
            )
        control = [post_read_control(_wanted(spec, attributes))]

        def run(connection: ldap3.Connection) -> Entry:
            dn = entry.locator
            after: dict | None = None
            if renamed:
                after = self._rename(connection, dn, new_dn, rdn_value, control if not modification else None)
                dn = new_dn
            if modification:
                connection.modify(dn, modification, controls=control)
                if connection.result["result"] != 0 and renamed:
                    failure = dict(connection.result)
                    self._undo_rename(connection, dn, entry.locator)
                    connection.result = failure
                _check(connection)
                after = _post_read(connection)
            if after is None:  # nothing changed at all: answer from what we already have
                return entry
            return _entry(spec, {"dn": dn, "attributes": after})

        return self.pool.run(run, idempotent=False)

    def delete(self, kind: str, id: str) -> None:
        spec = self.specs[kind]
        entry = self.get(kind, id, [])

        def run(connection: ldap3.Connection) -> None:
            connection.delete(entry.locator)
            if connection.result["result"] == 32:
                raise NotFound(f"no {spec.kind[:-1]} with id {id!r}")
            _check(connection)

        self.pool.run(run, idempotent=False)

    def _rename(self, connection, dn: str, new_dn: str, rdn: str, controls) -> dict | None:
        new_parent = split_dn(new_dn)[1]
        moved = normalized_dn(new_parent) != normalized_dn(split_dn(dn)[1])
        connection.modify_dn(dn, rdn, delete_old_dn=True, new_superior=new_parent if moved else None, controls=controls)
        if connection.result["result"] == 68:
            raise AlreadyExists(f"an entry named {rdn} already exists")
        _check(connection)
        return _post_read(connection) if controls else None

    def _undo_rename(self, connection, dn: str, old_dn: str) -> None:
        old_rdn, old_parent = split_dn(old_dn)
        moved = normalized_dn(old_parent) != normalized_dn(split_dn(dn)[1])
        connection.modify_dn(dn, old_rdn, delete_old_dn=True, new_superior=old_parent if moved else None)
        if connection.result["result"] != 0:
            log.error(
                "could not undo the rename of %s back to %s: %s", dn, old_dn, connection.result.get("description")
            )

    def _ensure_unique(self, spec: StoreSpec, unique: Query, exclude: str | None) -> None:
        target = _target(spec)
        search_filter = all_filters(target.scope_filter, render_filter(unique))

        def run(connection: ldap3.Connection) -> list[dict]:
            connection.search(target.base, search_filter, _scope(target), attributes=[spec.id_attribute], size_limit=2)
            _check(connection, allow={4})
            return _entries(connection)

        for raw in self.pool.run(run, idempotent=True):
            if exclude is None or _first(raw["attributes"], spec.id_attribute) != exclude:
                raise AlreadyExists("another entry already has that value")

    # --- references ----------------------------------------------------------------------------

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """Fill in ids for DNs and DNs for ids: one search per kind and direction (per 200 refs)."""
        resolved: dict[Ref, Ref] = {}
        pending = [r for r in dict.fromkeys(refs) if not (r.id and r.locator)]
        for kind in {r.kind for r in pending}:
            spec = self.specs[kind]
            by_id = [r for r in pending if r.kind == kind and r.id]
            by_dn = [r for r in pending if r.kind == kind and not r.id and r.locator]
            found = self._lookup(spec, [r.id for r in by_id], spec.id_attribute)
            missing = [r.id for r in by_id if r.id.lower() not in found]
            if missing:
                raise UnknownReference(kind, missing)
            for ref in by_id:
                resolved[ref] = Ref(kind, ref.id, found[ref.id.lower()][0])
            found = self._lookup(spec, [r.locator for r in by_dn], _target(spec).dn_attribute)
            for ref in by_dn:
                hit = found.get(ref.locator.lower())
                resolved[ref] = Ref(kind, hit[1] if hit else None, ref.locator)
        return resolved

    def _lookup(self, spec: StoreSpec, keys: list[str], attribute: str) -> dict[str, tuple[str, str]]:
        """{key (lower case): (dn, id)} for entries whose `attribute` is one of `keys`."""
        target = _target(spec)
        result: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(list(dict.fromkeys(keys)), REFS_PER_SEARCH):
            query = AnyOf(tuple(Match(attribute, "eq", key) for key in chunk))
            search_filter = all_filters(target.scope_filter, render_filter(query))

            def run(connection: ldap3.Connection, search_filter=search_filter) -> list[dict]:
                connection.search(target.base, search_filter, _scope(target), attributes=[spec.id_attribute])
                _check(connection)
                return _entries(connection)

            by_dn = {normalized_dn(k): k for k in chunk} if attribute == target.dn_attribute else None
            for raw in self.pool.run(run, idempotent=True):
                id_value = _first(raw["attributes"], spec.id_attribute)
                key = by_dn.get(normalized_dn(raw["dn"]), raw["dn"]) if by_dn is not None else id_value
                result[key.lower()] = (raw["dn"], id_value)
        return result

    def _locators(self, refs: list[Ref]) -> dict[Ref, str]:
        wanted = [r for r in refs if r.id and not r.locator]
        if not wanted:
            return {}
        return {ref: full.locator for ref, full in self.resolve(wanted).items()}

    def close(self) -> None:
        self.pool.close()


class _Pager:
    """One simple-paged-results search, read in pieces on a single connection."""

    def __init__(self, connection: ldap3.Connection, target: LdapTarget, search_filter: str):
        self.connection = connection
        self.target = target
        self.filter = search_filter
        self.cookie: bytes | None = None
        self.started = False
        self.done = False

    def _page(self, size: int, attributes: list[str]) -> list[dict]:
        self.connection.search(
            self.target.base,
            self.filter,
            _scope(self.target),
            attributes=attributes,
            paged_size=size,
            paged_cookie=self.cookie,
        )
        _check(self.connection)
        self.started = True
        control = (self.connection.result.get("controls") or {}).get("1.2.840.113556.1.4.319")
        self.cookie = control["value"]["cookie"] if control else None
        self.done = not self.cookie
        return _entries(self.connection)

    def skip(self, how_many: int | None) -> int:
        """Read past `how_many` entries (None: all the rest) as bare DNs; returns how many."""
        skipped = 0
        while not self.done and (how_many is None or skipped < how_many):
            size = PAGE_SIZE if how_many is None else min(PAGE_SIZE, how_many - skipped)
            if size <= 0 or (self.started and not self.cookie):
                break
            skipped += len(self._page(size, ["1.1"]))
        return skipped

    def read(self, count: int, attributes: list[str]) -> list[dict]:
        window: list[dict] = []
        while not self.done and len(window) < count:
            window.extend(self._page(min(PAGE_SIZE, count - len(window)), attributes))
        return window


def _target(spec: StoreSpec) -> LdapTarget:
    return spec.target  # type: ignore[return-value]


def _scope(target: LdapTarget):
    return ldap3.LEVEL if target.scope == "one" else ldap3.SUBTREE


def _wanted(spec: StoreSpec, attributes: list[str]) -> list[str]:
    extra = [spec.id_attribute, spec.created_attribute, spec.modified_attribute]
    return sorted({*attributes, *(a for a in extra if a)}, key=str.lower)


def _check(connection: ldap3.Connection, allow: set[int] = frozenset()) -> None:
    result = connection.result or {}
    code = result.get("result", 0)
    if code == 0 or code in allow:
        return
    description = result.get("description", "")
    message = (result.get("message") or "").strip()
    detail = f"{description}: {message}" if message else description
    if code == 32:
        raise NotFound(f"the directory has no such entry ({detail})")
    if code == 68:
        raise AlreadyExists(f"the directory already has that entry ({detail})")
    if code in REFUSED_VALUES:
        raise InvalidData(f"the directory refused the values: {detail}")
    if code in UNAVAILABLE:
        log.warning("directory unavailable: %s", detail)
        raise Unavailable(f"the directory is unavailable ({description})")
    log.error("LDAP operation failed: %s (%s)", detail, code)
    if code == 50:
        raise BackendError("the directory refused the gateway's account this operation; check its access rights")
    raise BackendError(f"the directory refused the operation ({description})")


def _entries(connection: ldap3.Connection) -> list[dict]:
    return [r for r in connection.response or [] if r.get("type") == "searchResEntry"]


def _post_read(connection: ldap3.Connection) -> dict:
    control = (connection.result.get("controls") or {}).get("1.3.6.1.1.13.2")
    return control["value"]["result"] if control else {}


def _first(attributes: dict, name: str) -> str | None:
    for key, values in attributes.items():
        if key.lower() == name.lower():
            if isinstance(values, list):
                return str(values[0]) if values else None
            return str(values)
    return None


def _entry(spec: StoreSpec, raw: dict) -> Entry:
    attributes: Record = {}
    for name, values in (raw.get("attributes") or {}).items():
        values = values if isinstance(values, list) else [values]
        key = name.lower()
        if key in spec.references:
            attributes[key] = [Ref(spec.references[key], None, str(v)) for v in values]
        else:
            attributes[key] = [v if isinstance(v, str) else v.decode("utf-8", "replace") for v in values]
    return Entry(
        id=_one(attributes, spec.id_attribute) or "",
        attributes=attributes,
        locator=raw.get("dn", ""),
        created=iso_time(_one(attributes, spec.created_attribute)),
        modified=iso_time(_one(attributes, spec.modified_attribute)),
    )


def _one(attributes: Record, name: str | None) -> str | None:
    values = attributes.get(name.lower()) if name else None
    return str(values[0]) if values else None


def _ldap_values(values: list[Value], locators: dict[Ref, str]) -> list[str]:
    result = []
    for value in values:
        if isinstance(value, Ref):
            located = value.locator or locators.get(value)
            if located is None:
                raise UnknownReference(value.kind, [value.id or "?"])
            result.append(located)
        else:
            result.append(str(value))
    return result


def _refs_in_query(query: Query) -> list[Ref]:
    if isinstance(query, Match):
        return [query.value] if isinstance(query.value, Ref) else []
    inner = getattr(query, "items", None) or ([query.inner] if hasattr(query, "inner") else [])
    return [ref for item in inner for ref in _refs_in_query(item)]


def _refs_in_record(record: Record) -> list[Ref]:
    return [v for values in record.values() for v in values if isinstance(v, Ref)]


def _touches(changes: list[Change], attributes: list[str]) -> bool:
    return any(c.attribute in attributes for c in changes)


def _done_by_rename(change: Change, target: LdapTarget, record: Record) -> bool:
    """A replace of the naming attribute with its new single value is what modDN just did."""
    return change.attribute == target.rdn_attribute and change.op == "replace" and len(change.values) == 1


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index : index + size]
