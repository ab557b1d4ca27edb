"""Basic passwords, hashed with scrypt (Python's standard library; no dependency needed).

Unlike tokens, a Basic password may be chosen by a person, so it is salted and hashed slowly:
n=2**14, r=8 costs about 16 MiB and some tens of milliseconds, once per worker and password
(the authenticator remembers a verified password, keyed by its hash, for the process's life).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

N, R, P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    try:
        name, n, r, p, salt, key = stored.split("$")
        if name != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(key)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked for an unknown user name, so that a miss takes as long as a wrong password."""
    return hash_password(os.urandom(16).hex())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")
