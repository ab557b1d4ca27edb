"""Cursor-based pagination (RFC 9865), on top of positioned pages.

A cursor is opaque to the client; here it is the position of the next page and a fingerprint of
the filter it belongs to, base64url-encoded. It holds no server state, so any worker can take
the next page, and it never expires. Pages cost a page because the backend positions cheaply
(the LDAP backend: VLV, gateway/backends/ldap/vlv.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from gateway.scim.errors import invalid_cursor


def _fingerprint(filter_text: str | None) -> str:
    return hashlib.sha256((filter_text or "").encode()).hexdigest()[:12]


def encode(start: int, filter_text: str | None) -> str:
    raw = json.dumps({"i": start, "f": _fingerprint(filter_text)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, filter_text: str | None) -> int:
    """The 1-based position a cursor names; "" is the first page."""
    if cursor == "":
        return 1
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        start, fingerprint = data["i"], data["f"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise invalid_cursor("the cursor is not one this gateway gave out; start again with cursor=") from None
    if not isinstance(start, int) or start < 1:
        raise invalid_cursor("the cursor is not one this gateway gave out; start again with cursor=")
    if fingerprint != _fingerprint(filter_text):
        raise invalid_cursor("the cursor belongs to a listing with another filter; send the same filter with it")
    return start
