"""Secret Tokens: minted here, shown once, stored only as SHA-256 hashes, checked in constant time.

A token is 256 random bits, so a single unsalted SHA-256 is enough to make the stored hash
useless to whoever reads the file (there is nothing to brute-force); a slow password hash
would only slow down every request.

The token file is YAML written by `scim-gateway token ...` (never by hand):
    tokens:
      - {name: entra, sha256: <hex>, scope: scim, created: 2026-11-23T12:00:00Z}
It is re-read when it changes, so a revoked token stops working without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

PREFIX = "scimgw_"  # lets secret scanners and humans recognise a leaked token


@dataclass(frozen=True)
class StoredToken:
    name: str
    sha256: str
    scope: str = "scim"
    created: str = ""


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


class TokenFile:
    """The tokens of one tenant, re-read whenever the file's modification time changes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._tokens: list[StoredToken] = []

    def tokens(self) -> list[StoredToken]:
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            return []
        with self._lock:
            if stamp != self._stamp:
                self._tokens = read_tokens(self.path)
                self._stamp = stamp
            return list(self._tokens)

    def add(self, name: str, scope: str = "scim") -> str:
        """Mint a token, store its hash, return the token (the only time it exists in clear)."""
        token = mint()
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries = [t for t in read_tokens(self.path) if t.name != name] if self.path.exists() else []
        entries.append(StoredToken(name, digest(token), scope, created))
        write_tokens(self.path, entries)
        return token


def read_tokens(path: Path) -> list[StoredToken]:
    data = yaml.safe_load(path.read_text()) or {}
    return [
        StoredToken(
            str(item["name"]), str(item["sha256"]), str(item.get("scope", "scim")), str(item.get("created", ""))
        )
        for item in data.get("tokens") or []
    ]


def write_tokens(path: Path, tokens: list[StoredToken]) -> None:
    """Write atomically (rename), readable by the owner only."""
    body = {"tokens": [t.__dict__ for t in tokens]}
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Written by `scim-gateway token`; holds hashes only.\n")
        yaml.safe_dump(body, handle, sort_keys=False)
    os.replace(temporary, path)
