"""Every directory fault an operator can cause gives a clear log line and a SCIM 503, never a 500:
a wrong URL, a URL that answers HTTP, ldaps:// to a plain port, a wrong password, a missing base."""

from __future__ import annotations

import logging
import socket
import threading
from types import SimpleNamespace

import pytest

from tests.conftest import OPENLDAP_MAP
from tests.sandbox.children import free_port

HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request"
)


@pytest.fixture
def http_port():
    """A server that answers anything with an HTTP 400, as nginx does to a stray LDAP bind."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def answer():
        while not stop.is_set():
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                peer.settimeout(2)
                try:
                    peer.recv(4096)
                    peer.sendall(HTTP_ANSWER)
                except OSError:
                    pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(): close() alone leaves it blocked
    listener.close()
    thread.join(5)


def _faulty_client(kind, make_client, slapd, tmp_path, http_port):
    if kind == "closed port":
        return make_client(url=f"ldap://127.0.0.1:{free_port()}", timeout=2), "cannot reach the directory"
    if kind == "http server":
        return make_client(url=f"ldap://127.0.0.1:{http_port}", timeout=2), "did not answer in LDAP"
    if kind == "ldaps to a plain port":
        return make_client(url=f"ldaps://127.0.0.1:{slapd.port}", timeout=2), "cannot reach the directory"
    if kind == "wrong password":
        wrong = tmp_path / "wrong.password"
        wrong.write_text("not the password\n")
        server = SimpleNamespace(url=slapd.url, service_password_file=wrong)
        return make_client(server=server), "bind to"
    missing = OPENLDAP_MAP.read_text().replace("ou=People,dc=example,dc=com", "ou=Nobody,dc=example,dc=com")
    return make_client(missing), "the directory has no entry ou=Nobody,dc=example,dc=com"


@pytest.mark.parametrize(
    "kind", ["closed port", "http server", "ldaps to a plain port", "wrong password", "missing base"]
)
def test_a_directory_fault_is_a_503_and_one_clear_log_line(kind, make_client, slapd, tmp_path, http_port, caplog):
    client, logged = _faulty_client(kind, make_client, slapd, tmp_path, http_port)
    with caplog.at_level(logging.WARNING):
        answers = [
            client.get('/Users?filter=userName eq "ada"'),
            client.post("/Users", {"userName": "ada", "active": True, "name": {"familyName": "L"}}),
        ]
    for answer in answers:
        assert answer.status_code == 503, answer.get_json()
        assert answer.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert "Retry-After" in answer.headers
    assert logged in caplog.text
    assert "Traceback" not in caplog.text
