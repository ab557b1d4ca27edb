"""The request's deadline on the REST transport's connections: a call is cut off when the
deadline comes, whatever it is waiting for.

`requests`' timeouts bound each socket operation, not a call: an API that sends its headers and
then a byte of body now and then, or an HTTP proxy that answers CONNECT a line at a time, holds
the thread as long as it likes (and a TLS handshake or a send, each bounded whole by the timeout,
may end past the deadline when it began late in the call). So, as the LDAP pool does, the
process's one watchdog (gateway/backends/watchdog.py) is armed with the deadline around each
call, and its action shuts down the call's socket: whatever the thread is blocked on (a
proxy's tunnel, the handshake, sending the request, reading the answer) returns at once.

The socket is found without reaching into the pool: the adapter's connections hand it to the
call in flight (a context variable) as soon as it is connected, or as the request begins on a
connection kept from an earlier call. Before there is a socket, two waits are bounded by time
alone: the host name lookup, which nothing interrupts, runs in a helper thread that the call
waits for no longer than its connect timeout (resolver.py), and the TCP connect has that
timeout; both are cut to the time left when the connection is made.

What a cut leaves depends on whether the request had begun to leave (`_Call.sending`). Before,
nothing was sent: the call ends as a connect timeout, which may be sent again (a POST too).
After, it is `CutOff`, and a write may have been done: see `_Call.sending` for why even a body
cut off half sent counts.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from http.client import HTTPException
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import Timeout

from gateway import deadline
from gateway.backends.rest.resolver import RESOLVER
from gateway.backends.watchdog import WATCHDOG, shut_down


class CutOff(deadline.OutOfTime):
    """The deadline came once the request had begun to leave for the API, and the call was cut
    off: the API may have had it, so a write may have been done."""


class _Call:
    """One call in flight: the socket it is on, whether its request began to leave, and whether
    the watchdog cut it off. (The lock orders the two threads' steps: a cut either comes before
    the request begins to leave, and stops it, or after, and leaves it in doubt.)"""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.cut_off = False
        self.sent = False
        self._lock = threading.Lock()

    def connected(self, sock: socket.socket) -> None:
        """A new connection's socket (a proxy's tunnel and a TLS handshake may follow on it)."""
        with self._lock:
            self.sock = sock
            if self.cut_off:  # the deadline came while it was connecting
                shut_down(sock)

    def sending(self, sock: socket.socket) -> bool:
        """The request is about to leave on `sock`: False if the deadline came first.

        From here on a cut leaves a write in doubt, even one whose body had not all left: the
        API may have the request's head and part of its body, and what it does with a request it
        holds only in part is its own (most wait for the rest and drop it; one that acts on the
        head would have done the write). Nor can the gateway see where the cut fell: a body the
        kernel took whole a moment before the cut is on its way, and the send's error that would
        tell is swallowed by urllib3 (a server may hang up once it has answered)."""
        with self._lock:
            if self.cut_off:
                return False
            self.sock = sock
            self.sent = True
            return True

    def cut(self) -> None:
        """The watchdog's action at the deadline (on its own thread)."""
        with self._lock:
            self.cut_off = True
            if self.sock is not None:
                shut_down(self.sock)


_in_flight: ContextVar[_Call | None] = ContextVar("rest_call_in_flight", default=None)


@contextmanager
def at_deadline() -> Iterator[None]:
    """Cut the call made in this block off at the request's deadline: `CutOff` if its request
    had begun to leave, even when what was read by then looked like a whole answer. Outside a
    request, nothing."""
    left = deadline.remaining()
    if left is None:
        yield
        return
    call = _Call()
    token = _in_flight.set(call)
    alarm = WATCHDOG.arm(WATCHDOG.clock() + left, call.cut)
    try:
        yield
    except requests.RequestException as error:
        if call.cut_off and call.sent:  # before, nothing was sent: its connect timeout stands
            raise CutOff("the request ran out of time waiting for the API's answer") from error
        raise
    finally:
        WATCHDOG.cancel(alarm)
        _in_flight.reset(token)
    if call.cut_off and call.sent:  # headers cut short by the shutdown can end like headers, a body like a body
        raise CutOff("the request ran out of time waiting for the API's answer")


class _WatchedConnection(HTTPConnection):
    """urllib3's connection, its host name looked up within its connect timeout, and its socket
    handed to the call in flight from the moment it is connected or the request begins."""

    def _new_conn(self) -> socket.socket:
        """The TCP connection, made within the connect timeout cut to the time left: the lookup in
        a helper thread (resolver.py), then each address it gives in turn, as urllib3 would."""
        timeout = Timeout.resolve_default_timeout(self.timeout)
        host = self._dns_host
        try:
            found = RESOLVER.getaddrinfo(host, self.port, allowed_gai_family(), socket.SOCK_STREAM, _time_left(timeout))
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"looking up {self.host} took too long: {error}") from error
        failure: Exception = NewConnectionError(self, f"{self.host} has no address")
        for address in dict.fromkeys(info[4][0] for info in found):
            self._dns_host = address  # numeric: urllib3's own lookup of it answers at once
            self.timeout = _time_left(timeout)  # the TCP connect's, then the TLS handshake's
            try:
                sock = super()._new_conn()
                break
            except ConnectTimeoutError as error:  # refused or timed out: the next address, if any
                failure = error
            finally:
                self._dns_host = host
        else:
            raise failure
        call = _in_flight.get()
        if call is not None:
            call.connected(sock)
        return sock

    def connect(self) -> None:
        """Connect (through a proxy's tunnel and a TLS handshake, if any). Cut off by the deadline,
        or a handshake or tunnel that outlasts its own timeout (urllib3 would call that a read
        timeout): a connect timeout, since nothing was sent."""
        tunneled = self._tunnel_host is not None  # (a failed tunnel's close() forgets it)
        try:
            super().connect()
        except (OSError, HTTPException) as error:
            call = _in_flight.get()
            if isinstance(error, TimeoutError) or (call is not None and call.cut_off):
                raise ConnectTimeoutError(self, f"connecting to {self.host} took too long") from error
            if tunneled and type(error) is OSError:  # http.client's "Tunnel connection failed: 407 ..."
                raise NewConnectionError(self, f"the proxy opened no tunnel to {self.host}: {error}") from error
            raise

    def request(self, *args: Any, **kwargs: Any) -> None:
        call = _in_flight.get()
        if call is not None:
            if self.sock is None:
                self.connect()  # what http.client does at the first byte, done first to know when sending begins
            if self.sock is None or not call.sending(self.sock):
                raise ConnectTimeoutError(self, f"no time was left to send the request to {self.host}")
        super().request(*args, **kwargs)


def _time_left(timeout: float | None) -> float | None:
    """`timeout`, cut to the time the request has left (never to 0, which would mean non-blocking)."""
    left = deadline.remaining()
    if left is None:
        return timeout
    left = max(left, deadline.MINIMUM)
    return left if timeout is None else min(timeout, left)


class _WatchedTlsConnection(_WatchedConnection, HTTPSConnection):
    """The same, over TLS (urllib3's HTTPS connection makes its tunnel and handshake in `connect`)."""


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTlsConnection


POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _Pool, "https": _TlsPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter on connections that `at_deadline` can cut off (directly or through an
    HTTP proxy from the environment; a SOCKS proxy's connections are its own)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = POOLS
        return manager
