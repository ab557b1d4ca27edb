"""The optional LDAP client on libldap (python-ldap): the same connection, cheaper to run.

ldap3 is pure Python: reading an answer costs it about a hundred µs of CPU per operation (its
requests the gateway writes itself, wire.py, and its entries' dicts, decoded.py). python-ldap
hands all of it to OpenLDAP's C library: a request of Entra's cycle costs the gateway about a
sixth less on it (test_instructions.py). It is an extra (`pip install 'scim-gateway[python-ldap]'`, which builds
against libldap2-dev and libsasl2-dev) chosen per tenant with `ldap: {client: python-ldap}`.

The LDAP backend speaks to one connection shape, the part of `ldap3.Connection` it uses:
`open`, `start_tls`, `bind`, `unbind`, `search`, `add`, `modify`, `modify_dn`, `delete`, and what
they leave behind (`result`, `response`, `socket`, `closed`), with controls as (oid, criticality,
BER value) triples. `LibldapConnection` is that shape on python-ldap, so the backend, its
controls and its tests are the same for both clients; nothing outside this file knows which one
runs. What it mirrors of ldap3 (without a schema, as the serving pool reads none):
- `result`: a dict with `result` (the code), `description` (ldap3's name for it), `message`,
  `dn` (the matched DN) and `controls` ({oid: {"value": ...}}: post-read and paged-results
  decoded as ldap3 does, any other control's value as its BER bytes);
- `response`: `{"type": "searchResEntry", "dn", "attributes"}`, each value text when it is
  UTF-8 and bytes when not, attribute names as the directory spells them (case-insensitive);
- AD's ranged values (`member;range=0-1499`) gathered under the plain name, like ldap3's
  `auto_range`;
- a failed operation returns False and leaves its code in `result`; a lost connection or an
  answer that did not come in time raises ldap3's exceptions, which the pool already handles.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

import ldap
from ldap3.core import exceptions as ldap_errors
from ldap3.core.results import RESULT_CODES
from ldap3.utils.ciDict import CaseInsensitiveDict

from gateway.backends.ldap import ber
from gateway.backends.ldap.measured import Measured
from gateway.backends.ldap.paging import PAGED_RESULTS
from gateway.backends.ldap.results import POST_READ

SCOPES = {"BASE": ldap.SCOPE_BASE, "LEVEL": ldap.SCOPE_ONELEVEL, "SUBTREE": ldap.SCOPE_SUBTREE}
MODIFY = {"MODIFY_ADD": ldap.MOD_ADD, "MODIFY_DELETE": ldap.MOD_DELETE, "MODIFY_REPLACE": ldap.MOD_REPLACE}
MODIFY["MODIFY_INCREMENT"] = ldap.MOD_INCREMENT
RANGE = ";range="
TLS_1_2 = 0x303
TLS_REFUSED = (
    "libldap does not say why; a certificate that the CA file (ca_file, or the system's CAs) does not"
    " vouch for, or that is issued for another name than the URL's host, ends like this"
)
LDAPS_NAMED = (
    "client: python-ldap checks an ldaps:// certificate against the URL's host only, not server_name:"
    " put the certificate's name in the url, use an ldap:// url with start_tls: true, or client: ldap3"
)


class _Raw(ldap.controls.ResponseControl):
    def decodeControlValue(self, encodedControlValue: bytes) -> None:
        self.encodedControlValue = encodedControlValue


class _EveryControlRaw(dict):
    """Response controls kept as their BER bytes: python-ldap would decode those it knows with
    pyasn1, at a cost like ldap3's (ber.py reads the two the backend needs). Not empty: python-ldap
    takes an empty mapping for "the controls I know"."""

    def __missing__(self, oid: str) -> type[_Raw]:
        return _Raw


RAW = _EveryControlRaw(raw=_Raw)


class _Socket:
    """What the pool does with a connection's socket (connection.py), on libldap's descriptor:
    `settimeout` bounds each wait for an answer (libldap's own timeout: its descriptor stays
    blocking), `shutdown` wakes a thread waiting on it (the watchdog), `fileno` for select."""

    def __init__(self, connection: LibldapConnection, descriptor: int):
        self._connection = connection
        self._descriptor = descriptor

    def fileno(self) -> int:
        return self._descriptor

    def settimeout(self, timeout: float | None) -> None:
        self._connection.timeout = timeout

    def shutdown(self, how: int) -> None:
        # On a duplicate of the descriptor: shutdown acts on the socket both share, and closing the
        # duplicate leaves libldap's own. (The watchdog calls this from its thread, while the
        # request's thread waits inside libldap: nothing here may take python-ldap's lock.)
        shared = socket.socket(fileno=os.dup(self._descriptor))
        try:
            shared.shutdown(how)
        finally:
            shared.close()

    def close(self) -> None:
        """unbind() closes libldap's socket; this handle owns nothing."""


class LibldapConnection:
    """The LDAP backend's connection shape on python-ldap; see the module's docstring."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        connect_timeout: float,
        receive_timeout: float,
        ca_file: str | None = None,
        server_name: str | None = None,
    ):
        self.url = url
        self.user = user
        self.password = password
        self.connect_timeout = connect_timeout
        self.timeout: float | None = receive_timeout
        self.ca_file = ca_file
        self.server_name = server_name
        self.result: dict[str, Any] = {}
        self.response: list[dict] = []
        self.closed = True
        self._ldap: Any = None
        self._descriptor: int | None = None  # read once connected; the watchdog needs it lock-free

    def __repr__(self) -> str:
        return f"LibldapConnection({self.url!r}, {self.user!r}, password=***)"

    @property
    def socket(self) -> _Socket | None:
        return None if self.closed or self._descriptor is None else _Socket(self, self._descriptor)

    # Connecting

    def open(self) -> None:
        handle = self._initialize()
        handle.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        handle.set_option(ldap.OPT_REFERRALS, 0)
        handle.set_option(ldap.OPT_NETWORK_TIMEOUT, self.connect_timeout)
        handle.set_option(ldap.OPT_TIMEOUT, self.connect_timeout)  # StartTLS waits no longer (the rest: _run)
        handle.set_option(ldap.OPT_RESTART, 1)  # a signal (gunicorn's) must not fail a read
        # TLS as ldap3's VerifiedTls does it: the certificate checked against the CA file (or the
        # system's CAs) and the URL's host, TLS 1.2 at least. NEWCTX applies the options; last.
        handle.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        handle.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, TLS_1_2)
        if self.ca_file:
            handle.set_option(ldap.OPT_X_TLS_CACERTFILE, self.ca_file)
        handle.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        self._ldap = handle
        self.closed = False

    def _initialize(self) -> Any:
        if not self.server_name:
            return ldap.initialize(self.url)
        # libldap checks the certificate against the URL's host and has no option to name
        # another: connect to the URL's address here and hand libldap the socket, with a URL
        # that carries the name the certificate must have.
        parsed = urlparse(self.url)
        if parsed.scheme.lower() == "ldaps":  # libldap starts TLS on a socket it is handed only by StartTLS
            raise ldap_errors.LDAPSocketOpenError(LDAPS_NAMED)
        port = parsed.port or 389
        try:
            connected = socket.create_connection((parsed.hostname, port), timeout=self.connect_timeout)
        except OSError as error:
            raise ldap_errors.LDAPSocketOpenError(f"cannot connect to {parsed.hostname}:{port}: {error}") from None
        connected.settimeout(None)  # libldap reads it blocking, with its own timeouts
        return ldap.initialize(f"{parsed.scheme}://{self.server_name}:{port}", fileno=connected.detach())

    def start_tls(self) -> bool:
        self._run("start_tls", self._ldap.start_tls_s)
        return True

    def bind(self) -> bool:
        return self._run("bind", self._ldap.simple_bind, self.user, self.password)

    def unbind(self) -> None:
        """Close the connection, a broken one too (libldap still holds its socket)."""
        handle, self._ldap = self._ldap, None
        self.closed = True
        if handle is not None:
            try:
                handle.unbind_ext()
            except ldap.LDAPError:
                pass

    # Operations

    def search(
        self,
        search_base: str,
        search_filter: str,
        search_scope: str = "SUBTREE",
        attributes: list[str] | str | None = None,
        size_limit: int = 0,
        controls: list | None = None,
        paged_size: int | None = None,
        paged_cookie: bytes | None = None,
    ) -> bool:
        sent = list(controls or [])
        if paged_size is not None:
            sent.append((PAGED_RESULTS, False, ber.paged_request(paged_size, paged_cookie or b"")))
        wanted = [attributes] if isinstance(attributes, str) else list(attributes) if attributes else None
        self.response = []
        self._run(
            "search",
            self._ldap.search_ext,
            search_base,
            SCOPES[search_scope],
            search_filter,
            wanted,
            0,
            _controls(sent),
            None,
            -1,
            size_limit,
        )
        self._gather_ranges()
        return bool(self.response)  # as ldap3's: whether anything was found

    def add(self, dn: str, object_class=None, attributes: dict | None = None, controls: list | None = None) -> bool:
        values = dict(attributes or {})
        if object_class:
            values["objectClass"] = object_class
        entry = [(name, _encoded(value)) for name, value in values.items()]
        return self._run("add", self._ldap.add_ext, dn, entry, _controls(controls))

    def modify(self, dn: str, changes: dict, controls: list | None = None) -> bool:
        modifications = [
            (MODIFY[operation], name, _encoded(values) or None)
            for name, operations in changes.items()
            for operation, values in _operations(operations)
        ]
        return self._run("modify", self._ldap.modify_ext, dn, modifications, _controls(controls))

    def modify_dn(
        self,
        dn: str,
        relative_dn: str,
        delete_old_dn: bool = True,
        new_superior: str | None = None,
        controls: list | None = None,
    ) -> bool:
        return self._run(
            "modify_dn",
            self._ldap.rename,
            dn,
            relative_dn,
            new_superior,
            1 if delete_old_dn else 0,
            _controls(controls),
        )

    def delete(self, dn: str, controls: list | None = None) -> bool:
        return self._run("delete", self._ldap.delete_ext, dn, _controls(controls))

    # The answers

    def _run(self, operation: str, request, *args) -> bool:
        """Send a request and read its answers until the final result; True when it succeeded.
        The directory's refusal is left in `result`; a connection that broke or an answer that
        did not come in time raises ldap3's errors (the pool drops the connection)."""
        try:
            sent = request(*args)
            if self._descriptor is None:
                self._descriptor = self._ldap.get_option(ldap.OPT_DESC)
            if operation == "start_tls":
                controls: list = []
            elif operation == "search":
                while True:
                    kind, data, _, controls = self._ldap.result3(sent, 0, self._timeout(), RAW)
                    if kind == ldap.RES_SEARCH_ENTRY:
                        self.response += [_entry(dn, values) for dn, values in data]
                    elif kind != ldap.RES_SEARCH_REFERENCE:
                        break
            else:
                _, _, _, controls = self._ldap.result3(sent, 1, self._timeout(), RAW)
        except ldap.TIMEOUT:
            self.closed = True
            raise ldap_errors.LDAPResponseTimeoutError(f"no answer to the {operation} in time") from None
        except ldap.LDAPError as error:
            info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            code = info.get("result")
            if not isinstance(code, int) or code < 0:  # libldap's own: the connection, TLS, a local failure
                self.closed = True
                said = _said(info) or type(error).__name__
                if operation not in ("bind", "start_tls"):
                    raise ldap_errors.LDAPSocketReceiveError(said) from None
                if isinstance(error, ldap.SERVER_DOWN) and "errno" not in info:
                    # connected, then closed without an LDAP answer: what a web server does to a bind
                    raise NotLdap("the server closed the connection without an LDAP answer") from None
                if self.url.lower().startswith("ldaps:") or operation == "start_tls":
                    said += f" during the TLS handshake: {TLS_REFUSED}"
                raise ldap_errors.LDAPSocketOpenError(said) from None
            self.result = _result(code, info, info.get("ctrls"))
            return False
        self.result = _result(0, {}, controls)
        return True

    def _timeout(self) -> float:
        return -1 if self.timeout is None else max(self.timeout, 0.001)

    def _gather_ranges(self) -> None:
        """AD hands out at most 1,500 values of an attribute per read (`member;range=0-1499`):
        read the rest, range by range, and keep them all under the attribute's own name."""
        for entry in self.response:
            attributes = entry["attributes"]
            for name in [n for n in attributes if RANGE in n.lower()]:
                plain = name.partition(";")[0]
                values = list(attributes.pop(name))
                end = name.rsplit("-", 1)[-1]
                while end != "*":
                    found = self._read_values(entry["dn"], f"{plain};range={int(end) + 1}-*")
                    if found is None:
                        break
                    got_name, got = found
                    values += got
                    end = got_name.rsplit("-", 1)[-1] if RANGE in got_name.lower() else "*"
                attributes[plain] = values

    def _read_values(self, dn: str, wanted: str) -> tuple[str, list] | None:
        response, result = self.response, self.result
        try:
            self.response = []
            found = self._run("search", self._ldap.search_ext, dn, ldap.SCOPE_BASE, "(objectClass=*)", [wanted])
            if not found or not self.response or not self.response[0]["attributes"]:
                return None
            name, values = next(iter(self.response[0]["attributes"].items()))
            return name, list(values)
        finally:
            self.response, self.result = response, result


class NotLdap(ValueError):
    """The server at the URL did not answer in LDAP (connection.py says what that may mean)."""


def _said(info: dict) -> str:
    return " ".join(str(info.get(key) or "") for key in ("desc", "info")).strip()


def _result(code: int, info: dict, controls) -> dict[str, Any]:
    return {
        "result": code,
        "description": RESULT_CODES.get(code, str(code)) if code else "success",
        "message": str(info.get("info") or ""),
        "dn": str(info.get("matched") or ""),
        "controls": {oid: {"value": _control_value(oid, value)} for oid, value in _triples(controls)},
    }


def _control_value(oid: str, value: bytes | None):
    """Post-read and paged results as ldap3 decodes them; any other control's value as BER bytes."""
    try:
        return _decoded(oid, value)
    except ber.BerError as error:  # not what the directory promised: like a connection that broke
        raise ldap_errors.LDAPSocketReceiveError(f"the directory's {oid} control is not valid BER ({error})") from None


def _decoded(oid: str, value: bytes | None):
    if value is not None and oid == POST_READ:
        dn, attributes = ber.search_result_entry(value)
        return {"dn": dn, "result": _attributes(attributes)}
    if value is not None and oid == PAGED_RESULTS:
        size, cookie = ber.paged_response(value)
        return {"size": size, "cookie": cookie}
    return value


def _triples(controls) -> list[tuple[str, bytes | None]]:
    """(oid, value) of each control: _Raw objects from an answer, tuples from an error's `ctrls`."""
    found = []
    for control in controls or []:
        if isinstance(control, tuple):
            found.append((control[0], control[2]))
        else:
            found.append((control.controlType, control.encodedControlValue))
    return found


def _entry(dn: str, values: dict) -> dict:
    return {"type": "searchResEntry", "dn": dn, "attributes": _attributes(values)}


def _attributes(values: dict) -> CaseInsensitiveDict:
    attributes = CaseInsensitiveDict()
    for name, raw in values.items():
        attributes[name] = [_text(value) for value in raw]
    return attributes


def _text(value: bytes) -> str | bytes:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _encoded(values) -> list[bytes]:
    if values is None:
        return []
    if not isinstance(values, (list, tuple, set)):
        values = [values]
    return [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in values]


def _operations(operations) -> list[tuple[str, Any]]:
    """ldap3's `{attribute: [(operation, values)]}` or `{attribute: (operation, values)}`."""
    if isinstance(operations, tuple):
        return [operations]
    return list(operations)


def _controls(controls: list | None) -> list | None:
    """(oid, criticality, value) triples as libldap takes them."""
    if not controls:
        return None
    return [ldap.controls.RequestControl(oid, critical, value) for oid, critical, value in controls]


class MeasuredLibldap(Measured, LibldapConnection):
    """What the pool opens for `client: python-ldap`."""
