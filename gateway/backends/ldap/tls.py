"""TLS to the directory (ldaps:// and StartTLS) with Python's own certificate checks.

ldap3's `Tls` switches the SSL context's host name check off and runs its own through
`ssl.match_hostname`, which Python deprecates (3.7) and removed (3.12). This subclass keeps
ldap3's two entry points (it calls `wrap_socket` for ldaps:// and after StartTLS) and wraps the
socket with a standard context instead: the CA file (or the system's CAs), the host name checked
by OpenSSL during the handshake, TLS 1.2 at least. There is deliberately no switch to turn the
checks off: a certificate issued for another name is configured with `server_name`.
"""

from __future__ import annotations

import ssl

import ldap3


class VerifiedTls(ldap3.Tls):
    def __init__(self, server_name: str, ca_file: str | None = None):
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self.server_name = server_name
        self.context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.check_hostname = True
        self.context.verify_mode = ssl.CERT_REQUIRED

    def wrap_socket(self, connection, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=self.server_name,
        )
