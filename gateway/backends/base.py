"""The one interface every backend implements, and the errors it may raise.

A backend only does I/O: it stores and finds records, turns `Query` trees into its own query
language and `Ref` ids into its own references. It never sees SCIM JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from marshmallow import Schema

from gateway.store import Change, Entry, Page, Query, Record, Ref

if TYPE_CHECKING:  # the map a target checks itself against; a type, never imported at run time
    from gateway.checks import Finding
    from gateway.mapping.model import ResourceMap


Problems = list[tuple[tuple, str]]  # what a map section says is wrong: (path inside it, message)


class Target(Protocol):
    """A map's section for its backend, for one resource (`users.ldap:`, `users.rest:`), as the
    backend kind's `target_schema` loads it. The mapping layer asks it only these questions."""

    @property
    def incremental_attributes(self) -> frozenset[str]:
        """Attributes whose changes must be sent value by value (never a whole-list replace)."""
        ...

    def indexed(self, attribute: str) -> bool | None:
        """Can the backend find by this attribute without reading everything? None: the map does not say."""
        ...

    @property
    def writes_changes(self) -> bool:
        """Can the backend write a change without reading the entry first (LDAP's modify)? An
        API that replaces whole records reads them anyway, and skips a write that changes nothing."""
        ...

    @property
    def renaming_attributes(self) -> frozenset[str]:
        """Attributes a change of which renames or moves the entry: the backend needs the whole
        record after the change to write it (so such a PATCH is never sent without a read)."""
        ...

    def problems_with(self, resource_map: ResourceMap) -> Problems:
        """The section checked against the map's lines: (path inside the section, message)."""
        ...


T = TypeVar("T", bound=Target, covariant=True)


@dataclass(frozen=True)
class StoreSpec(Generic[T]):
    """What a backend needs to know about one kind of object ("users" or "groups")."""

    kind: str
    target: T  # the backend's own section of the map (an LdapTarget, a RestTarget)
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


@dataclass(frozen=True)
class Update:
    """One write to an existing entry, stated once: `changes` take `before` to `after`.

    `before` is the entry as the service read it, and `after` the whole record it must hold
    afterwards (a backend that renames by value, or can only replace a whole record, needs it).
    A PATCH that only adds or removes members is sent without reading the entry first (a group
    may have 100,000 of them): then `before` carries only the id, `after` is None, and the
    changes are value by value.
    """

    before: Entry
    changes: tuple[Change, ...]
    after: Record | None = None

    @property
    def id(self) -> str:
        return self.before.id


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
    @classmethod
    def no_such(cls, kind: str, id: str) -> NotFound:
        """An id that names nothing of this kind, said one way: "no user with id '42'"."""
        return cls(f"no {kind[:-1]} with id {id!r}")


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
    `Retry-After`); without it the tenant's configured value is used. `in_doubt`: a write was
    sent and its answer never came, so it may or may not have been done (the answer and the
    log must say the outcome is unknown).
    """

    def __init__(self, message: str, retry_after: int | None = None, in_doubt: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.in_doubt = in_doubt


class Contended(Unavailable):
    """The downstream answers, but the record kept changing under the write (every retry found a
    newer version): 503 for the client to retry, and no sign that the downstream is down."""


class Throttled(BackendError):
    """The downstream system rate-limited the gateway (HTTP 429); retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedQuery(BackendError):
    """The downstream system cannot answer this query without reading everything it holds."""


class TooManyResults(UnsupportedQuery):
    """The query matches more records than the backend will read to answer it; narrow it."""


class Backend(Protocol):
    """Constructed with the StoreSpecs of a map; every call names the kind it works on."""

    specs: dict[str, StoreSpec[Any]]

    def create(self, kind: str, record: Record, attributes: list[str]) -> Entry:
        """Add an entry; AlreadyExists if its name is taken. The service has checked uniqueness."""

    def get(self, kind: str, id: str, attributes: list[str]) -> Entry:
        """One entry by id; reference values come back as Refs with a locator and no id."""

    def search(self, kind: str, query: Query, attributes: list[str], start: int, count: int) -> Page:
        """Entries matching `query`, from the 1-based `start`, at most `count`, with the total;
        UnsupportedQuery, before any I/O, for a query the downstream system cannot answer."""

    def modify(self, kind: str, update: Update, attributes: list[str] | None) -> Entry:
        """Apply the update (renaming when the naming values changed); return the entry after,
        with `attributes` (None: the caller needs no answer, only the id is certain)."""

    def delete(self, kind: str, id: str) -> str:
        """Remove an entry; return its locator (a DN, an API id) for the audit trail."""

    def resolve(self, refs: Iterable[Ref]) -> dict[Ref, Ref]:
        """Complete Refs: ids for locators, locators for ids; UnknownReference for unknown ids."""

    def close(self) -> None: ...


class PreviewBackend(Backend, Protocol):
    """A Backend that never does I/O, for `mapping preview` and a map's `examples:`: it keeps
    entries in memory and writes down, in its own language, what the real backend would have
    sent (LDIF for LDAP, HTTP requests for a REST API)."""

    current_id: str  # the id of the entry a previewed PATCH starts from

    def seed(self, kind: str, id: str, record: Record) -> Entry:
        """Put in place the entry a PATCH starts from."""

    def entry(self, kind: str, id: str) -> Entry | None:
        """An entry as it is after the requests."""

    def transcript(self) -> str:
        """Everything that would have been sent, in order."""


class NoPreview(Exception):
    """This backend has no dry run (yet): its maps can be checked, not previewed."""


class BackendSettings(Protocol):
    """A tenant's block for one backend kind (LdapSettings, RestSettings)."""

    @property
    def retry_after(self) -> int:
        """Seconds Entra is told to wait when the backend is down and gives no hint of its own."""
        ...


S = TypeVar("S", bound=BackendSettings)
B = TypeVar("B", bound=Backend)  # the kind's own backend class (LdapBackend), which its probe takes


@dataclass(frozen=True)
class BackendKind(Generic[S, B]):
    """Everything the rest of the gateway knows about one kind of backend, declared once.

    The map's `backend:` names a kind; the tenant's settings block and each resource's map
    section carry the same name. `backends/registry.py` lists the kinds; adding a backend is
    a package that declares its kind (as ldap/kind.py does) and one line there.
    """

    name: str  # "ldap": the map's `backend:`, the tenant's settings block, each resource's section
    what: str  # what it talks to, for messages: "LDAP", "a REST API"
    settings_schema: type[Schema]  # the tenant's block
    load_settings: Callable[[dict, Path], S]  # the validated block -> settings; ValueError says what is wrong
    target_schema: type[Schema]  # a resource's section of the map; loads a target_class
    target_class: type[Target]  # what the section loads into (the type check holds it to Target)
    make: Callable[[S, dict[str, StoreSpec[Any]]], B]
    attribute_pattern: str  # a regular expression every attribute name of a record must match
    noun: str  # what the map's right-hand side is called in messages: "directory attribute"
    section: str  # the backend's own section of a map, with its article, for messages: "an 'ldap:' section"
    default_id: str = "id"  # the attribute holding the id when the map says no `id:`
    default_created: str | None = None
    default_modified: str | None = None
    preview: Callable[[dict[str, StoreSpec[Any]]], PreviewBackend] | None = None  # None: no dry run
    # Hooks for operations: the online checks of a tenant's settings and map sections against the
    # live system (`scim-gateway check`, backends/<kind>/check.py: each passed, warned or failed
    # with a fix, or could not be told), and a readiness probe of a running backend within a timeout in
    # seconds (`/readyz`; raises a BackendError when it is not ready). None: the kind has none yet.
    check: Callable[[S, dict[str, StoreSpec[Any]]], list[Finding]] | None = None
    probe: Callable[[B, float], None] | None = None

    @property
    def a_noun(self) -> str:
        return f"an {self.noun}" if self.noun[0] in "aeiouAEIOU" else f"a {self.noun}"

    def preview_backend(self, specs: dict[str, StoreSpec[Any]]) -> PreviewBackend:
        if self.preview is None:
            raise NoPreview(f"the {self.name} backend has no preview yet")
        return self.preview(specs)
