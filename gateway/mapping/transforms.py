"""Value transforms between a SCIM value and directory values, in both directions.

A rule's transform is a `Chain`: zero or more steps on the SCIM value (`negate`, `case`),
then one encoder that decides how the value is written (`Identity`, a `ValueMap` for
`values:`/`boolean:`/`disable:`, `DateFormat`, `Split`). Writing runs the steps in order and
then the encoder; reading runs them backwards. Each part also says

- how a SCIM filter comparison reads in directory terms (`query`), so that `active eq false`
  becomes `(pwdAccountLockedTime=*)` instead of an unanswerable question, and which filter
  operators survive it (`ops`);
- whether it gives back what Entra sent (`loss`: None, or an example of what it loses), which
  `mapping check` turns into "Entra will see a change every cycle".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.operators import COMPARISONS, same
from gateway.scim.errors import invalid_filter, invalid_value
from gateway.store import (
    EVERYTHING,
    NOTHING,
    Exists,
    Flags,
    Match,
    Query,
    Value,
    all_of,
    any_of,
    negate,
)

PPOLICY_LOCKED = "000001010000Z"  # ppolicy's "locked by an administrator, until unlocked"
EQUALITY = frozenset({"eq", "ne"})
ISO_8601 = "%Y-%m-%dT%H:%M:%SZ"
GENERALIZED_TIME = "%Y%m%d%H%M%SZ"


def _equality(attribute: str, op: str, directory_value: str | None) -> Query:
    if directory_value is None:
        return negate(Exists(attribute)) if op == "eq" else Exists(attribute)
    if op == "ne":
        return negate(Match(attribute, "eq", directory_value))
    return Match(attribute, op, directory_value)


# --- encoders: how a value is written -----------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """The value as it is; booleans as LDAP's TRUE/FALSE."""

    scim_type: str = "string"
    ops = COMPARISONS
    loss = None

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
        return _equality(attribute, op, self.to_directory(value))


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
    ops = EQUALITY

    def to_directory(self, value: Any) -> str | None:
        if value is None:
            return None
        for scim_value, directory_value in self.pairs:
            if same(scim_value, value):
                return directory_value
        if self.has_default:
            return self.default
        choices = ", ".join(repr(s) for s, _ in self.pairs)
        raise invalid_value(f"{value!r} is not one of the values this gateway maps ({choices})")

    def to_scim(self, value: str | None) -> Any:
        for scim_value, directory_value in self.pairs:
            if (directory_value is None and value is None) or (
                directory_value is not None and value is not None and same(directory_value, value)
            ):
                return scim_value
        return None if value is None else self.read_default

    def when_missing(self) -> str | None:
        """What a computed attribute holds when its source has no value: the default, if any."""
        return self.default if self.has_default else None

    def query(self, attribute: str, op: str, value: Any) -> Query:
        known = [d for _, d in self.pairs if d is not None]
        options: list[Query] = []
        for scim_value, directory_value in self.pairs:
            if same(scim_value, value):
                options.append(
                    negate(Exists(attribute)) if directory_value is None else Match(attribute, "eq", directory_value)
                )
        if self.read_default is not None and same(self.read_default, value):
            options.append(all_of(Exists(attribute), negate(any_of(*(Match(attribute, "eq", d) for d in known)))))
        matched = any_of(*options) if options else NOTHING
        return negate(matched) if op == "ne" else matched

    @property
    def loss(self) -> str | None:
        first_by_directory: dict[str, Any] = {}
        for scim_value, directory_value in self.pairs:
            key = (directory_value or "").lower()
            if key in first_by_directory and not same(first_by_directory[key], scim_value):
                if directory_value is None:
                    continue  # "absent" often stands for one value and reads as it: the ppolicy lock
                return (
                    f"{scim_value!r} and {first_by_directory[key]!r} are both written as {directory_value!r}, "
                    f"which reads back as {first_by_directory[key]!r}"
                )
            first_by_directory.setdefault(key, scim_value)
        if self.has_default and self.read_default is None:
            return f"a value the map does not list is written as {self.default!r} and reads back as nothing"
        return None


@dataclass(frozen=True)
class DateFormat:
    """A date written in the directory's format, read back in the SCIM format."""

    directory_format: str = GENERALIZED_TIME
    scim_format: str = ISO_8601
    ops = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
    loss = None  # a value sent in `scim_format` comes back exactly so

    def to_directory(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        return self.parse_scim(str(value)).strftime(self.directory_format)

    def parse_scim(self, text: str) -> datetime:
        try:
            return datetime.strptime(text, self.scim_format)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            example = datetime(2026, 1, 31, 9, 30).strftime(self.scim_format)
            raise invalid_value(f"{text!r} is not a date like {example!r}") from None
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

    def to_scim(self, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return datetime.strptime(value, self.directory_format).strftime(self.scim_format)
        except ValueError:
            return value  # written by someone else: show it as it is

    def query(self, attribute: str, op: str, value: Any) -> Query:
        return _equality(attribute, op, self.to_directory(value))


@dataclass(frozen=True)
class Split:
    """One SCIM string (Entra's custom attributes are single-valued) as several directory values."""

    separator: str
    ops = EQUALITY
    loss = None  # empty pieces are dropped; everything else joins back exactly

    def to_directory(self, value: Any) -> list[str]:
        if value in (None, ""):
            return []
        return [piece for piece in str(value).split(self.separator) if piece]

    def to_scim(self, values: Sequence[str]) -> Any:
        return self.separator.join(values) if values else None

    def query(self, attribute: str, op: str, value: Any) -> Query:
        pieces = self.to_directory(value)
        matched = all_of(*(Match(attribute, "eq", p) for p in pieces)) if pieces else negate(Exists(attribute))
        return negate(matched) if op == "ne" else matched


@dataclass(frozen=True)
class BitFlag:
    """A boolean kept as one bit of a number (AD's userAccountControl 0x2, "account disabled"):
    written as Flags that set or clear that bit only, read from that bit only, and filtered
    with the bitwise-and matching rule. `set_means` is the SCIM value the set bit stands for."""

    bit: int
    base: int  # a new entry's number before the bit (AD: 512, a normal account)
    set_means: bool = False
    ops = EQUALITY
    loss = None

    def to_directory(self, value: Any) -> Flags | None:
        if value is None:
            return None
        if bool(value) == self.set_means:
            return Flags(set=self.bit, base=self.base)
        return Flags(clear=self.bit, base=self.base)

    def to_scim(self, value: str | None) -> Any:
        try:
            number = int(str(value))
        except ValueError:
            return None
        return bool(number & self.bit) == self.set_means

    def query(self, attribute: str, op: str, value: Any) -> Query:
        is_set = Match(attribute, "bits", str(self.bit))
        matched = is_set if bool(value) == self.set_means else all_of(Exists(attribute), negate(is_set))
        return negate(matched) if op == "ne" else matched


# --- steps: what happens to the SCIM value before it is encoded ---------------------------


@dataclass(frozen=True)
class Negate:
    """true <-> false: ALVAO's "active (negated value)" into an "account disabled" flag."""

    ops = EQUALITY
    loss = None

    def to_directory(self, value: Any) -> Any:
        return None if value is None else not value

    def to_scim(self, value: Any) -> Any:
        return None if value is None else not value


@dataclass(frozen=True)
class Case:
    """lower or upper case on the way in; read back as stored."""

    mode: str  # "lower" or "upper"
    ops = COMPARISONS

    def to_directory(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.lower() if self.mode == "lower" else value.upper()

    def to_scim(self, value: Any) -> Any:
        return value

    @property
    def loss(self) -> str:
        example = "Alice@Contoso.com"
        return f"case: {self.mode} writes {example!r} as {self.to_directory(example)!r}, and that is what reads back"


Encoder = Identity | ValueMap | DateFormat | Split | BitFlag
Step = Negate | Case


@dataclass(frozen=True)
class Chain:
    """A rule's whole transform: steps on the SCIM value, then the encoder."""

    encoder: Encoder = Identity()
    steps: tuple[Step, ...] = ()

    @property
    def parts(self) -> tuple:
        return (*self.steps, self.encoder)

    @property
    def splits(self) -> bool:
        return isinstance(self.encoder, Split)

    @property
    def loss(self) -> str | None:
        return next((part.loss for part in self.parts if part.loss), None)

    def to_directory(self, value: Any) -> list[Value]:
        for step in self.steps:
            value = step.to_directory(value)
        written = self.encoder.to_directory(value)
        if written is None:
            return []
        return list(written) if isinstance(written, list) else [written]

    def to_scim(self, values: Sequence[Value]) -> Any:
        """The SCIM value for an attribute's directory values (one, or all of them for split)."""
        texts = [v if isinstance(v, str) else str(v) for v in values]  # what a directory stores is text
        if isinstance(self.encoder, Split):
            value = self.encoder.to_scim(texts)
        else:
            value = self.encoder.to_scim(texts[0] if texts else None)
        for step in reversed(self.steps):
            value = step.to_scim(value)
        return value

    def when_missing(self) -> list[Value]:
        """What is written when the SCIM value is absent: only a value map can say "absent is X"."""
        value = self.encoder.when_missing() if isinstance(self.encoder, ValueMap) else None
        return [] if value is None else [value]

    def query(self, attribute: str, op: str, value: Any) -> Query:
        for part in self.parts:
            if op not in part.ops:
                raise invalid_filter(f"'{op}' cannot compare a value stored through {_name(part)}; only eq and ne can")
        for step in self.steps:
            value = step.to_directory(value)
        return self.encoder.query(attribute, op, value)

    def present(self, attribute: str) -> Query:
        """`attr pr`: a value map may store a value as "absent", so every entry has one."""
        if isinstance(self.encoder, ValueMap) and any(d is None for _, d in self.encoder.pairs):
            return EVERYTHING
        return Exists(attribute)


def _name(part: Any) -> str:
    return {
        ValueMap: "a value map",
        DateFormat: "a date format",
        Split: "split",
        BitFlag: "a bit flag",
        Negate: "negate",
        Case: "case",
    }.get(type(part), type(part).__name__)


AD_ACCOUNT_DISABLED = 0x2
AD_NORMAL_ACCOUNT = 0x200
DISABLE_PRESETS = ("ppolicy-lock", "389-account-lock", "ad-account-control")


def disable_strategy(spec: Any) -> ValueMap | BitFlag:
    """`disable:` presets for `active`, compiled into a value map (or a bit of a number)."""
    if spec == "ppolicy-lock":
        # Any lock (also one set by failed binds) reads back as inactive.
        return ValueMap(((True, None), (False, PPOLICY_LOCKED)), read_default=False)
    if spec == "389-account-lock":
        # 389 DS's nsAccountLock: TRUE refuses binds; absent (or FALSE) is an active account.
        return ValueMap(((True, None), (False, "TRUE"), (True, "FALSE")), read_default=False)
    if spec == "ad-account-control":
        return BitFlag(AD_ACCOUNT_DISABLED, AD_NORMAL_ACCOUNT, set_means=False)
    enabled, disabled = spec["enabled"], spec["disabled"]
    # An entry with no value at all was never disabled by anyone: it reads as active.
    return ValueMap(((True, enabled), (False, disabled), (True, None)), read_default=False)


def boolean_format(true_text: str, false_text: str) -> ValueMap:
    """`boolean: {true: Y, false: N}`: how a directory without LDAP booleans spells them."""
    return ValueMap(((True, true_text), (False, false_text)))
