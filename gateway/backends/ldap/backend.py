"""The LDAP backend: records in, LDAP operations out, with as few round trips as LDAP allows.

- create: one add, whose post-read control returns entryUUID and the timestamps (the service
  has searched for uniqueness first).
- get: one search by the id attribute, for exactly the attributes asked for.
- search: a lookup (an `eq` filter, a few entries) is one simple-paged search (paging.py); a
  listing is a window of a list the directory sorts, with its count (vlv.py; the list kept for
  the next page by views.py), where the directory offers that, else paged search.
- modify: one modify with post-read. The entry's DN comes from the read that preceded it or
  from this worker's memory of earlier requests, guarded by an assertion on its id;
  a new name is a modDN first, undone if the modify fails.
- references (manager, members): one search per kind (and per few hundred values) resolves
  every id or DN a request needs (lookups.py).

Where the directory lacks a control (capabilities.py reads its root DSE), the same write takes
the fallback: no assertion, the DN is searched by id just before the write; no post-read, the
entry is read after it. A DN that went stale under a write (a rename raced it) is searched
again by id, so a user that exists is never a 404. What AD needs of a new account (a unique
logon name, a password) is accounts.py.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

import ldap3

from gateway.backends.base import AlreadyExists, BackendError, Contended, NotFound, Update
from gateway.backends.ldap import accounts, controls, memberships, results, views, vlv
from gateway.backends.ldap.compose import (
    all_filters,
    normalized_dn,
    render_filter,
    split_dn,
)
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.integrity import Referrers
from gateway.backends.ldap.lookups import Lookups
from gateway.backends.ldap.marks import Marks
from gateway.backends.ldap.paging import Pager, scope
from gateway.backends.ldap.plan import ModifyPlan, plan_add, plan_modify
from gateway.backends.ldap.target import LdapSpec, LdapTarget
from gateway.store import AllOf, AnyOf, Entry, Match, Negate, Page, Query, Record, Ref, references

log = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_ATTEMPTS = 5  # a write to an entry renamed under it: found again by id this often
STALE_PAUSE = 0.003  # seconds, times the attempt: the most a retry waits (30 ms in all, at most)
REMEMBERED_DNS = 10_000


class LdapBackend:
    def __init__(self, pool: ConnectionPool, specs: dict[str, LdapSpec]):
        self.pool = pool
        self.specs = specs
        self.referrers = Referrers(specs)
        self._dns: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._dns_lock = threading.Lock()
        settings = pool.settings
        marks = Marks.of_this_gateway(settings.host)  # ldap:// and ldaps:// to one host: one directory
        self.views = views.Views(pool.open, pool.drop, pool.bounded, settings.keep_sorted_lists, marks=marks)
        self.lookups = Lookups(pool, specs)
        self._sorting: bool | None = None  # does the directory sort and position (rootDSE)? read once

    # --- reads ---------------------------------------------------------------------------------

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        target = spec.target
        search_filter = all_filters(target.scope_filter, render_filter(Match(spec.id_attribute, "eq", id)))

        def run(connection: ldap3.Connection) -> list[dict]:
            connection.search(
                target.base, search_filter, scope(target), attributes=_wanted(spec, attributes), size_limit=2
            )
            results.check(connection, allow={4}, base=target.base)
            return results.entries(connection)

        found = self.pool.run(run, idempotent=True)
        if not found:
            raise NotFound.no_such(kind, id)
        return self._remember(kind, results.to_entry(spec, found[0]))

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        spec = self.specs[kind]
        target = spec.target
        locators = self.lookups.locators(_refs_in_query(query), missing_ok=True)
        search_filter = all_filters(target.scope_filter, render_filter(query, locators))
        wanted = _wanted(spec, attributes)
        if _selective(query):
            limit = start + count  # one more than the window: "more than that" is the Pager's job
            found = self.pool.run(lambda c: _plain_search(c, target, search_filter, wanted, limit), idempotent=True)
            if found is not None:
                window = found[start - 1 : start - 1 + count]
                return self._remembered(kind, Page(len(found), [results.to_entry(spec, raw) for raw in window]))
        elif self._sorts():
            search = vlv.listing(spec, search_filter, self.pool.capabilities)
            try:
                window = self.views.window(search, start, count, wanted)
            except vlv.Refused:
                pass
            else:
                found = window.entries + self.lookups.by_ids(spec, window.tail, wanted)
                page = Page(window.total, [results.to_entry(spec, raw) for raw in found])
                return self._remembered(kind, page)

        def run(connection: ldap3.Connection) -> Page:
            pages = Pager(connection, target, search_filter, self.pool.capabilities, wanted)
            skipped = pages.skip(start - 1)
            window = pages.read(count, wanted) if count > 0 else []
            rest = pages.skip(None)
            return Page(skipped + len(window) + rest, [results.to_entry(spec, raw) for raw in window])

        return self._remembered(kind, self.pool.run(run, idempotent=True))

    def _remembered(self, kind: str, page: Page) -> Page:
        for entry in page.entries:
            self._remember(kind, entry)
        return page

    def _sorts(self) -> bool:
        """Does the directory offer server-side sorting and VLV? Its rootDSE says (capabilities.py),
        read when the connection opened; this only makes sure one was opened."""
        if self._sorting is None:
            self._sorting = self.pool.run(lambda connection: self.pool.capabilities.sorting, idempotent=True)
        return self._sorting

    def listing_problems(self) -> list[str]:
        """What keeps this directory's listings from costing a page (vlv.problems), asked on a
        connection of its own that is closed after (the sorted lists it makes go with it)."""
        connection = self.pool.open()
        try:
            specs = self.specs.values()
            return vlv.problems(connection, [vlv.listing(spec, None, self.pool.capabilities) for spec in specs])
        finally:
            self.pool.drop(connection)

    # --- writes --------------------------------------------------------------------------------

    def create(self, kind: str, record: Record, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        target = spec.target
        locators = self.lookups.locators(references(record.values()))
        plan = plan_add(spec, record, locators)
        dn, values, group_changes = plan.dn, plan.attributes, plan.group_changes
        if target.random_password and not self.pool.settings.encrypted:
            raise BackendError(
                f"the map gives new accounts a password ({target.random_password}), which the directory only"
                " takes over an encrypted connection: set the tenant's ldap url to ldaps:// or start_tls: true"
            )

        def run(connection: ldap3.Connection) -> Entry:
            capabilities = self.pool.capabilities
            sent = accounts.unique_names(connection, target, values) if target.unique_names else values
            sent, account_control = accounts.add_disabled(target, sent)
            post = [controls.post_read(_wanted(spec, attributes))] if capabilities.post_read else None
            connection.add(dn, attributes=sent, controls=post)
            if results.code(connection) == results.ALREADY_EXISTS:
                raise AlreadyExists(f"an entry named {split_dn(dn)[0]} already exists")
            results.check(connection, base=split_dn(dn)[1])
            after = results.post_read(connection) if post else {}
            if target.random_password:
                try:
                    accounts.set_random_password(connection, dn, target.random_password, account_control)
                except Exception:
                    connection.delete(dn)  # nothing half-made: no account without its password
                    raise
            if not after or target.random_password:
                after = self._read_at(connection, spec, dn, attributes)[1]
            if group_changes:
                try:
                    memberships.apply(connection, group_changes, dn)
                except Exception:
                    connection.delete(dn)  # nothing half-written: the entry goes with its groups
                    raise
                after = {
                    **after,
                    **{spec.name(key): [str(v) for v in record[key]] for key in target.memberships if record.get(key)},
                }
            return results.to_entry(spec, {"dn": dn, "attributes": after})

        since = self.views.clock()  # before the write: a list sorted after may hold the entry already
        try:
            created = self._write(run)
        except BackendError as error:
            error.locator = error.locator or dn  # for the audit trail and the request log
            raise
        self.views.created(kind, created.id, since)
        return self._remember(kind, created)

    def modify(self, kind: str, update: Update, attributes: list[str] | None) -> Entry:
        """Apply the update; its `after` decides a rename, `attributes` the post-read (None: the
        caller needs no answer). A blind update's entry has no locator: it is remembered or found."""
        spec = self.specs[kind]
        entry = update.before
        locators = self.lookups.locators(references(c.values for c in update.changes))
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            # Without the assertion control a remembered DN is not trusted: it is searched again.
            fresh = attempt > 1 or not self.pool.capabilities.assertion
            dn = (entry.locator if attempt == 1 else "") or self._locate(kind, entry.id, fresh=fresh)
            try:
                after = self._modify_at(spec, update, dn, attributes, locators)
            except results.StaleLocator:
                # Renamed or moved since it was read (a PATCH racing another): find it again
                # by id; only an id that names nothing any more is a 404 (raised by _locate).
                self._forget(kind, entry.id)
                # A moment apart, growing: writers that keep meeting in step stop meeting (a
                # rename every few ms beat five tries in a row about once in 20 test runs).
                if attempt < WRITE_ATTEMPTS:
                    time.sleep(random.uniform(0, STALE_PAUSE * attempt))
                continue
            return self._remember(kind, after)
        # Found by id each time, renamed again before each write: the entry exists, so never a
        # 404 (Entra would take the user for gone); nothing was written, so a plain retry.
        raise Contended(f"the entry kept being renamed while the gateway wrote it ({WRITE_ATTEMPTS} tries)")

    def _modify_at(
        self, spec: LdapSpec, update: Update, dn: str, attributes: list[str] | None, locators: dict[Ref, str]
    ) -> Entry:
        # the entry as read: a bit flag change (userAccountControl) keeps the bits it does not own,
        # and is refused and read again if another writer changed the number since (modification.py)
        plan = plan_modify(spec, dn, list(update.changes), update.after, locators, update.before.attributes)
        new_dn, renamed, modification, group_changes = plan.new_dn, plan.renamed, plan.modification, plan.group_changes

        def run(connection: ldap3.Connection) -> Entry:
            capabilities = self.pool.capabilities
            wants_post = attributes is not None and capabilities.post_read
            post = [controls.post_read(_wanted(spec, attributes))] if wants_post else []
            id_filter = render_filter(Match(spec.id_attribute, "eq", update.id))
            guard = [controls.assertion(id_filter)] if capabilities.assertion else []
            current = dn
            after: dict | None = None
            memberships.apply(connection, group_changes, dn)
            try:
                if renamed:
                    after = self._rename(connection, plan, guard, None if modification else post)
                    current = new_dn
                if modification:
                    try:
                        modification.apply(connection, current, [*guard, *post], capabilities)
                    except Exception:
                        if renamed:
                            self._undo_rename(connection, current, dn)
                        raise
                    after = results.post_read(connection) if post else None
            except Exception:
                memberships.undo(connection, group_changes, dn)
                raise
            if not after and attributes is not None:  # no post-read, or the directory ignored it
                current, after = self._read_at(connection, spec, current, attributes, update.id)
            return results.to_entry(spec, {"dn": current, "attributes": after or {}})

        after = self._write(run)
        self.views.forget(filtered_only=not renamed)
        if renamed:
            self.referrers.renamed(self.pool, spec.kind, dn, new_dn)
        if not after.id:
            after.id = update.id
        return after

    def delete(self, kind: str, id: str) -> str:
        spec = self.specs[kind]
        guard = controls.assertion(render_filter(Match(spec.id_attribute, "eq", id)))
        since = self.views.clock()
        for attempt in (1, 2):
            dn = self._locate(kind, id, fresh=attempt == 2 or not self.pool.capabilities.assertion)

            def run(connection: ldap3.Connection, dn=dn) -> int:
                connection.delete(dn, controls=[guard] if self.pool.capabilities.assertion else None)
                if results.code(connection) not in (results.NO_SUCH_OBJECT, results.ASSERTION_FAILED):
                    results.check(connection)
                return results.code(connection)

            if self._write(run) == 0:
                self.views.deleted(kind, id, since)
                self._forget(kind, id)
                self.referrers.deleted(self.pool, kind, dn)
                return dn
            self._forget(kind, id)
        raise NotFound.no_such(kind, id)

    def _write(self, run: Callable[[ldap3.Connection], T]) -> T:
        """The pool's run for a write. One whose outcome is unknown may have been done: no kept
        list is trusted with it (this worker's, or, told, the others')."""
        try:
            return self.pool.run(run, idempotent=False)
        except BackendError as error:
            if error.in_doubt:
                self.views.forget()
            raise

    def _rename(self, connection, plan: ModifyPlan, guard: list, post) -> dict | None:
        connection.modify_dn(
            plan.dn,
            plan.new_rdn,
            delete_old_dn=True,
            new_superior=plan.new_superior,
            controls=[*guard, *(post or [])] or None,
        )
        if results.code(connection) == results.ALREADY_EXISTS:
            raise AlreadyExists(f"an entry named {plan.new_rdn} already exists")
        if results.code(connection) in (results.NO_SUCH_OBJECT, results.ASSERTION_FAILED):
            raise results.StaleLocator()
        results.check(connection)
        return results.post_read(connection) if post else None

    def _read_at(
        self, connection: ldap3.Connection, spec: LdapSpec, dn: str, attributes: list[str] | None, id: str = ""
    ) -> tuple[str, dict]:
        """(DN, attributes) of the entry just written; renamed meanwhile (a racing PATCH), it is
        found again by id."""
        wanted = _wanted(spec, attributes)
        connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=wanted)
        if results.code(connection) == results.NO_SUCH_OBJECT and id:
            target = spec.target
            by_id = all_filters(target.scope_filter, render_filter(Match(spec.id_attribute, "eq", id)))
            connection.search(target.base, by_id, scope(target), attributes=wanted, size_limit=2)
        results.check(connection, allow={4})
        found = results.entries(connection)
        return (found[0]["dn"], found[0]["attributes"]) if found else (dn, {})

    def _undo_rename(self, connection, dn: str, old_dn: str) -> None:
        old_rdn, old_parent = split_dn(old_dn)
        moved = normalized_dn(old_parent) != normalized_dn(split_dn(dn)[1])
        connection.modify_dn(dn, old_rdn, delete_old_dn=True, new_superior=old_parent if moved else None)
        if results.code(connection) != 0:
            log.error(
                "could not undo the rename of %s back to %s: %s", dn, old_dn, connection.result.get("description")
            )

    # --- where entries are -----------------------------------------------------------------------

    def _remember(self, kind: str, entry: Entry) -> Entry:
        if entry.id and entry.locator:
            with self._dns_lock:
                self._dns[(kind, entry.id.lower())] = entry.locator
                self._dns.move_to_end((kind, entry.id.lower()))
                while len(self._dns) > REMEMBERED_DNS:
                    self._dns.popitem(last=False)
        return entry

    def _forget(self, kind: str, id: str) -> None:
        with self._dns_lock:
            self._dns.pop((kind, id.lower()), None)

    def _locate(self, kind: str, id: str, fresh: bool = False) -> str:
        """The DN of an entry by id: remembered (and checked by an assertion when used), or searched."""
        if not fresh:
            with self._dns_lock:
                known = self._dns.get((kind, id.lower()))
            if known:
                return known
        self._forget(kind, id)
        return self.get(kind, id, []).locator

    # --- references ----------------------------------------------------------------------------

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """Fill in ids for DNs and DNs for ids (lookups.py)."""
        return self.lookups.resolve(refs)

    def close(self) -> None:
        self.views.close()
        self.pool.close()


def _wanted(spec: LdapSpec, attributes: list[str] | None) -> list[str]:
    extra = [spec.id_attribute, spec.created_attribute, spec.modified_attribute]
    return sorted({*(attributes or []), *(a for a in extra if a)}, key=str.lower)


def _plain_search(connection: ldap3.Connection, target: LdapTarget, search_filter: str, wanted: list[str], limit: int):
    """A lookup's few entries in one search without the paging control (less to encode and
    decode); None when there are more than `limit` (or than the directory's size limit), for
    the paged search to count."""
    connection.search(target.base, search_filter, scope(target), attributes=wanted, size_limit=limit)
    if results.code(connection) == results.SIZE_LIMIT_EXCEEDED:
        return None
    results.check(connection, base=target.base)
    return results.entries(connection)


def _selective(query: Query) -> bool:
    """A lookup rather than a listing: an `eq` every match must meet (Entra's userName,
    externalId, id and member lookups). Its few entries cost less as one plain paged search."""
    if isinstance(query, Match):
        return query.op == "eq"
    if isinstance(query, AllOf):
        return any(_selective(item) for item in query.items)
    if isinstance(query, AnyOf):
        return bool(query.items) and all(_selective(item) for item in query.items)
    return False


def _refs_in_query(query: Query) -> list[Ref]:
    if isinstance(query, Match):
        return [query.value] if isinstance(query.value, Ref) else []
    if isinstance(query, AllOf | AnyOf):
        return [ref for item in query.items for ref in _refs_in_query(item)]
    if isinstance(query, Negate):
        return _refs_in_query(query.inner)
    return []
