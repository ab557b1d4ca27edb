"""ldap3's connection, its searches, adds, modifies and deletes written by wire.py.

ldap3 stays the client: it opens the socket, speaks TLS, binds, reads and decodes every answer,
follows referrals and AD's ranged values, and sends every other operation. Only the writing of
these four requests changes: ldap3 builds a pyasn1 tree, encodes it and decodes it back into a
dict for its bookkeeping; `EncodedRequests` writes the same bytes directly (wire.py) and hands
ldap3 the same bookkeeping (the request dict its referral and auto-range code reads, the
message id it waits for). What a request does before it is sent (the DN made safe by ldap3's
`safe_dn`, objectClass values made unique, `last_error` cleared) and how its answer is read
are ldap3's own code paths, in the same order; only the last step of reading a search entry or
a post-read control, into ldap3's dicts, is decoded.py's (the same dicts, for less).

A request wire.py does not write (a filter it cannot read, a value of an unexpected type), and
any connection that is not the plain synchronous one without a schema, SASL, usage counting or
ldap3's own logging, goes through ldap3 unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ldap3 import DEREF_ALWAYS, SUBTREE
from ldap3.core.exceptions import LDAPSocketOpenError, LDAPSocketSendError, communication_exception_factory
from ldap3.core.results import RESULT_SUCCESS
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.conv import to_unicode
from ldap3.utils.dn import safe_dn
from ldap3.utils.log import BASIC, log_enabled

from gateway.backends.ldap import decoded, wire

DEREF = {"NEVER": 0, "SEARCH": 1, "FINDING_BASE": 2, "ALWAYS": 3}
OPERATIONS = {"MODIFY_ADD": 0, "MODIFY_DELETE": 1, "MODIFY_REPLACE": 2, "MODIFY_INCREMENT": 3, 0: 0, 1: 1, 2: 2, 3: 3}

if TYPE_CHECKING:
    from ldap3 import Connection as _Client
else:
    _Client = object


class EncodedRequests(_Client):
    """Put before ldap3.Connection: `class X(EncodedRequests, ldap3.Connection)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if type(self.strategy) is SyncStrategy:
            decoded.read_entries(self.strategy)  # and the entries in its answers read for less

    def search(
        self,
        search_base: str,
        search_filter: str,
        search_scope: str = SUBTREE,
        dereference_aliases: str = DEREF_ALWAYS,
        attributes: Any = None,
        size_limit: int = 0,
        time_limit: int = 0,
        types_only: bool = False,
        get_operational_attributes: bool = False,
        controls: Any = None,
        paged_size: int | None = None,
        paged_criticality: bool = False,
        paged_cookie: Any = None,
        auto_escape: bool | None = None,
    ) -> Any:
        ldap3_search = functools.partial(
            super().search,
            search_base, search_filter, search_scope, dereference_aliases, attributes, size_limit, time_limit,
            types_only, get_operational_attributes, controls, paged_size, paged_criticality, paged_cookie, auto_escape,
        )  # fmt: skip
        ldap3s_own = types_only or get_operational_attributes or paged_size is not None or auto_escape is not None
        if ldap3s_own or not self._plain():
            return ldap3_search()
        if not attributes:
            attributes = ["1.1"]
        elif isinstance(attributes, str):
            attributes = [attributes]
        base = self._safe(search_base) if search_base else search_base
        try:
            deref = DEREF[dereference_aliases]
            operation = wire.search_request(
                base, search_scope, deref, size_limit, time_limit, search_filter, list(attributes)
            )
            sent_controls = wire.controls_field(controls)
        except (wire.Unsupported, KeyError, TypeError):
            return ldap3_search()
        request = {
            "base": base,
            "scope": wire.SCOPES[search_scope],
            "dereferenceAlias": deref,
            "sizeLimit": size_limit,
            "timeLimit": time_limit,
            "typesOnly": False,
            "filter": search_filter,
            "attributes": list(attributes),
            "type": "searchRequest",
            "controls": controls,
        }
        with self.connection_lock:
            self._fire_deferred()
            response = self.post_send_search(self._send_encoded(operation, sent_controls, request))
            self._entries = []  # type: ignore[var-annotated]  # as ldap3 leaves it
            done = self.result["type"] == "searchResDone" and len(response) > 0
            self._note_failure(done)
            return self._prepare_return_value(done, response=True)

    def add(self, dn: str, object_class: Any = None, attributes: dict | None = None, controls: Any = None) -> Any:
        name = next((n for n in attributes or {} if n.lower() == "objectclass"), None)
        if object_class is not None or name is None or not self._plain():
            return super().add(dn, object_class, attributes, controls)
        assert attributes is not None
        classes = attributes[name] if isinstance(attributes[name], list | tuple | set) else [attributes[name]]
        unique = list(dict.fromkeys(to_unicode(c) for c in classes))  # ldap3 drops repeated classes too
        if not unique:
            return super().add(dn, object_class, attributes, controls)  # ldap3 refuses it: objectClass is mandatory
        sent = {n: (unique if n == name else values) for n, values in attributes.items()}
        encoded = self._encoded(dn, controls, lambda target: wire.add_request(target, sent))
        if encoded is None:
            return super().add(dn, object_class, attributes, controls)
        target, operation, sent_controls = encoded
        request = {"entry": target, "attributes": sent, "type": "addRequest", "controls": controls}
        return self._write(operation, sent_controls, request, "addResponse")

    def modify(self, dn: str, changes: dict, controls: Any = None) -> Any:
        listed = _changes(changes)
        if listed is None or not self._plain():
            return super().modify(dn, changes, controls)
        encoded = self._encoded(dn, controls, lambda target: wire.modify_request(target, listed))
        if encoded is None:
            return super().modify(dn, changes, controls)
        target, operation, sent_controls = encoded
        written = [
            {"operation": op, "attribute": {"type": name, "value": _listed(values)}} for op, name, values in listed
        ]
        request = {"entry": target, "changes": written, "type": "modifyRequest", "controls": controls}
        return self._write(operation, sent_controls, request, "modifyResponse")

    def delete(self, dn: str, controls: Any = None) -> Any:
        if not self._plain():
            return super().delete(dn, controls)
        encoded = self._encoded(dn, controls, wire.delete_request)
        if encoded is None:
            return super().delete(dn, controls)
        target, operation, sent_controls = encoded
        request = {"entry": target, "type": "delRequest", "controls": controls}
        return self._write(operation, sent_controls, request, "delResponse")

    def _plain(self) -> bool:
        """A connection whose requests wire.py may write: ldap3's synchronous strategy, no
        schema to check names against, no SASL, no usage counting, ldap3's log off."""
        return (
            type(self.strategy) is SyncStrategy
            and not (self.server and self.server.schema)
            and self.sasl_mechanism is None
            and not self.usage
            and not self.read_only
            and self.auto_escape
            and not log_enabled(BASIC)
        )

    def _safe(self, dn: str) -> str:
        """The DN as ldap3 sends it: made safe by its safe_dn when it checks names."""
        return safe_dn(dn) if self.check_names else dn

    def _encoded(self, dn: str, controls: Any, operation: Callable[[str], bytes]) -> tuple[str, bytes, bytes] | None:
        """A write's DN as ldap3 sends it, its operation and its controls, written by wire.py
        (`last_error` cleared first, as ldap3 does); None for a write ldap3 should write."""
        self.last_error = None
        target = self._safe(dn)
        try:
            return target, operation(target), wire.controls_field(controls)
        except (wire.Unsupported, TypeError):
            return None

    def _write(self, operation: bytes, controls: bytes, request: dict, answer: str) -> Any:
        with self.connection_lock:
            self._fire_deferred()
            self.post_send_single_response(self._send_encoded(operation, controls, request))
            self._entries = []
            done = self.result["type"] == answer and self.result["result"] == RESULT_SUCCESS
            self._note_failure(done)
            return self._prepare_return_value(done)

    def _send_encoded(self, operation: bytes, controls: bytes, request: dict) -> int:
        """ldap3's BaseStrategy.send and sending, with the message already written."""
        self.request = None
        if not self.listening:
            self.last_error = "unable to send message, socket is not open"  # type: ignore[assignment]  # ldap3's, untyped
            raise LDAPSocketOpenError(self.last_error)
        message_id = self.server.next_message_id()
        self.request = request
        self.strategy._outstanding[message_id] = request
        try:
            self.socket.sendall(wire.message(message_id, operation, controls))
        except OSError as error:
            self.last_error = "socket sending error" + str(error)  # type: ignore[assignment]
            raise communication_exception_factory(LDAPSocketSendError, type(error)(str(error)))(
                self.last_error
            ) from None
        return message_id

    def _note_failure(self, done: bool) -> None:
        if not done and self.result["result"] not in [RESULT_SUCCESS] and not self.last_error:
            self.last_error = self.result["description"]


def _changes(changes: Any) -> list[tuple[int, str, Any]] | None:
    """ldap3's modify changes ({name: (op, values)} or {name: [(op, values), ...]}) as
    (operation, name, values), in ldap3's order; None for anything ldap3 should judge itself."""
    if not isinstance(changes, dict) or not changes:
        return None
    listed = []
    for name, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2 and _operation(change[0]):
            change = [change]
        if not isinstance(change, list | tuple):
            return None
        for each in change:
            if not isinstance(each, list | tuple) or len(each) != 2 or not _operation(each[0]):
                return None
            listed.append((OPERATIONS[each[0]], name, each[1]))
    return listed


def _listed(values: Any) -> list:
    return list(values) if isinstance(values, list | tuple | set) else [values]


def _operation(value: Any) -> bool:
    return isinstance(value, str | int) and value in OPERATIONS
