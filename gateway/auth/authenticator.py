"""One tenant's ways in: an Authorization header in, a Principal out, or a refusal saying why.

Which ways are open is the tenant's `auth:` setting. Every secret is compared in constant time
(hmac.compare_digest, over every stored token); an unknown Basic user costs as long as a wrong
password. A refusal's reason is for the gateway's log, never for the client, and never holds
what the client sent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

import jwt

from gateway.auth.entra import EntraJwt, KeysUnavailable
from gateway.auth.oauth import AccessTokens
from gateway.auth.passwords import check_password, dummy_hash
from gateway.credentials import PREFIX, CredentialFile, StoredCredential, digest, matching

__all__ = ["AuthFailure", "Authenticator", "KeysUnavailable", "Principal"]


@dataclass(frozen=True)
class Principal:
    method: str  # "token", "basic", "oauth", "entra-jwt"
    name: str
    scope: str

    @property
    def can_write(self) -> bool:
        return self.scope == "scim"


class AuthFailure(Exception):
    """No valid credential; str() is the reason, for the log only. `attempted` names the
    credential tried without revealing it (a Basic user, an OAuth client, a token's
    fingerprint): failed logins are counted per credential as well as per address."""

    attempted = "no credential"


class Authenticator:
    def __init__(self, tenant_name: str, settings, tokens_file):
        self.settings = settings  # TenantAuthSettings
        self.file = CredentialFile(tokens_file)
        self.access_tokens = AccessTokens(settings.oauth, tenant_name) if settings.oauth else None
        self.entra = EntraJwt(settings.entra_jwt) if settings.entra_jwt else None
        self._verified: dict[str, bytes] = {}  # Basic user -> HMAC of (hash, password) once checked
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()

    @property
    def schemes(self) -> list[str]:
        """The WWW-Authenticate challenges to answer a refused request with."""
        schemes = []
        if self.settings.tokens or self.access_tokens or self.entra:
            schemes.append('Bearer realm="scim-gateway"')
        if self.settings.basic:
            schemes.append('Basic realm="scim-gateway", charset="UTF-8"')
        return schemes

    def authenticate(self, header: str) -> Principal:
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        try:
            if not credential:
                raise AuthFailure("no credential")
            if scheme.lower() == "bearer":
                return self._bearer(credential)
            if scheme.lower() == "basic" and self.settings.basic:
                return self._basic(credential)
            raise AuthFailure("an Authorization scheme this tenant does not accept")  # never echoed: it may be a secret
        except AuthFailure as failure:
            failure.attempted = _attempted(scheme, credential)
            raise

    # --- Bearer ---------------------------------------------------------------------------------

    def _bearer(self, token: str) -> Principal:
        if token.startswith(PREFIX):
            if not self.settings.tokens:
                raise AuthFailure("a Secret Token, but this tenant accepts none")
            stored = matching(token, self.file.tokens())
            if stored is None:
                raise AuthFailure("an unknown or revoked Secret Token")
            return Principal("token", stored.name, stored.scope)
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise AuthFailure("a bearer token that is neither a Secret Token nor a JWT") from None
        if algorithm == "HS256" and self.access_tokens is not None:
            return self._access_token(token)
        if algorithm == "RS256" and self.entra is not None:
            try:
                claims = self.entra.verify(token)
            except jwt.PyJWTError as error:
                raise AuthFailure(f"an Entra JWT that does not verify: {error}") from None
            caller = claims.get("appid") or claims.get("azp") or claims.get("sub") or "entra"
            return Principal("entra-jwt", str(caller), self.settings.entra_jwt.scope)
        raise AuthFailure(f"a JWT signed with {str(algorithm)[:10]!r}, which this tenant does not accept")

    def _access_token(self, token: str) -> Principal:
        if self.access_tokens is None:
            raise AuthFailure("OAuth is not enabled for this tenant")
        try:
            claims = self.access_tokens.verify(token)
        except jwt.PyJWTError as error:
            raise AuthFailure(f"an access token that does not verify: {error}") from None
        client = _named(self.file.credentials().oauth_clients, str(claims["sub"]))
        if client is None:
            raise AuthFailure(f"an access token of the revoked OAuth client {claims['sub']!r}")
        return Principal("oauth", client.name, client.scope)

    # --- OAuth token endpoint -----------------------------------------------------------------

    def issue(self, client_id: str, client_secret: str) -> tuple[str, StoredCredential]:
        """An access token for a client whose secret matches; raises AuthFailure otherwise."""
        if self.access_tokens is None:
            raise AuthFailure("OAuth is not enabled for this tenant")
        client = _named(self.file.credentials().oauth_clients, client_id)
        matches = hmac.compare_digest(digest(client_secret).encode(), (client.hash if client else "-" * 64).encode())
        if client is None or not matches:
            failure = AuthFailure(
                "an unknown OAuth client" if client is None else f"a wrong secret for {client.name!r}"
            )
            failure.attempted = f"OAuth client {client_id[:64]!r}"
            raise failure
        return self.access_tokens.issue(client.name, client.scope), client

    # --- Basic ----------------------------------------------------------------------------------

    def _basic(self, credential: str) -> Principal:
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailure("a Basic credential that is not base64 of user:password") from None
        name, colon, password = decoded.partition(":")
        if not colon:
            raise AuthFailure("a Basic credential without a password")
        user = _named(self.file.credentials().basic_users, name)
        if user is None:
            check_password(password, dummy_hash())
            raise AuthFailure("an unknown Basic user")
        proof = hmac.new(self._secret, f"{user.hash}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            remembered = self._verified.get(user.name, b"")
        if not hmac.compare_digest(remembered, proof):
            if not check_password(password, user.hash):
                raise AuthFailure(f"a wrong password for the Basic user {user.name!r}")
            with self._lock:
                self._verified[user.name] = proof
        return Principal("basic", user.name, user.scope)


def _attempted(scheme: str, credential: str) -> str:
    """The credential a failed login tried, safe to log: a Basic user name, or a fingerprint."""
    if not credential:
        return "no credential"
    if scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            name = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")[0]
            return f"Basic user {name[:64]!r}"
    return f"credential {hashlib.sha256(credential.encode('utf-8', 'replace')).hexdigest()[:12]}"


def _named(entries: list[StoredCredential], name: str) -> StoredCredential | None:
    return next((entry for entry in entries if entry.name == name), None)
