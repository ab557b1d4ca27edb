"""The request being served, visible to every layer without passing it down.

A `contextvars.ContextVar` holds one `RequestContext` while a request is served (set by the
web layer before anything else runs, cleared after the answer). Log lines written meanwhile
(the backends' included) carry its request id, the metrics label backend calls with its
tenant, and the audit trail takes who, from where and which operation from it. Outside a
request (start-up, reloads, the CLI) there is none, and every reader copes with that.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

# An X-Request-Id a client may choose: short and plain, so it can neither forge log fields nor
# flood a log line. Anything else is replaced by a fresh id.
PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class RequestContext:
    request_id: str
    method: str = ""
    path: str = ""
    client: str = "-"
    started: float = 0.0  # time.perf_counter() when the request was seen: its log line's duration
    tenant: str | None = None
    credential: str | None = None  # the credential's name, never the secret
    # Filled in as the request goes down the road; the request log line reports them.
    resource: str | None = None  # "Users", "Groups", ...
    scim_id: str | None = None
    name: str | None = None  # the userName (Groups: displayName) the request names
    locator: str | None = None  # the directory's key: a DN, an API id
    detail: str | None = None  # why the answer is not a 2xx
    extra: dict = field(default_factory=dict)
    # Audit lines whose outcome was unknown (a write in doubt) and whose request may yet find it
    # done: (trail, line), settled by trail.settle() when the answer is a success.
    unsettled: list = field(default_factory=list)
    # Writes a backend made on its own after the request's write (integrity.py: references to a
    # renamed or deleted entry), for the audit trail: (kind, key, changes, refusal or None).
    follow_ups: list = field(default_factory=list)


_current: ContextVar[RequestContext | None] = ContextVar("scim_gateway_request", default=None)


def request_id_from(header: str | None) -> str:
    """The client's X-Request-Id when it is short and plain, else a fresh one: 64 random bits
    as 16 hex digits (the first 16 of a uuid4's hex held 60, and cost more)."""
    if header and PLAIN_REQUEST_ID.fullmatch(header):
        return header
    return os.urandom(8).hex()


def begin(context: RequestContext) -> Token:
    return _current.set(context)


def end(token: Token) -> None:
    _current.reset(token)


def current() -> RequestContext | None:
    return _current.get()


def note(**fields: str | None) -> None:
    """Record what a layer learnt about the request (its id, name, directory key), if serving one.

    A value already known is kept: the first layer to learn it knows it best."""
    context = _current.get()
    if context is None:
        return
    for key, value in fields.items():
        if value and not getattr(context, key):
            setattr(context, key, value)


def follow_up(kind: str, key: str, changes: list[dict], refused: str | None = None) -> None:
    """Note a write the backend made on its own for the request being served (none: dropped,
    as outside a request nothing audits)."""
    serving = current()
    if serving is not None:
        serving.follow_ups.append((kind, key, changes, refused))
