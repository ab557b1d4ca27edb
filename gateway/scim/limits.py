"""How much one request may ask of the gateway, and the JSON reader that keeps to it.

Pure: the numbers come from each tenant's `limits:` settings. Every bound is answered with a
400 that says which bound and how to stay under it, never with a crash: without them a body
of 2,000 `[` made Python's JSON reader overflow its stack (a 500, found by tests/fuzz), and a
long filter could nest deeper than the translator could follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.scim.errors import invalid_syntax


@dataclass(frozen=True)
class Limits:
    json_depth: int = 32  # a SCIM body nests 5 deep at most (PatchOp > Operations > op > value > list > object)
    filter_length: int = 4096  # characters of a `filter` or a PATCH `path`
    filter_depth: int = 32  # parentheses, `not` and `[...]` nested in one filter
    patch_operations: int = 1000  # operations in one PATCH (Entra sends one per changed attribute)


DEFAULT_LIMITS = Limits()


def parse_json(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A request body as JSON; anything unreadable or nested deeper than allowed is a 400."""
    if not raw:
        raise invalid_syntax("the request needs a JSON body")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _too_deep(limits) from None
    except ValueError as error:
        raise invalid_syntax(f"the request body is not valid JSON: {error}") from None
    if depth(value) > limits.json_depth:
        raise _too_deep(limits)
    return value


def depth(value: Any) -> int:
    """How deeply lists and objects nest (a scalar is 0); iterative, so no input can overflow it.

    Also refuses text no directory can store: JSON's `\\ud800` escape decodes to half a UTF-16
    pair, which Python holds but cannot encode (found by tests/fuzz: a 500 at the LDAP write).
    """
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, str):
            check_text(item)
            continue
        if isinstance(item, dict):
            for key in item:
                check_text(key)
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest


def check_text(text: str) -> str:
    """`text`, if it is valid Unicode (no unpaired surrogate); else a 400."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        # The text itself is not repeated: it may be anything, a password included.
        raise invalid_syntax(f"a string holds an unpaired UTF-16 surrogate at character {error.start + 1}") from None
    return text


def _too_deep(limits: Limits):
    return invalid_syntax(f"the request body nests lists and objects deeper than {limits.json_depth} levels")
