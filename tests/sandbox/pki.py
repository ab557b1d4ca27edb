"""A throwaway PKI for TLS tests: a CA, a server certificate it signed for this machine's names,
and a second CA nobody trusts (PEM files any server here can read)."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(subject: str, key, issuer_name, issuer_key, ca: bool, names: list[str]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def pem(path, certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _canonical(host: str) -> str:
    """The name libldap takes for this machine (getaddrinfo's canonical name), as it does."""
    try:
        return socket.getaddrinfo(host, None, flags=socket.AI_CANONNAME)[0][3] or host
    except OSError:
        return host


def make_pki(folder: Path) -> Path:
    """ca.pem, server.pem and server.key (for `localhost` and this machine's names, not
    127.0.0.1), and stranger.pem, in `folder`."""
    ca_key, server_key, stranger_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = certificate("test CA", ca_key, None, None, True, [])
    pem(folder / "ca.pem", ca)
    # libldap (the python-ldap client) checks a loopback connection to `localhost` against the
    # machine's own name, so the certificate carries that name too.
    names = sorted({"localhost", socket.gethostname(), socket.getfqdn(), _canonical(socket.gethostname())})
    pem(folder / "server.pem", certificate("localhost", server_key, ca.subject, ca_key, False, names))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pem(folder / "stranger.pem", certificate("stranger CA", stranger_key, None, None, True, []))
    return folder
