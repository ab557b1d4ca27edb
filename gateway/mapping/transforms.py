"""Value transforms between a SCIM value and a directory value, in both directions.

Each transform also says how a SCIM filter comparison reads in directory terms, so that
`active eq false` becomes `(pwdAccountLockedTime=*)` instead of an unanswerable question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.directory import (
    NOTHING,
    Exists,
    Match,
    Query,
    all_of,
    any_of,
    negate,
)
from gateway.scim.errors import invalid_filter, invalid_value

PPOLICY_LOCKED = "000001010000Z"  # ppolicy's "locked by an administrator, until unlocked"


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return left == right


@dataclass(frozen=True)
class Identity:
    """The value as it is; booleans as LDAP's TRUE/FALSE."""

    scim_type: str = "string"

    def to_directory(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        return str(value)

    def to_scim(self, value: str | None) -> Any:
        if value is None:
            return None
        if self.scim_type == "boolean":
            return value.strip().upper() == "TRUE"
        if self.scim_type == "integer":
            try:
                return int(value)
            except ValueError:
                return value
        return value

    def query(self, attribute: str, op: str, value: Any) -> Query:
        directory_value = self.to_directory(value)
        if directory_value is None:
            return negate(Exists(attribute)) if op == "eq" else Exists(attribute)
        if op == "ne":
            return negate(Match(attribute, "eq", directory_value))
        return Match(attribute, op, directory_value)


@dataclass(frozen=True)
class ValueMap:
    """A table of (SCIM value, directory value) pairs; a directory value of None means 'absent'.

    Writing takes the first pair whose SCIM value matches (else `default`, else a 400);
    reading takes the first pair whose directory value matches (else `read_default`).
    """

    pairs: tuple[tuple[Any, str | None], ...]
    default: str | None = None
    read_default: Any = None
    has_default: bool = False

    def to_directory(self, value: Any) -> str | None:
        if value is None:
            return None
        for scim_value, directory_value in self.pairs:
            if _same(scim_value, value):
                return directory_value
        if self.has_default:
            return self.default
        choices = ", ".join(repr(s) for s, _ in self.pairs)
        raise invalid_value(f"{value!r} is not one of the values this gateway maps ({choices})")

    def to_scim(self, value: str | None) -> Any:
        for scim_value, directory_value in self.pairs:
            if (directory_value is None and value is None) or (
                directory_value is not None and value is not None and _same(directory_value, value)
            ):
                return scim_value
        return None if value is None else self.read_default

    def query(self, attribute: str, op: str, value: Any) -> Query:
        if op not in ("eq", "ne"):
            raise invalid_filter(f"'{op}' cannot compare a mapped value; only eq and ne can")
        known = [d for _, d in self.pairs if d is not None]
        options: list[Query] = []
        for scim_value, directory_value in self.pairs:
            if _same(scim_value, value):
                options.append(
                    negate(Exists(attribute)) if directory_value is None else Match(attribute, "eq", directory_value)
                )
        if self.read_default is not None and _same(self.read_default, value):
            options.append(all_of(Exists(attribute), negate(any_of(*(Match(attribute, "eq", d) for d in known)))))
        matched = any_of(*options) if options else NOTHING
        return negate(matched) if op == "ne" else matched


def disable_strategy(spec: Any) -> ValueMap:
    """`disable:` presets for `active`, compiled into a value map."""
    if spec == "ppolicy-lock":
        # Any lock (also one set by failed binds) reads back as inactive.
        return ValueMap(((True, None), (False, PPOLICY_LOCKED)), read_default=False)
    enabled, disabled = spec["enabled"], spec["disabled"]
    # An entry with no value at all was never disabled by anyone: it reads as active.
    return ValueMap(((True, enabled), (False, disabled), (True, None)), read_default=False)
