"""Which dry-run backend previews a map's writes (`mapping preview` and a map's `examples:`).

A preview backend is a Backend that never does I/O: it keeps entries in memory and writes
down, in its own language, what the real backend would have sent (LDIF for LDAP; HTTP
requests for a REST backend). On top of the Backend interface it offers:

    seed(kind, id, record) -> Entry     put in place the entry a PATCH starts from
    entry(kind, id) -> Entry | None     an entry as it is after the requests
    transcript() -> str                 everything that would have been sent, in order
"""

from __future__ import annotations

from typing import Protocol

from gateway.backends.base import Backend, StoreSpec
from gateway.store import Entry, Record


class NoPreview(Exception):
    """This backend has no dry run (yet): its maps can be checked, not previewed."""


class PreviewBackend(Backend, Protocol):
    def seed(self, kind: str, id: str, record: Record) -> Entry: ...

    def entry(self, kind: str, id: str) -> Entry | None: ...

    def transcript(self) -> str: ...


def preview_backend(backend: str, specs: dict[str, StoreSpec]) -> PreviewBackend:
    if backend == "ldap":
        from gateway.backends.ldap.preview import LdapPreview

        return LdapPreview(specs)
    if backend == "rest":
        from gateway.backends.rest.preview import RestPreview

        return RestPreview(specs)
    raise NoPreview(f"the {backend} backend has no preview yet")
