"""The REST backend's dry run for `mapping preview`: the very calls it would make, as HTTP.

The real RestBackend runs in its dry-run mode (writes are written down, not sent) on a
transport that never touches the network: it answers reads from the entries the preview holds
(the current record a PATCH starts from, and what earlier writes left) and finds nothing else.
So the preview shows exactly the bodies, methods and paths the server would send, without a
tenant, an API key or the API itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.backends.base import NotFound, Update
from gateway.backends.rest.backend import DRY_RUN_ID, RestBackend
from gateway.backends.rest.records import fill_path, set_field, write_fields
from gateway.backends.rest.target import RestSpec
from gateway.backends.rest.transport import NO_BODY, Reply
from gateway.store import Entry, Page, Query, Record, Ref


class _Offline:
    """A transport that answers GETs from the preview's entries and sends nothing."""

    def __init__(self, documents: dict[str, dict], specs: dict[str, RestSpec]):
        self.base_url = ""  # calls print as "POST /employees": paths below the tenant's base_url
        self.documents = documents  # read path -> the API's record
        self.specs = specs

    def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = NO_BODY, **_
    ) -> Reply:
        if path in self.documents:
            return Reply(200, self.documents[path])
        for spec in self.specs.values():
            listing = spec.target.list
            if listing is not None and path == listing.path:
                return Reply(200, _empty_list(listing))
        raise NotFound(f"the preview holds no record at {path}")

    def close(self) -> None:
        return None


def _empty_list(listing) -> Any:
    if listing.items is None:
        return []
    document: dict = {}
    set_field(document, listing.items, [])
    if listing.total:
        set_field(document, listing.total, 0)
    return document


class RestPreview:
    current_id = "1001"  # the record a PATCH starts from; digits, as most HR APIs' ids are

    def __init__(self, specs: dict[str, RestSpec]):
        self.specs = specs
        self.documents: dict[str, dict] = {}
        self.entries: dict[tuple[str, str], Entry] = {}
        self.backend = RestBackend(_Offline(self.documents, specs), specs, dry_run=True)

    # --- what the preview shows ----------------------------------------------------------------

    def transcript(self) -> str:
        return "\n".join(_http(call.method, call.url, call.body) for call in self.backend.planned or [])

    def entry(self, kind: str, id: str) -> Entry | None:
        return self.entries.get((kind, id.lower()))

    def seed(self, kind: str, id: str, record: Record) -> Entry:
        """Put the record a PATCH starts from where the API's read call would find it."""
        spec = self.specs[kind]
        target = spec.target
        located = {
            k: [Ref(v.kind, v.id, v.id) if isinstance(v, Ref) else v for v in values] for k, values in record.items()
        }
        document = write_fields(located, spec, target, located.keys(), nulls=False)
        set_field(document, spec.id_attribute, id)
        for key in target.action_fields:  # state an action call sets (e.g. status: terminated)
            if located.get(key):
                set_field(document, spec.name(key), located[key][0])
        self.documents[fill_path(target.read.path, id=id)] = document
        entry = self.backend.get(kind, id, [])
        self.entries[(kind, id.lower())] = entry
        return entry

    # --- the Backend interface: the real backend, remembering what it would leave -------------

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        entry = self.entry(kind, id)
        if entry is None:
            raise NotFound.no_such(kind, id)
        return entry

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        return self.backend.search(kind, query, attributes, start, count)

    def create(self, kind: str, record: Record, attributes: list[str]) -> Entry:
        return self._keep(kind, self.backend.create(kind, record, attributes))

    def modify(self, kind: str, update: Update, attributes: list[str] | None) -> Entry:
        return self._keep(kind, self.backend.modify(kind, update, attributes))

    def delete(self, kind: str, id: str) -> str:
        removed = self.backend.delete(kind, id)
        self.entries.pop((kind, id.lower()), None)
        return removed

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """The API holds other records' ids, which are their SCIM ids: nothing to look up."""
        return {ref: Ref(ref.kind, ref.id or ref.locator, ref.locator or ref.id) for ref in refs}

    def close(self) -> None:
        return None

    def _keep(self, kind: str, entry: Entry) -> Entry:
        self.entries[(kind, (entry.id or DRY_RUN_ID).lower())] = entry
        return entry


def _http(method: str, url: str, body: Any) -> str:
    if body is None:
        return f"{method} {url}\n"
    text = json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True)
    return f"{method} {url}\nContent-Type: application/json\n\n{text}\n"
