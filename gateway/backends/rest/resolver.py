"""Host names looked up in helper threads, waited for no longer than the caller may wait.

`getaddrinfo` has no timeout and nothing interrupts it: a resolver that does not answer holds
the thread for resolv.conf's timeout x attempts x nameservers, or for ever behind a broken
nsswitch module, and no socket exists yet for the deadline's watchdog to shut down. So the
lookup runs in a thread of its own and the call waits for it only as long as it may (cutoff.py:
the connect timeout, cut to the request's deadline); a lookup that does not answer in time is
left to finish on its own.

Those threads are bounded: a lookup of a name already being looked up waits for that one
instead of starting another, and when LOOKUPS_AT_MOST are still running (a hung resolver and
as many names), a new one is refused at once. A numeric address needs no lookup and no thread.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from typing import Any

log = logging.getLogger(__name__)

LOOKUPS_AT_MOST = 8  # lookups left running per process; each name the gateway calls needs one
FIX = " (check /etc/resolv.conf, the name servers it lists, and the hosts line of /etc/nsswitch.conf)"

AddressInfo = list[tuple[Any, ...]]  # what socket.getaddrinfo returns


class _Lookup:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.addresses: AddressInfo = []
        self.error: OSError | None = None


class Resolver:
    def __init__(self, at_most: int = LOOKUPS_AT_MOST):
        self.at_most = at_most
        self._running: dict[tuple, _Lookup] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def getaddrinfo(self, host: str, port: int, family: int, kind: int, timeout: float | None) -> AddressInfo:
        """socket.getaddrinfo's answer, or TimeoutError after `timeout` seconds (None: no limit);
        socket.gaierror if it fails, or at once if too many lookups are still running."""
        if _numeric(host):
            return socket.getaddrinfo(host, port, family, kind)
        key = (host, port, family, kind)
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's threads are not ours
                self._running = {}
                self._pid = os.getpid()
            lookup = self._running.get(key)
            if lookup is None:
                if len(self._running) >= self.at_most:
                    log.warning(
                        "looking up %s: refused, %d lookups still wait for the resolver%s",
                        host,
                        len(self._running),
                        FIX,
                    )
                    raise socket.gaierror(
                        socket.EAI_AGAIN,
                        f"{len(self._running)} host name lookups are still waiting for the resolver{FIX}",
                    )
                lookup = self._running[key] = _Lookup()
                threading.Thread(target=self._look_up, args=(key, lookup), name=f"resolve-{host}", daemon=True).start()
        if not lookup.done.wait(timeout):
            log.warning("looking up %s: no answer from the resolver within %.1f s%s", host, timeout, FIX)
            raise TimeoutError(f"the resolver had not answered for {host} within {timeout:.1f} s")
        if lookup.error is not None:
            raise type(lookup.error)(*lookup.error.args)  # a copy: other threads may raise it too
        return lookup.addresses

    def _look_up(self, key: tuple, lookup: _Lookup) -> None:
        try:
            lookup.addresses = socket.getaddrinfo(*key)
        except OSError as error:
            lookup.error = error
        finally:
            with self._lock:
                if self._running.get(key) is lookup:
                    del self._running[key]
            lookup.done.set()


def _numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 address may carry its %zone
    except ValueError:
        return False
    return True


RESOLVER = Resolver()
