"""The REST backend: records in, calls to a legacy HTTP API out, as the map's `rest:` section says.

- create: one POST (after the service's uniqueness lookups, which are searches), and the
  disable call when the new record must start disabled.
- get: one GET by id; none at all for an id the map's `id_pattern` rules out.
- search: a plain list reads only the window asked for, through the API's own paging
  (paging.py); a filter becomes one read by id or one lookup, and what comes back is checked
  against the whole filter.
- modify: one PUT (the whole record) or PATCH (only what changed), then the disable/enable call
  when `active` changed. The API's answer is the entry after; when it has none, one GET.
  Where the map declares the API's optimistic concurrency (`concurrency:` ETag + If-Match, or a
  version field), the write carries the version it was computed from; when the API refuses it
  as stale, the record is read again, the same changes applied to it, and the write retried a
  bounded number of times. Without it, concurrent writers of one record can lose each other's
  changes when the update is a PUT (PATCH sends only the changed fields, so only writers of the
  same field collide).
- references (a manager): the API holds the other record's id, which is also its SCIM id, so
  resolving only checks that it exists (one GET each).

With `dry_run=True` the backend still reads, but sends no write: each one is appended to
`planned` (method, URL, JSON body) and answered with the entry it was meant to produce. That is
what a preview of a map shows: the very calls the gateway would make.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from gateway.backends.base import (
    AlreadyExists,
    BackendError,
    Contended,
    NotFound,
    Unavailable,
    UnknownReference,
    Update,
)
from gateway.backends.rest.paging import everything, first_record, window
from gateway.backends.rest.query import Plan, matches, plan
from gateway.backends.rest.records import (
    fill_body,
    fill_path,
    get_field,
    iso_time,
    json_value,
    read_record,
    set_field,
    write_fields,
)
from gateway.backends.rest.target import Action, Operation, RestSpec, RestTarget
from gateway.backends.rest.transport import NO_BODY, Reply, Sender, Stale
from gateway.store import Entry, Page, Query, Record, Ref, applied

MAX_MATCHES = 1000  # records a filtered search may find before the gateway calls the filter too broad
DRY_RUN_ID = "(new)"  # the id a dry run gives a record it did not create
NOT_SENT = 0  # the status of a reply to a write a dry run did not send
STALE_PAUSE = 0.05  # seconds (times the attempt, jittered) before writing again after a stale refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedCall:
    """A write a dry run did not send."""

    method: str
    url: str
    body: Any = None


class RestBackend:
    def __init__(self, transport: Sender, specs: dict[str, RestSpec], dry_run: bool = False):
        self.transport = transport
        self.specs = specs
        self.planned: list[PlannedCall] | None = [] if dry_run else None
        self.sleep = time.sleep  # tests make it instant
        self._answering: set[str] = set()  # list paths the API answered: its 404s mean "no such record"

    # --- reads ---------------------------------------------------------------------------------

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        target = spec.target
        if not id or not target.accepts_id(id):
            raise NotFound.no_such(spec.kind, id)
        try:
            reply = self._call(target.read, id=id)
        except NotFound:
            self._not_found(spec)
            raise NotFound.no_such(spec.kind, id) from None
        document = _record_in(reply.body, target.read.record)
        if document is None:
            raise BackendError(f"the API's answer to GET {target.read.path} holds no record")
        return self._entry(spec, document, reply.headers.get("ETag"))

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        spec = self.specs[kind]
        target = spec.target
        how = plan(query, spec, target)
        if how.everything:
            try:
                total, documents = window(self.transport, target.list, start, count)
            except NotFound:
                self._not_found(spec)
                raise
            self._answering.add(target.list.path)
            return Page(total, [self._entry(spec, document) for document in documents])
        found = [entry for entry in self._find(spec, target, how) if matches(query, entry.attributes)]
        return Page(len(found), found[start - 1 : start - 1 + count])

    def _find(self, spec: RestSpec, target: RestTarget, how: Plan) -> list[Entry]:
        """The records the API returns for a plan (a superset of the matches, checked by the caller)."""
        if how.id is not None:
            try:
                return [self.get(spec.kind, how.id, [])]
            except NotFound:
                return []
        by_param = {lookup.param: value for lookup, value in how.lookups if lookup.param}
        if by_param:
            params = dict(target.list.params) | by_param
            try:
                documents = everything(self.transport, target.list, params, MAX_MATCHES)
            except NotFound:  # some APIs say "none match" so
                self._not_found(spec)
                return []
            return [self._entry(spec, d) for d in documents]
        lookup, value = how.lookups[0]
        call = lookup.operation
        assert call is not None  # a lookup without a query parameter has a call of its own
        try:
            reply = self._call(call, value=value)
        except NotFound:
            self._not_found(spec)
            return []
        found = reply.body if call.record is None else get_field(reply.body, call.record)
        documents = found if isinstance(found, list) else [found]
        return [self._entry(spec, d) for d in documents if isinstance(d, dict)]

    # --- writes --------------------------------------------------------------------------------

    def create(self, kind: str, record: Record, attributes: list[str]) -> Entry:
        spec = self.specs[kind]
        target = spec.target
        fields = write_fields(record, spec, target, record.keys(), nulls=False)
        reply = self._call(target.create, body=fill_body(target.create.body, fields))
        entry = self._written(spec, target.create, reply, None, _bodily(record, target))
        return self._act(spec, target, entry, record)

    def modify(self, kind: str, update: Update, attributes: list[str] | None) -> Entry:
        spec = self.specs[kind]
        target = spec.target
        entry = update.before
        base = update.after
        if base is None:
            # Value-by-value changes (members) sent without a read; an API writes whole fields.
            entry = self.get(kind, entry.id, [])
        tries = 1 + (target.concurrency.retries if target.concurrency else 0)
        for attempt in range(1, tries + 1):
            try:
                return self._update(spec, target, entry, update, base)
            except Stale:
                if attempt == tries:
                    log.warning("API %s %s: still changed by others after %d tries", kind, entry.id, tries)
                    raise Contended(f"the record kept changing while the gateway wrote it ({tries} tries)") from None
            # Someone else wrote the record since it was read: read it again and apply the same
            # changes to what it holds now (a moment apart, so the writers do not meet again).
            self.sleep(random.uniform(0.2, 1.0) * STALE_PAUSE * attempt)
            entry = self.get(kind, entry.id, [])
            base = None
        raise AssertionError("unreachable")

    def _update(self, spec: RestSpec, target: RestTarget, entry: Entry, update: Update, base: Record | None) -> Entry:
        """One try: the update call computed from `entry` (with its version), then the actions."""
        # The new values of every changed attribute: member changes arrive as just the ids added
        # or removed, and apply to the values the API holds now.
        now = applied(entry.attributes, update.changes)
        changed = {key: now[key] for key in dict.fromkeys(c.attribute.lower() for c in update.changes)}
        if base is None:
            base = {k: v for k, v in entry.attributes.items() if k in spec.written}
        desired = base | changed
        after = entry
        if set(changed) - target.action_fields:
            call = target.update
            # PUT replaces the record: every field the map writes goes along, cleared ones as null.
            keys = set(changed) if call.partial else set(desired)
            fields = write_fields(desired, spec, target, keys, nulls=True)
            concurrency = target.concurrency
            headers = None
            if concurrency and concurrency.etag and entry.version:
                headers = {"If-Match": entry.version}
            if concurrency and concurrency.version and entry.version is not None:
                version = json_value(entry.version, target.type_of(concurrency.version), concurrency.version)
                set_field(fields, concurrency.version, version)
            body = fill_body(call.body, fields, self._typed_id(spec, target, entry.id))
            try:
                reply = self._call(call, id=entry.id, body=body, headers=headers)
            except AlreadyExists:
                if concurrency and concurrency.version and self.get(spec.kind, entry.id, []).version != entry.version:
                    raise Stale("the record's version changed since it was read") from None
                raise
            after = self._written(spec, call, reply, entry.id, entry.attributes | _bodily(desired, target))
        return self._act(spec, target, after, desired)

    def delete(self, kind: str, id: str) -> str:
        spec = self.specs[kind]
        target = spec.target
        if not id or not target.accepts_id(id):
            raise NotFound.no_such(spec.kind, id)
        try:
            self._call(target.delete, id=id)
        except NotFound:
            self._not_found(spec)
            raise NotFound.no_such(spec.kind, id) from None
        return id  # the API's id is its locator

    def _act(self, spec: RestSpec, target: RestTarget, entry: Entry, record: Record) -> Entry:
        """Call disable (or enable) when the record must be in its state and the entry is not."""
        for action in target.actions:
            if _in_state(record, action) and not _in_state(entry.attributes, action):
                fields = {name: value for name, value in action.when}
                body = fill_body(action.body, fields, self._typed_id(spec, target, entry.id))
                reply = self._call(action, id=entry.id, body=body)
                state: Record = {name.lower(): [value] for name, value in action.when}
                entry = self._written(spec, action, reply, entry.id, entry.attributes | state)
        return entry

    def _written(self, spec: RestSpec, operation: Operation, reply: Reply, id: str | None, intended: Record) -> Entry:
        """The entry after a write: from the API's answer, or read back when the answer has none.

        `intended` is what the write was meant to leave; a dry run, which sent nothing, answers that.
        """
        if reply.status == NOT_SENT:
            id = id or DRY_RUN_ID
            return Entry(id, intended | {spec.id_attribute.lower(): [id]}, id)
        document = _record_in(reply.body, operation.record)
        if document is not None and get_field(document, spec.id_attribute) not in (None, ""):
            return self._entry(spec, document)
        id = id or _id_from_location(reply.headers.get("Location"))
        if not id:
            # The API took the write (2xx) and did not say which record it made: in doubt, so
            # the service looks the record up by its unique key, rather than answer 500 for a
            # user that now exists.
            log.error(
                "API %s %s answered %s with no %s and no Location: say where the record is with the"
                " map's `record:` for that operation",
                operation.method,
                operation.path,
                reply.status,
                spec.id_attribute,
            )
            raise Unavailable(
                f"the API's answer to {operation.method} {operation.path} did not say which record it made",
                in_doubt=True,
            )
        return self.get(spec.kind, id, [])

    # --- references ----------------------------------------------------------------------------

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """The API's reference fields hold ids: a locator is the id, and an id must exist (one GET each)."""
        resolved: dict[Ref, Ref] = {}
        missing: dict[str, list[str]] = {}
        for ref in dict.fromkeys(refs):
            if ref.locator and not ref.id:
                resolved[ref] = Ref(ref.kind, ref.locator, ref.locator)
            elif ref.id:
                try:
                    self.get(ref.kind, ref.id, [])
                except NotFound:
                    missing.setdefault(ref.kind, []).append(ref.id)
                    continue
                resolved[ref] = Ref(ref.kind, ref.id, ref.id)
        for kind, ids in missing.items():
            raise UnknownReference(kind, ids)
        return resolved

    def close(self) -> None:
        self.transport.close()

    # --- helpers -------------------------------------------------------------------------------

    def _not_found(self, spec: RestSpec) -> None:
        """A 404 means "no such record" only from an API whose list call answers. With a wrong
        base_url every call is 404, and Entra takes a 404 for a user gone (InvalidAnchor: the
        job must be restarted) or, to its lookup, as a reason to quarantine the job. So the
        first 404 for a kind asks for one record of its list: a 404 there too is Unavailable."""
        listing = spec.target.list
        if listing.path in self._answering:
            return
        try:
            self.transport.request("GET", listing.path, params=first_record(listing), idempotent=True)
        except NotFound:
            log.error(
                "API GET %s%s answers 404: check rest.base_url and the map's list path",
                self.transport.base_url,
                listing.path,
            )
            raise Unavailable(f"the API has no {listing.path}: its base_url or the map's list path is wrong") from None
        self._answering.add(listing.path)

    def _call(
        self, operation: Operation, *, body: Any = NO_BODY, headers: dict[str, str] | None = None, **values: str
    ) -> Reply:
        path = fill_path(operation.path, **values)
        body = NO_BODY if operation.body is None else body
        if self.planned is not None and operation.method != "GET":
            self.planned.append(
                PlannedCall(operation.method, self.transport.base_url + path, None if body is NO_BODY else body)
            )
            return Reply(NOT_SENT, None)
        return self.transport.request(
            operation.method,
            path,
            body=body,
            idempotent=operation.idempotent,
            gone_is_done=operation.method == "DELETE",
            headers=headers,
        )

    def _entry(self, spec: RestSpec, document: dict, etag: str | None = None) -> Entry:
        record = read_record(document, spec)
        ids = record.get(spec.id_attribute.lower())
        if not ids:
            raise BackendError(f"the API returned a {spec.kind[:-1]} without {spec.id_attribute}")
        id = str(ids[0])
        return Entry(
            id=id,
            attributes=record,
            locator=id,
            created=iso_time(get_field(document, spec.created_attribute)) if spec.created_attribute else None,
            modified=iso_time(get_field(document, spec.modified_attribute)) if spec.modified_attribute else None,
            version=self._version(spec.target, document, etag),
        )

    @staticmethod
    def _version(target: RestTarget, document: dict, etag: str | None) -> str | None:
        concurrency = target.concurrency
        if concurrency is None:
            return None
        if concurrency.etag:
            return etag
        found = get_field(document, concurrency.version) if concurrency.version else None
        return None if found is None else str(found)

    @staticmethod
    def _typed_id(spec: RestSpec, target: RestTarget, id: str) -> Any:
        return json_value(id, target.type_of(spec.id_attribute), spec.id_attribute)


def _record_in(body: Any, where: str | None) -> dict | None:
    found = body if where is None else get_field(body, where)
    return found if isinstance(found, dict) else None


def _id_from_location(location: str | None) -> str | None:
    if not location:
        return None
    last = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    return unquote(last) or None


def _bodily(record: Record, target: RestTarget) -> Record:
    """What a create or update body writes: everything but the fields only an action sets."""
    return {name: values for name, values in record.items() if name not in target.action_fields}


def _in_state(record: Record, action: Action) -> bool:
    for name, value in action.when:
        values = record.get(name.lower()) or []
        if not values or str(values[0]).lower() != value.lower():
            return False
    return True
