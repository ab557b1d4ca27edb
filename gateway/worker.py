"""The gunicorn worker: gunicorn's threaded worker (gthread), made hard to stall from outside.

- A request's deadline counts from when gunicorn saw it, not from when a thread got to it: a
  request that waited in the queue while a frozen directory held every thread is answered 503
  at once instead of being given a whole new `request_timeout`.
- A new connection waits for its first bytes in the poller, not in a thread, and is closed if
  it sends nothing within SILENT_TIMEOUT: silent connections cost a file descriptor, never a
  thread. (gunicorn's own gthread lends each new connection a thread for up to 5 s first.)
- Reading a request (line, headers and body) must end within READ_TIMEOUT of its first bytes
  (and, if it waited that long for a thread, within READ_AFTER_WAIT of a thread starting on
  it), or its socket is shut down: a client that trickles a byte now and then (slowloris) holds
  a thread that long at most. The app says when it has read the request (`request_read`).

Behind a reverse proxy none of this is needed (it buffers whole requests); it keeps a gateway
exposed by mistake, or a proxy that does not buffer, from being stalled by a few sockets.
"""

from __future__ import annotations

import selectors
import time
from contextvars import ContextVar
from functools import partial

from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from gateway import deadline
from gateway.backends.watchdog import WATCHDOG, shut_down

SILENT_TIMEOUT = 10.0  # seconds a new connection may stay silent
READ_TIMEOUT = 10.0  # seconds from a request's first bytes to having read all of it
READ_AFTER_WAIT = 1.0  # seconds to read a request that waited longer than that for a thread
_reading: ContextVar[list | None] = ContextVar("reading", default=None)


def request_read() -> None:
    """The app has the whole request: stop the clock on reading it."""
    alarm = _reading.get()
    if alarm is not None:
        WATCHDOG.cancel(alarm)


class ThreadWorker(GunicornThreadWorker):
    def accept(self, listener) -> None:
        """Park the new connection in the poller until it has something to say."""
        try:
            client, address = listener.accept()
        except OSError:
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())
        conn.timeout = time.monotonic() + SILENT_TIMEOUT
        self.pending_conns.append(conn)
        self.poller.register(client, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def murder_pending(self) -> None:
        """Close every pending connection past its time (gunicorn's own stops at the first one
        that is not, which assumes they all wait as long)."""
        now = time.monotonic()
        for conn in [c for c in self.pending_conns if c.timeout <= now]:
            self.pending_conns.remove(conn)
            try:
                self.poller.unregister(conn.sock)
            except (OSError, KeyError, ValueError):
                pass
            self.nr_conns -= 1
            conn.close()

    def enqueue_req(self, conn) -> None:
        conn.gateway_arrived = time.monotonic()  # its first bytes are here
        super().enqueue_req(conn)

    def handle(self, conn):
        arrived = getattr(conn, "gateway_arrived", None) or time.monotonic()
        # The read clock runs from the first bytes; a request that waited for a thread gets at
        # least READ_AFTER_WAIT more (a real client's request is in the socket buffer by then).
        until = max(arrived + READ_TIMEOUT, time.monotonic() + READ_AFTER_WAIT)
        alarm = WATCHDOG.arm(until, partial(shut_down, conn.sock))
        arrival = deadline.ARRIVED.set(arrived)
        reading = _reading.set(alarm)
        try:
            return super().handle(conn)
        finally:
            WATCHDOG.cancel(alarm)
            _reading.reset(reading)
            deadline.ARRIVED.reset(arrival)
