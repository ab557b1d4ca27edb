"""OAuth2 client credentials (RFC 6749 section 4.4): short-lived access tokens for OAuth clients.

Entra's newer gallery checklist accepts only this flow, with tokens living 60 min to 6 h
(docs/entra-wire.md#transport-and-authentication). An access token is a JWT signed with HS256
by PyJWT: every gunicorn worker can check it without a shared store, it expires by itself, and
it names its client, so revoking the client (`scim-gateway client revoke`) ends its tokens at
once.

The signing key is 512 random bits in a file of its own (0600), created on first use; it is the
one secret the gateway keeps, like a TLS key. Deleting it ends every access token issued.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import threading
import time
from pathlib import Path

import jwt

from gateway.policy import OAuthSettings
from gateway.privatefiles import write_private

ISSUER = "scim-gateway"


class AccessTokens:
    def __init__(self, settings: OAuthSettings, audience: str):
        self.settings = settings
        self.audience = audience  # the tenant: a token of one tenant never opens another
        self._key: bytes | None = None
        self._lock = threading.Lock()

    @property
    def lifetime(self) -> int:
        return self.settings.token_lifetime

    def issue(self, client: str, scope: str) -> str:
        moment = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": self.audience,
            "sub": client,
            "scope": scope,
            "iat": moment,
            "exp": moment + self.lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self.key(), algorithm="HS256")

    def verify(self, token: str) -> dict:
        """The token's claims; raises jwt.PyJWTError if it is forged, expired or another tenant's."""
        return jwt.decode(
            token,
            self.key(),
            algorithms=["HS256"],
            audience=self.audience,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )

    def key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = load_or_create_key(self.settings.signing_key_file)
            return self._key


def load_or_create_key(path: Path) -> bytes:
    """Read the key, or create it; two workers starting together end up with the same key."""
    if not path.exists():
        fresh = base64.urlsafe_b64encode(secrets.token_bytes(64))
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs wins
            write_private(path, fresh + b"\n", exclusive=True)
    return base64.urlsafe_b64decode(path.read_bytes().strip())
