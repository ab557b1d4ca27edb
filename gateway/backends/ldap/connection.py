"""LDAP connections: opened once per worker process, bound once, reused by every request.

Connections are created lazily (after gunicorn forks, never before) and kept in a small
per-process pool, one per concurrent request. A connection the server closed while it sat
idle is noticed before it is used (its socket turns readable) and replaced, so a write is
never sent on a dead connection and never has to be blindly retried.

Every step (connect, bind, each operation) gets `timeout` cut to what is left of the request's
deadline (gateway/deadline.py), and a watchdog shuts the socket down when that time is up, so
a frozen or trickling directory holds a thread no longer than the request may last. A write
whose answer never came is `Unavailable(in_doubt=True)`: it may have been done.
"""

from __future__ import annotations

import logging
import math
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar, cast
from urllib.parse import urlparse

import ldap3
from ldap3.core import exceptions as ldap_errors

from gateway import deadline
from gateway.backends.base import Unavailable
from gateway.backends.ldap import capabilities
from gateway.backends.ldap.measured import MeasuredConnection
from gateway.backends.ldap.settings import LdapSettings
from gateway.backends.ldap.tls import VerifiedTls
from gateway.backends.watchdog import WATCHDOG, shut_down
from gateway.observability import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConnectionPool:
    def __init__(self, settings: LdapSettings, get_info=ldap3.NONE, client: str | None = None):
        """`client`: ldap3 or python-ldap (libldap.py); default: the settings' (check.py reads
        the schema, which only ldap3 parses)."""
        self.settings = settings
        self.client = client or settings.client
        parsed = urlparse(settings.url)
        ldaps = parsed.scheme.lower() == "ldaps"
        tls = VerifiedTls(settings.server_name or settings.host, settings.ca_file) if settings.encrypted else None
        self._server_options = {
            "port": parsed.port or (636 if ldaps else 389),
            "use_ssl": ldaps,
            "tls": tls,
            "get_info": get_info,  # serving: no schema fetch, ever (the map says what attributes exist)
        }
        self.server = ldap3.Server(settings.host, connect_timeout=settings.timeout, **self._server_options)
        self._idle: list[ldap3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.opened = 0  # connections opened by this process, for tests and metrics
        # What the directory supports: read from the root DSE of every connection opened
        # (the same server, so the latest reading is the one that counts).
        self.capabilities: capabilities.Capabilities = capabilities.UNKNOWN.overridden(settings.capabilities or {})

    def _open(self) -> ldap3.Connection:
        timeout = deadline.bounded(self.settings.timeout, "the directory")
        # connect_timeout belongs to the Server: one per opening when the request's deadline cuts
        # it (the shared one otherwise, which also keeps what a bind read: the schema, for check).
        server = self.server
        if timeout < self.settings.timeout:
            server = ldap3.Server(self.settings.host, connect_timeout=timeout, **self._server_options)
        connection = self._connection(server, timeout)
        started = time.monotonic()
        try:
            with self._bounded(connection, timeout):
                self._connect_and_bind(connection)
                self._learn(capabilities.read(connection))
        except (ldap_errors.LDAPException, KeyError, IndexError, ValueError, TypeError) as error:
            _discard(connection)
            raise self._not_opened(error, _timed_out(started, timeout), timeout) from None
        self.opened += 1
        metrics.DIRECTORY_CONNECTIONS.labels(self.settings.url).inc()
        return connection

    def _not_opened(self, error: Exception, timed_out: bool, timeout: float) -> Exception:
        """Why a connection could not be opened, in the log (with the URL) and as the error to raise."""
        name = type(error).__name__
        if timed_out:
            # A directory that accepts connections but does not answer (stopped, or stuck). The
            # watchdog's cut reads as "session terminated by server" on ldap3 and as an answer that
            # is not LDAP on python-ldap: neither is what happened.
            log.error(
                "the directory at %s did not answer within %.1f s (%s): is it running but stuck, or is"
                " a firewall dropping the connection?",
                self.settings.url,
                timeout,
                name,
            )
        elif isinstance(error, ldap_errors.LDAPException):
            # ldap3's messages name the socket or TLS failure (e.g. a certificate for another
            # host); they never carry the bind password.
            log.error("cannot reach the directory at %s: %s: %s", self.settings.url, name, error)
        else:
            # ldap3 decodes whatever comes back as LDAP; an HTTP answer ends in a KeyError here.
            log.error(
                "the server at %s did not answer in LDAP (%s): is the URL's host, port or scheme that of"
                " another service, such as a web server?",
                self.settings.url,
                name,
            )
        left = deadline.remaining()
        if left is not None and left < deadline.MINIMUM:
            return deadline.OutOfTime("the request ran out of time reaching the directory")
        return Unavailable("the directory did not answer in time" if timed_out else "the directory cannot be reached")

    def _connection(self, server: ldap3.Server, timeout: float) -> ldap3.Connection:
        if self.client == "python-ldap":
            from gateway.backends.ldap.libldap import MeasuredLibldap  # an extra: imported only when chosen

            libldap = MeasuredLibldap(
                self.settings.url,
                self.settings.bind_dn,
                self.settings.password,
                connect_timeout=timeout,
                receive_timeout=timeout,
                ca_file=self.settings.ca_file,
                server_name=self.settings.server_name,
            )
            return cast(ldap3.Connection, libldap)  # the same shape (libldap.py says which part)
        return MeasuredConnection(
            server,
            user=self.settings.bind_dn,
            password=self.settings.password,
            receive_timeout=max(1, math.ceil(timeout)),  # ldap3 packs it as an int; _bounded cuts it finer
            raise_exceptions=False,
            return_empty_attributes=False,
        )

    def _learn(self, found: capabilities.Capabilities) -> None:
        found = found.overridden(self.settings.capabilities or {})
        if found != self.capabilities or not self.opened:
            log.info(
                "directory at %s: %s (%s); assertion=%s post_read=%s permissive_modify=%s matched_values=%s",
                self.settings.url,
                found.directory,
                found.vendor or "no vendorName",
                found.assertion,
                found.post_read,
                found.permissive_modify,
                found.matched_values,
            )
        self.capabilities = found

    def _drop(self, connection: ldap3.Connection) -> None:
        """Close a connection _open() returned."""
        _discard(connection)
        metrics.DIRECTORY_CONNECTIONS.labels(self.settings.url).dec()

    def open(self) -> ldap3.Connection:
        """A new bound connection outside the pool (views.py keeps a sorted list on one); close it with `drop`."""
        return self._open()

    def bounded(self, connection: ldap3.Connection) -> AbstractContextManager[None]:
        """The bound run() puts on a connection, for one kept outside the pool (views.py's sorted
        lists): the request's time left, and the socket shut down when it is up."""
        return self._bounded(connection, deadline.bounded(self.settings.timeout, "the directory"))

    def drop(self, connection: ldap3.Connection) -> None:
        """Close a connection `open` returned."""
        self._drop(connection)

    def _connect_and_bind(self, connection: ldap3.Connection) -> None:
        connection.open()
        if self.settings.start_tls:
            connection.start_tls()  # before the bind: the password only ever travels encrypted
        if not connection.bind():
            result = connection.result or {}
            log.error(
                "LDAP bind to %s as %s refused: %s",
                self.settings.url,
                self.settings.bind_dn,
                result.get("description"),
            )
            connection.unbind()
            raise Unavailable("the directory refused the gateway's credentials")

    @contextmanager
    def _bounded(self, connection: ldap3.Connection, timeout: float) -> Iterator[None]:
        """Every read on the connection waits at most `timeout`, and the socket is shut down when
        it is up (a read that trickles along, or several reads, end then too)."""
        sock = getattr(connection, "socket", None)
        if sock is not None:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass  # closed under us (a kept list's idle connection): the read fails and says so
        with WATCHDOG.armed(WATCHDOG.clock() + timeout, lambda: _shut_down(connection)):
            yield

    def _acquire(self) -> ldap3.Connection:
        with self._lock:
            if os.getpid() != self._pid:  # forked: the parent's sockets are not ours to use
                self._idle.clear()
                self._pid = os.getpid()
            while self._idle:
                connection = self._idle.pop()
                if _alive(connection):
                    return connection
                self._drop(connection)
        return self._open()

    def _release(self, connection: ldap3.Connection) -> None:
        with self._lock:
            self._idle.append(connection)

    def run(self, operation: Callable[[ldap3.Connection], T], *, idempotent: bool) -> T:
        """Run `operation` on a pooled connection; a read that loses its connection is retried once.

        A write (`idempotent=False`) whose connection failed or timed out was sent, so it may
        have been done: `Unavailable(in_doubt=True)`."""
        for attempt in (1, 2):
            connection = self._acquire()
            try:
                timeout = deadline.bounded(self.settings.timeout, "the directory")
                started = time.monotonic()
                with self._bounded(connection, timeout):
                    result = operation(connection)
            except (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPResponseTimeoutError) as error:
                self._drop(connection)
                left = deadline.remaining()
                out_of_time = left is not None and left < deadline.MINIMUM
                if not idempotent:
                    log.warning("LDAP write sent, no answer (%s); the outcome is unknown", type(error).__name__)
                    raise Unavailable("the directory did not answer the write in time", in_doubt=True) from None
                if _timed_out(started, timeout):
                    log.warning(
                        "the directory at %s did not answer an operation within %.1f s (%s)",
                        self.settings.url,
                        timeout,
                        type(error).__name__,
                    )
                else:
                    log.warning(
                        "the connection to the directory at %s was lost during an operation (%s)",
                        self.settings.url,
                        type(error).__name__,
                    )
                if out_of_time:
                    raise deadline.OutOfTime("the request ran out of time waiting for the directory") from None
                if attempt == 2:
                    raise Unavailable("the directory did not answer") from None
                continue
            except BaseException:
                self._drop(connection)
                raise
            self._release(connection)
            return result
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        if os.getpid() == self._pid:
            for connection in idle:
                self._drop(connection)


def _timed_out(started: float, timeout: float) -> bool:
    """Whether a call that failed used up its time: the directory did not answer (the socket's
    timeout or the watchdog's cut, both at `timeout`), rather than refused or failed at once."""
    return time.monotonic() - started >= timeout * 0.95


def _alive(connection: ldap3.Connection) -> bool:
    """An idle connection whose socket is readable was closed (or notified) by the server."""
    sock = getattr(connection, "socket", None)
    if connection.closed or sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _shut_down(connection: ldap3.Connection) -> None:
    """Wake a thread blocked reading this connection: its read returns at once, empty."""
    sock = getattr(connection, "socket", None)
    if sock is not None:
        shut_down(sock)


def _discard(connection: ldap3.Connection) -> None:
    sock = getattr(connection, "socket", None)
    try:
        connection.unbind()
    except Exception:
        pass
    if sock is not None:
        try:
            sock.close()  # unbind() does not close a socket the server already dropped
        except OSError:
            pass
