"""The one interface every backend implements, and the errors it may raise.

A backend only does I/O: it stores and finds records, turns `Query` trees into its own query
language and `Ref` ids into its own references. It never sees SCIM JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.store import Change, Entry, Page, Query, Record, Ref


@dataclass(frozen=True)
class StoreSpec:
    """What a backend needs to know about one kind of object ("users" or "groups")."""

    kind: str
    target: object  # the backend's own settings section from the map (e.g. LdapTarget)
    id_attribute: str
    created_attribute: str | None = None
    modified_attribute: str | None = None
    references: dict[str, str] = field(default_factory=dict)  # attribute -> kind it points at
    multi_valued: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)  # lower-case key -> the map's spelling
    # The attributes the map writes (lower case): what a backend that can only replace a whole
    # record (an HTTP PUT) sends when it is given changes without the record they lead to.
    written: frozenset[str] = frozenset()

    def name(self, key: str) -> str:
        return self.names.get(key, key)


class BackendError(Exception):
    """Base class; the message is safe to show to a SCIM client (no secrets, no internals).

    `locator`: the directory's key of the object it concerns, when the backend knows it (the
    DN a refused add would have had), for the audit trail and the request log.
    `in_doubt`: the request may have been applied (a timeout after it was sent); the audit
    trail records its outcome as unknown.
    """

    locator: str | None = None
    in_doubt: bool = False


class NotFound(BackendError):
    pass


class AlreadyExists(BackendError):
    pass


class InvalidData(BackendError):
    """The downstream system refused the values (syntax, schema, constraint)."""


class UnknownReference(BackendError):
    def __init__(self, kind: str, ids: list[str]):
        self.kind = kind
        self.ids = ids
        noun = "user" if kind == "users" else "group"
        super().__init__(f"no {noun} with id {', '.join(repr(i) for i in ids)}")


class Unavailable(BackendError):
    """The downstream system cannot be reached or timed out; the client should retry later.

    `retry_after` (seconds) is the downstream's own hint when it gave one (an HTTP API's
    `Retry-After`); without it the tenant's configured value is used.
    """

    def __init__(self, message: str, retry_after: int | None = None, in_doubt: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.in_doubt = in_doubt


class Throttled(BackendError):
    """The downstream system rate-limited the gateway (HTTP 429); retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedQuery(BackendError):
    """The downstream system cannot answer this query without reading everything it holds."""


class Backend(Protocol):
    """Constructed with the StoreSpecs of a map; every call names the kind it works on."""

    specs: dict[str, StoreSpec]

    def create(self, kind: str, record: Record, unique: Query | None, attributes: list[str]) -> Entry:
        """Add an entry; AlreadyExists if `unique` matches anything (or the name is taken)."""

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        """One entry by id; reference values come back as Refs with a locator and no id."""

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        """Entries matching `query`, from the 1-based `start`, at most `count`, with the total."""

    def modify(
        self,
        kind: str,
        entry: Entry,
        changes: list[Change],
        record: Record,
        attributes: list[str],
        unique: Query | None = None,
    ) -> Entry:
        """Apply changes (renaming when the naming values changed); return the entry after."""

    def delete(self, kind: str, id: str) -> str:
        """Remove an entry; return its locator (a DN, an API id) for the audit trail."""

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """Complete Refs: ids for locators, locators for ids; UnknownReference for unknown ids."""

    def close(self) -> None: ...
