"""The comparison operators SCIM filters use (eq co sw ew gt ge lt le), on plain values.

Shared by the PATCH engine (which evaluates value filters such as `emails[type eq "work"]`) and
by backends that must check a filter in memory (a REST API that cannot query every field).
"""

from __future__ import annotations

from typing import Any

OPERATORS = {
    "eq": lambda left, right: left == right,
    "co": lambda left, right: str(right) in str(left),
    "sw": lambda left, right: str(left).startswith(str(right)),
    "ew": lambda left, right: str(left).endswith(str(right)),
    "gt": lambda left, right: left > right,
    "ge": lambda left, right: left >= right,
    "lt": lambda left, right: left < right,
    "le": lambda left, right: left <= right,
}


# Every comparison a SCIM filter may name: the table's, and "ne" (not "eq").
COMPARISONS = frozenset({*OPERATORS, "ne"})


def same(left: Any, right: Any, case_exact: bool = False) -> bool:
    """Whether two plain values are equal the way SCIM and directories compare them: text
    regardless of case (unless the attribute is caseExact), a boolean only to a boolean."""
    if isinstance(left, str) and isinstance(right, str) and not case_exact:
        return left.lower() == right.lower()
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right  # True is not 1
    return left == right


def holds(left: Any, op: str, right: Any) -> bool:
    """`left <op> right`; values that cannot be ordered against each other never match."""
    try:
        return bool(OPERATORS[op](left, right))
    except TypeError:
        return False
