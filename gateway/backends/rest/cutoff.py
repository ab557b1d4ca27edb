"""The request's deadline on the REST transport's connections: the API's answer is cut off when
the deadline comes, however it arrives.

`requests`' read timeout bounds each socket read, not a call: an API that sends its headers and
then a byte of body now and then (or its headers one line at a time) holds the thread as long
as it likes. So, as the LDAP pool does, the process's one watchdog (gateway/backends/watchdog.py)
is armed with the deadline around each call, and its action shuts down the socket the answer is
being read from; the blocked read returns at once and the call ends with `CutOff`.

The socket is found without reaching into the pool: the adapter's connections hand the socket
they are about to read an answer from to the call in flight (a context variable), just before
they read it. Sending and connecting are bounded by the timeout alone: the TCP connect by the
call's timeout, and a TLS handshake, which Python's ssl bounds as a whole by the socket's timeout
(not each read: a server that trickles its ServerHello cannot stretch it), by the time left when
it begins. A connection that was never made sent nothing: a call cut off or timed out while
connecting is not `CutOff` (which says a write may have been done), and a handshake that timed
out is a connect timeout (urllib3 calls it a read timeout), which may be sent again.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError
from urllib3.response import HTTPResponse

from gateway import deadline
from gateway.backends.watchdog import WATCHDOG, shut_down


class CutOff(deadline.OutOfTime):
    """The deadline came while the API was still answering, and the call was cut off: the API
    had the request, so a write may have been done."""


class _Call:
    """One call in flight: the socket its answer comes on, and whether the watchdog cut it off."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.cut_off = False
        self.connecting = False  # a new connection is being made (TCP, TLS): nothing sent yet

    def reading(self, sock: socket.socket) -> None:
        """The request's thread is about to read the answer on `sock`."""
        self.sock = sock
        if self.cut_off:  # the deadline came while it was sending: no read begins
            shut_down(sock)

    def cut(self) -> None:
        """The watchdog's action at the deadline (on its own thread)."""
        self.cut_off = True
        sock = self.sock
        if sock is not None:
            shut_down(sock)


_in_flight: ContextVar[_Call | None] = ContextVar("rest_call_in_flight", default=None)


@contextmanager
def at_deadline() -> Iterator[None]:
    """Cut the call made in this block off at the request's deadline: `CutOff` if it was, even
    when what was read by then looked like a whole answer. Outside a request, nothing."""
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
        if call.cut_off and not call.connecting:  # connecting, it sent nothing: its own error stands
            raise CutOff("the request ran out of time waiting for the API's answer") from error
        raise
    finally:
        WATCHDOG.cancel(alarm)
        _in_flight.reset(token)
    if call.cut_off:  # headers cut short by the shutdown can end like headers, a body like a body
        raise CutOff("the request ran out of time waiting for the API's answer")


class _WatchedConnection(HTTPConnection):
    """urllib3's connection, handing the socket it reads an answer from to the call in flight,
    and telling it while a new connection is being made."""

    def connect(self) -> None:
        call = _in_flight.get()
        if call is not None:
            call.connecting = True
        super().connect()
        if call is not None:
            call.connecting = False

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3 declares it
        call = _in_flight.get()
        if call is not None and self.sock is not None:
            call.reading(self.sock)
        return super().getresponse()


class _WatchedTlsConnection(_WatchedConnection, HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        """The TCP connection, its timeout cut to the time left for the TLS handshake that follows."""
        sock = super()._new_conn()
        left = deadline.remaining()
        timeout = sock.gettimeout()
        if left is not None and (timeout is None or left < timeout):
            sock.settimeout(max(left, deadline.MINIMUM))  # never 0: that would make it non-blocking
        return sock

    def connect(self) -> None:
        try:
            super().connect()
        except TimeoutError as error:  # the handshake's (the TCP connect's is urllib3's own)
            raise ConnectTimeoutError(self, f"TLS handshake with {self.host} timed out") from error


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
