"""A connection that times and counts every operation it sends: the one place the LDAP backend
is measured (observability/metrics.py), whichever code path sent the operation and whichever
client (ldap3, or libldap.py's) carries it.

The outcome is the directory's answer: `ok`, `refused` (any other result code: no such object,
an assertion that failed, a constraint), or `unavailable` (the connection broke or timed out).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import ldap3
from ldap3.core import exceptions as ldap_errors

from gateway.backends.ldap.encoded import EncodedRequests
from gateway.observability import metrics

SIZE_LIMIT_EXCEEDED = 4  # a search with size_limit asked for no more: that is an answer, not a refusal


if TYPE_CHECKING:
    from ldap3 import Connection as _Client  # what Measured wraps, for mypy (libldap.py's has the same methods)
else:
    _Client = object


class Measured(_Client):
    """Put before the client's connection class: `class X(Measured, ldap3.Connection)`."""

    def bind(self, *args, **kwargs) -> Any:
        return self._measured("bind", super().bind, args, kwargs)

    def search(self, *args, **kwargs) -> Any:
        return self._measured("search", super().search, args, kwargs)

    def add(self, *args, **kwargs) -> Any:
        return self._measured("add", super().add, args, kwargs)

    def modify(self, *args, **kwargs) -> Any:
        return self._measured("modify", super().modify, args, kwargs)

    def modify_dn(self, *args, **kwargs) -> Any:
        return self._measured("modify_dn", super().modify_dn, args, kwargs)

    def delete(self, *args, **kwargs) -> Any:
        return self._measured("delete", super().delete, args, kwargs)

    def _measured(self, operation: str, call, args: tuple, kwargs: dict) -> Any:
        started = time.perf_counter()
        try:
            answer = call(*args, **kwargs)
        except (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPResponseTimeoutError):
            metrics.count_backend("ldap", operation, "unavailable", time.perf_counter() - started)
            raise
        except Exception:
            metrics.count_backend("ldap", operation, "failed", time.perf_counter() - started)
            raise
        code = (self.result or {}).get("result", 0)
        ok = code == 0 or (operation == "search" and code == SIZE_LIMIT_EXCEEDED)
        metrics.count_backend("ldap", operation, "ok" if ok else "refused", time.perf_counter() - started)
        return answer


class MeasuredConnection(Measured, EncodedRequests, ldap3.Connection):
    pass
