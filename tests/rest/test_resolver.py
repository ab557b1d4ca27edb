"""Host name lookups bounded in time and in threads (gateway/backends/rest/resolver.py).

socket.getaddrinfo is replaced by one that hangs on names ending in .hung and knows no name
ending in .nx: the machine's resolver is not the tests' to break (the gateway meeting a hung
one: tests/faults/test_api_waits.py)."""

from __future__ import annotations

import socket
import threading

import pytest

from gateway.backends.rest.resolver import Resolver

ANY = (80, socket.AF_UNSPEC, socket.SOCK_STREAM)


@pytest.fixture
def hung(monkeypatch):
    """Released at the end, so no lookup thread outlives the test."""
    released = threading.Event()
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args):
        asked.append(host)
        if host.endswith(".nx"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host.endswith(".hung"):
            released.wait(30)
            host = "127.0.0.1"
        return real(host, *args)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield asked
    released.set()


def test_a_lookup_that_answers_in_time_gives_the_resolver_s_answer(hung):
    found = Resolver().getaddrinfo("localhost", *ANY, timeout=5)
    assert found and all(info[4][1] == 80 for info in found)


def test_a_lookup_that_hangs_is_given_up_at_its_timeout(hung):
    with pytest.raises(TimeoutError, match=r"api\.hung"):
        Resolver().getaddrinfo("api.hung", *ANY, timeout=0.05)


def test_a_failed_lookup_is_the_resolver_s_own_error(hung):
    with pytest.raises(socket.gaierror):
        Resolver().getaddrinfo("api.nx", *ANY, timeout=5)


def test_a_numeric_address_needs_no_lookup_thread(hung):
    resolver = Resolver(at_most=0)  # no thread may be started at all
    assert resolver.getaddrinfo("127.0.0.1", *ANY, timeout=5)[0][4][0] == "127.0.0.1"
    assert resolver.getaddrinfo("::1", *ANY, timeout=5)[0][4][0] == "::1"


def test_requests_for_a_name_still_being_looked_up_wait_for_that_lookup(hung):
    resolver = Resolver()
    for _ in range(5):
        with pytest.raises(TimeoutError):
            resolver.getaddrinfo("api.hung", *ANY, timeout=0.05)
    assert hung == ["api.hung"]


def test_once_the_most_lookups_hang_another_is_refused_at_once(hung):
    resolver = Resolver(at_most=2)
    for name in ("a.hung", "b.hung"):
        with pytest.raises(TimeoutError):
            resolver.getaddrinfo(name, *ANY, timeout=0.05)
    with pytest.raises(socket.gaierror, match=r"2 host name lookups are still waiting .*resolv\.conf"):
        resolver.getaddrinfo("c.hung", *ANY, timeout=None)  # no timeout: it would wait for ever
    assert hung == ["a.hung", "b.hung"]
