"""deploy/nginx.conf in front of a real gateway on the same host: with trusted_proxies: 1 the
gateway sees the client's own address (allow_from, failed logins); with 0 it sees nginx's."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import shutil
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from gateway.credentials import CredentialFile
from gateway.web.app import create_app
from tests.conftest import OPENLDAP_MAP, write_settings
from tests.sandbox import children
from tests.sandbox.children import free_port

REPO = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx-light (deploy/install-deps.sh --test)")


@dataclass(frozen=True)
class Front:
    """nginx's TLS port, and the certificate it presents (for 127.0.0.1)."""

    port: int
    certificate: Path


def self_signed_certificate(folder: Path) -> Path:
    """cert.pem and key.pem for scim.example.com (and 127.0.0.1) in `folder`, as nginx.conf expects them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scim.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem"


@pytest.fixture
def behind_nginx(slapd, directory, tmp_path):
    """Build a gateway with some top-level settings, served in a thread behind the shipped nginx.conf."""
    certificate = self_signed_certificate(tmp_path)
    started = []

    def build(top: str) -> tuple[Front, str]:
        folder = tmp_path / f"gateway{len(started)}"
        folder.mkdir()
        settings = write_settings(folder, slapd, OPENLDAP_MAP, tenant_yaml="    allow_from: [127.0.0.2/32]\n")
        settings.write_text(top + settings.read_text())
        token = CredentialFile(folder / "tokens.yaml").add("entra")
        app = create_app(settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = free_port()
        text = (REPO / "deploy" / "nginx.conf").read_text()
        for old, new in (
            ("/etc/ssl/certs/scim.example.com.pem", str(certificate)),
            ("/etc/ssl/private/scim.example.com.key", str(tmp_path / "key.pem")),
            ("/run/nginx.pid", str(folder / "nginx.pid")),
            ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
            ("listen [::]:443 ssl;", ""),
            ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
            ("listen [::]:80;", ""),
            ("server 127.0.0.1:8080;", f"server 127.0.0.1:{server.server_port};"),
        ):
            assert old in text, old
            text = text.replace(old, new)
        (folder / "nginx.conf").write_text(text)
        nginx = children.spawn([NGINX, "-c", str(folder / "nginx.conf"), "-g", "daemon off;"], folder / "nginx.log")
        started.append((app, server, nginx))
        children.wait_listening(nginx, port, 10, "nginx", RuntimeError)
        return Front(port, certificate), token

    yield build
    for app, server, nginx in started:
        children.stop(nginx)
        server.shutdown()
        server.server_close()
        app.extensions["scim_gateway"].close()


def _get(port: Front, token: str, source: str, forwarded: str | None = None) -> int:
    context = ssl.create_default_context(cafile=str(port.certificate))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port.port, context=context, source_address=(source, 0), timeout=10
    )
    headers = {"Authorization": f"Bearer {token}", "Host": "scim.example.com"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    try:
        connection.request("GET", "/scim/v2/Users?count=1", headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_with_trusted_proxies_1_the_gateway_sees_the_client_behind_nginx(behind_nginx):
    port, token = behind_nginx("trusted_proxies: 1\n")
    assert _get(port, token, "127.0.0.2") == 200  # allow_from admits the client's own address
    assert _get(port, token, "127.0.0.1") == 403  # another client is refused
    assert _get(port, token, "127.0.0.1", forwarded="127.0.0.2") == 403  # and cannot claim an address


def test_without_trusted_proxies_every_client_looks_like_nginx(behind_nginx):
    port, token = behind_nginx("")
    assert _get(port, token, "127.0.0.2") == 403  # refused as 127.0.0.1, nginx's own address
