"""The gunicorn worker: gunicorn's threaded worker, telling each request when it arrived.

A request can wait in the worker's queue while every thread is busy (a directory that froze
holds them until their deadlines). Its deadline counts from when gunicorn saw it, not from when
a thread got to it, so a request that waited its time away is answered 503 at once instead of
being given a whole new `request_timeout`.
"""

from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from gateway import deadline


class ThreadWorker(GunicornThreadWorker):
    def enqueue_req(self, conn) -> None:
        conn.gateway_arrived = time.monotonic()  # a new connection, or a kept-alive one with a request
        super().enqueue_req(conn)

    def handle(self, conn):
        token = deadline.ARRIVED.set(getattr(conn, "gateway_arrived", None))
        try:
            return super().handle(conn)
        finally:
            deadline.ARRIVED.reset(token)
