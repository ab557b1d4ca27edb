"""A tenant's credentials file: Secret Tokens, Basic users and OAuth clients, as hashes only.

Secret Tokens and OAuth client secrets are minted here (256 random bits), shown once and stored
as a single unsalted SHA-256: there is nothing to brute-force in 256 bits, and a slow hash would
only slow down every request. Basic passwords may be chosen by a person (some applications'
SCIM connectors are set up with a user name and password), so they get a salted, deliberately
slow scrypt (gateway/auth/passwords.py).

The file is YAML written by `scim-gateway token|basic|client ...` (never by hand):
    tokens:
      - {name: entra, sha256: <hex>, scope: scim, created: 2026-11-23T12:00:00Z}
    basic_users:
      - {name: entra, scrypt: <scrypt$...>, scope: scim, created: ...}
    oauth_clients:
      - {name: entra-gallery, sha256: <hex>, scope: read-only, created: ...}
It is re-read when it changes, so a revoked credential stops working without a restart. A
scope other than `scim` (say, a typo made by hand) grants reading only: the file fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

PREFIX = "scimgw_"  # lets secret scanners and humans recognise a leaked token
KINDS = {"tokens": "sha256", "basic_users": "scrypt", "oauth_clients": "sha256"}


@dataclass(frozen=True)
class StoredToken:
    """One credential: a Secret Token, a Basic user (hash: scrypt) or an OAuth client (name: client id)."""

    name: str
    sha256: str  # the hash (for Basic users: the scrypt string)
    scope: str = "scim"
    created: str = ""

    @property
    def can_write(self) -> bool:
        return self.scope == "scim"


@dataclass
class Credentials:
    tokens: list[StoredToken] = field(default_factory=list)
    basic_users: list[StoredToken] = field(default_factory=list)
    oauth_clients: list[StoredToken] = field(default_factory=list)

    def of(self, kind: str) -> list[StoredToken]:
        return getattr(self, kind)


def mint() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matching(token: str, stored: list[StoredToken]) -> StoredToken | None:
    """The stored token this one hashes to; compares against every entry, in constant time."""
    presented = digest(token).encode()
    found = None
    for candidate in stored:
        if hmac.compare_digest(presented, candidate.sha256.encode()):
            found = candidate
    return found


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenFile:
    """The credentials of one tenant, re-read whenever the file's modification time or size changes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._credentials = Credentials()

    def credentials(self) -> Credentials:
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        except FileNotFoundError:
            return Credentials()
        with self._lock:
            if stamp != self._stamp:
                self._credentials = read_credentials(self.path)
                self._stamp = stamp
            return self._credentials

    def tokens(self) -> list[StoredToken]:
        return list(self.credentials().tokens)

    def add(self, name: str, scope: str = "scim") -> str:
        """Mint a Secret Token, store its hash, return the token (the only time it exists in clear)."""
        token = mint()
        self.store("tokens", StoredToken(name, digest(token), scope, now()))
        return token

    def store(self, kind: str, entry: StoredToken) -> None:
        """Add `entry` to its kind, replacing (so revoking) any entry of that kind with its name."""
        credentials = read_credentials(self.path) if self.path.exists() else Credentials()
        entries = [e for e in credentials.of(kind) if e.name != entry.name]
        setattr(credentials, kind, [*entries, entry])
        write_credentials(self.path, credentials)

    def revoke(self, kind: str, name: str) -> bool:
        credentials = read_credentials(self.path) if self.path.exists() else Credentials()
        kept = [e for e in credentials.of(kind) if e.name != name]
        if len(kept) == len(credentials.of(kind)):
            return False
        setattr(credentials, kind, kept)
        write_credentials(self.path, credentials)
        return True


def read_credentials(path: Path) -> Credentials:
    data = yaml.safe_load(path.read_text()) or {}
    credentials = Credentials()
    for kind, hash_key in KINDS.items():
        setattr(
            credentials,
            kind,
            [
                StoredToken(
                    str(item["name"]),
                    str(item[hash_key]),
                    str(item.get("scope", "scim")),
                    str(item.get("created", "")),
                )
                for item in data.get(kind) or []
            ],
        )
    return credentials


def write_credentials(path: Path, credentials: Credentials) -> None:
    """Write atomically (rename), readable by the owner only."""
    body = {}
    for kind, hash_key in KINDS.items():
        entries = credentials.of(kind)
        if entries:
            body[kind] = [{"name": e.name, hash_key: e.sha256, "scope": e.scope, "created": e.created} for e in entries]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Written by `scim-gateway token|basic|client`; holds hashes only.\n")
        yaml.safe_dump(body, handle, sort_keys=False)
    os.replace(temporary, path)


def read_tokens(path: Path) -> list[StoredToken]:
    return read_credentials(path).tokens


def write_tokens(path: Path, tokens: list[StoredToken]) -> None:
    """A file holding these Secret Tokens and nothing else (the quick start's: one per run)."""
    write_credentials(path, Credentials(tokens=list(tokens)))
