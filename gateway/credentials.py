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
import stat
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from gateway.privatefiles import Owner, make_folders, service_user, write_private

PREFIX = "scimgw_"  # lets secret scanners and humans recognise a leaked token
KINDS = {"tokens": "sha256", "basic_users": "scrypt", "oauth_clients": "sha256"}


@dataclass(frozen=True)
class StoredCredential:
    """One credential: a Secret Token, a Basic user (hash: scrypt) or an OAuth client (name: client id)."""

    name: str
    hash: str  # SHA-256 hex of a minted secret, or the scrypt string of a Basic password
    scope: str = "scim"
    created: str = ""

    @property
    def can_write(self) -> bool:
        return self.scope == "scim"


@dataclass
class Credentials:
    tokens: list[StoredCredential] = field(default_factory=list)
    basic_users: list[StoredCredential] = field(default_factory=list)
    oauth_clients: list[StoredCredential] = field(default_factory=list)

    def of(self, kind: str) -> list[StoredCredential]:
        return getattr(self, kind)


def mint() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matching(token: str, stored: list[StoredCredential]) -> StoredCredential | None:
    """The stored token this one hashes to; compares against every entry, in constant time."""
    presented = digest(token).encode()
    found = None
    for candidate in stored:
        if hmac.compare_digest(presented, candidate.hash.encode()):
            found = candidate
    return found


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CredentialFile:
    """The credentials of one tenant, re-read whenever the file's modification time or size changes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._credentials = Credentials()

    def credentials(self) -> Credentials:
        """The file's credentials; CredentialsUnreadable (a 503, never a 500) if it cannot be read."""
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        except FileNotFoundError:
            return Credentials()
        except OSError as error:
            raise CredentialsUnreadable(self.path, error.strerror) from None
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._credentials = read_credentials(self.path)
                except OSError as error:
                    raise CredentialsUnreadable(self.path, error.strerror) from None
                except (yaml.YAMLError, KeyError, TypeError, AttributeError):
                    raise CredentialsUnreadable(self.path, "not a credentials file written by scim-gateway") from None
                self._stamp = stamp
            return self._credentials

    def tokens(self) -> list[StoredCredential]:
        return list(self.credentials().tokens)

    def add(self, name: str, scope: str = "scim", replace: bool = False, owner: Owner | None = None) -> str:
        """Mint a Secret Token, store its hash, return the token (the only time it exists in clear)."""
        token = mint()
        self.store("tokens", StoredCredential(name, digest(token), scope, now()), replace, owner)
        return token

    def store(self, kind: str, entry: StoredCredential, replace: bool = False, owner: Owner | None = None) -> None:
        """Add `entry` to its kind; an entry of that kind with its name is replaced only when
        `replace` says so (replacing revokes the old secret), else CredentialExists."""
        credentials = read_credentials(self.path) if self.path.exists() else Credentials()
        if not replace and any(e.name == entry.name for e in credentials.of(kind)):
            raise CredentialExists(entry.name)
        entries = [e for e in credentials.of(kind) if e.name != entry.name]
        setattr(credentials, kind, [*entries, entry])
        write_credentials(self.path, credentials, owner)

    def revoke(self, kind: str, name: str, owner: Owner | None = None) -> bool:
        credentials = read_credentials(self.path) if self.path.exists() else Credentials()
        kept = [e for e in credentials.of(kind) if e.name != name]
        if len(kept) == len(credentials.of(kind)):
            return False
        setattr(credentials, kind, kept)
        write_credentials(self.path, credentials, owner)
        return True


class CredentialsUnreadable(Exception):
    """The credentials file cannot be read (say, root's 0600 under the service user); str() says
    which file, why, and as which user, for the log."""

    def __init__(self, path: Path, why: str | None):
        super().__init__(f"cannot read the credentials file {path} as user {service_user()}: {why}")


class CredentialExists(ValueError):
    """A credential of that kind already has this name (and replacing it would revoke it)."""


def read_credentials(path: Path) -> Credentials:
    data = yaml.safe_load(path.read_text()) or {}
    credentials = Credentials()
    for kind, hash_key in KINDS.items():
        setattr(
            credentials,
            kind,
            [
                StoredCredential(
                    str(item["name"]),
                    str(item[hash_key]),
                    str(item.get("scope", "scim")),
                    str(item.get("created", "")),
                )
                for item in data.get(kind) or []
            ],
        )
    return credentials


def write_credentials(path: Path, credentials: Credentials, owner: Owner | None = None) -> None:
    """Write the whole file or nothing. An existing file keeps its owner and mode (so a root
    shell does not take it away from the service user); a new one, and any folder it needs,
    belongs to `owner`, else to the owner of the folder it lands in, with mode 0600."""
    body = {}
    for kind, hash_key in KINDS.items():
        entries = credentials.of(kind)
        if entries:
            body[kind] = [{"name": e.name, hash_key: e.hash, "scope": e.scope, "created": e.created} for e in entries]
    text = "# Written by `scim-gateway token|basic|client`; holds hashes only.\n" + yaml.safe_dump(
        body, sort_keys=False
    )
    mode = 0o600
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        owner = owner or Owner.of(path)
    else:
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        owner = owner or (Owner.of(folder) if os.getuid() == 0 else None)
        make_folders(path.parent, owner)
    write_private(path, text, mode, owner)


def read_tokens(path: Path) -> list[StoredCredential]:
    return read_credentials(path).tokens


def write_tokens(path: Path, tokens: list[StoredCredential]) -> None:
    """A file holding these Secret Tokens and nothing else (the quick start's: one per run)."""
    write_credentials(path, Credentials(tokens=list(tokens)))
