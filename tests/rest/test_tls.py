"""TLS to the API, against a real HTTPS server holding a certificate from a CA made here: the
tenant's `ca_file` is what the certificate is checked against, whatever the environment says
(requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace a session's own CA file: found on a
machine that sets both system-wide)."""

from __future__ import annotations

import http.server
import ssl
import threading

import pytest
import requests

from gateway.backends.base import BackendError
from gateway.backends.rest.settings import ApiAuthSettings, RestSettings
from gateway.backends.rest.transport import Transport
from tests.sandbox.pki import make_pki

BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class _Employees(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def https_api(tmp_path_factory):
    """An HTTPS API at https://localhost:PORT with a certificate from a private CA."""
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Employees)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}", pki
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("variable", BUNDLES)
def test_the_ca_file_is_trusted_even_when_the_environment_names_another_bundle(https_api, monkeypatch, variable):
    url, pki = https_api
    for name in BUNDLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, requests.certs.where())  # public CAs only: not ours
    transport = Transport(RestSettings(url, ApiAuthSettings("none"), ca_file=str(pki / "ca.pem")))
    transport.probe("/employees", {}, 5.0)  # raises BackendError if the certificate was refused
    transport.close()


def test_without_the_ca_file_a_private_certificate_is_refused(https_api, monkeypatch):
    url, _ = https_api
    for name in BUNDLES:
        monkeypatch.delenv(name, raising=False)
    transport = Transport(RestSettings(url, ApiAuthSettings("none")))
    with pytest.raises(BackendError, match="certificate"):
        transport.probe("/employees", {}, 5.0)
    transport.close()
