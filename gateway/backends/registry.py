"""The backend kinds this gateway knows, by the name a map's `backend:` gives.

Everything that depends on the kind of backend (the tenant's settings block, a map section's
schema and checks, how attribute names are spelled, how the backend and its preview are made)
is declared once, in the kind (`BackendKind`, backends/base.py), and found here by name.
Adding a backend is adding its package, which declares its kind, and one line below.
"""

from __future__ import annotations

from typing import Any

from gateway.backends.base import BackendKind
from gateway.backends.ldap.kind import LDAP
from gateway.backends.rest.kind import REST

KINDS: dict[str, BackendKind[Any, Any]] = {kind.name: kind for kind in (LDAP, REST)}
DEFAULT = "ldap"  # what a map without `backend:` is for


def backend_kind(name: str) -> BackendKind[Any, Any]:
    """The kind a map's `backend:` names; KeyError for a name no kind has."""
    if name not in KINDS:
        raise KeyError(f"no backend named {name!r}")
    return KINDS[name]
