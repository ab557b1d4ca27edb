"""Bearer JWTs issued by Entra itself, checked against Entra's published signing keys (JWKS).

Microsoft calls this mode testing-only; its tokens carry `iss` https://sts.windows.net/<tenant>/
and `aud` 8adf8e6e-67b2-4cf2-a259-e3dc5476c621 (docs/entra-wire.md#transport-and-authentication).
PyJWT does the cryptography and the claim checks; `PyJWKClient` fetches and caches the key set
from a URL, and a key set saved in a file is re-read when the file changes.
"""

from __future__ import annotations

import threading

import jwt

from gateway.policy import EntraJwtSettings


class KeysUnavailable(Exception):
    """Entra's key set could not be fetched: our problem, not the caller's (a 503, not a 401)."""


class EntraJwt:
    def __init__(self, settings: EntraJwtSettings):
        self.settings = settings
        self._client = (
            jwt.PyJWKClient(settings.jwks_url, cache_jwk_set=True, lifespan=settings.cache_seconds, timeout=10)
            if settings.jwks_url
            else None
        )
        self._lock = threading.Lock()
        self._file_stamp: tuple[int, int] | None = None
        self._file_keys: jwt.PyJWKSet | None = None

    def verify(self, token: str) -> dict:
        """The token's claims; raises jwt.PyJWTError when it is not a valid token for this tenant."""
        return jwt.decode(
            token,
            self._signing_key(token),
            algorithms=["RS256"],
            audience=self.settings.audience,
            issuer=self.settings.issuer,
            options={"require": ["exp", "iss", "aud"]},
            leeway=60,  # clocks differ; Entra's tokens live about an hour
        )

    def _signing_key(self, token: str):
        kid = jwt.get_unverified_header(token).get("kid")
        if self._client is not None:
            if not isinstance(kid, str):
                raise jwt.InvalidKeyError("the token names no signing key (kid)")
            try:
                return self._client.get_signing_key(kid).key
            except jwt.PyJWKClientConnectionError as error:
                raise KeysUnavailable(
                    f"cannot fetch Entra's signing keys from {self.settings.jwks_url}: {error}"
                ) from None
        for key in self._keys_from_file().keys:
            if key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError(f"no signing key with kid {kid!r} in {self.settings.jwks_file}")

    def _keys_from_file(self) -> jwt.PyJWKSet:
        path = self.settings.jwks_file
        if path is None:  # settings give a jwks_url or a jwks_file: with no URL there is a file
            raise KeysUnavailable("the tenant's entra_jwt settings name no jwks_file")
        try:
            info = path.stat()
            with self._lock:
                if self._file_keys is None or self._file_stamp != (info.st_mtime_ns, info.st_size):
                    self._file_keys = jwt.PyJWKSet.from_json(path.read_text())
                    self._file_stamp = (info.st_mtime_ns, info.st_size)
                return self._file_keys
        except (OSError, jwt.PyJWKSetError) as error:
            raise KeysUnavailable(f"cannot read Entra's signing keys from {path}: {error}") from None
