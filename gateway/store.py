"""The neutral vocabulary between the mapping and the backends.

The mapping speaks SCIM on one side and this on the other; a backend speaks this on one side
and LDAP or HTTP on the other. Nothing here does I/O or knows SCIM JSON.

- A record is `{attribute name (lower case): [values]}`; an empty or missing list is "no value".
- A `Ref` is a value that points at another object by its SCIM id (a manager, a member);
  the backend turns it into its own form (a DN) on writes and back into an id on reads.
- A `Query` is a small boolean tree over record attributes that a backend renders in its own
  language (an LDAP filter, API query parameters), escaping values as it renders them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.operators import same


@dataclass(frozen=True)
class Ref:
    """A reference to another object of `kind` ("users" or "groups").

    A Ref the mapping makes carries the SCIM id; a Ref a backend reads carries its own
    locator (a DN). `Backend.resolve` fills in the other half, for a whole request at once.
    """

    kind: str
    id: str | None = None
    locator: str | None = None

    def same(self, other: object) -> bool:
        if not isinstance(other, Ref) or other.kind != self.kind:
            return False
        if self.id and other.id:
            return self.id.lower() == other.id.lower()
        return bool(self.locator and other.locator and self.locator.lower() == other.locator.lower())


@dataclass(frozen=True)
class Flags:
    """Bits to set and to clear in a number the directory keeps, every other bit left alone
    (AD's userAccountControl: 0x2 is "disabled", 0x10000 "password never expires", ...).

    The backend applies it to the value the entry holds; a new entry starts from `base`.
    """

    set: int = 0
    clear: int = 0
    base: int = 0

    def apply(self, current: int | None) -> int:
        return ((self.base if current is None else current) | self.set) & ~self.clear

    def __str__(self) -> str:
        return str(self.apply(None))


Value = str | Ref | datetime | Flags
Record = dict[str, list[Value]]


@dataclass
class Entry:
    """One object as a backend returns it."""

    id: str
    attributes: Record
    locator: str = ""  # the backend's own handle (an LDAP DN); never shown to SCIM clients
    created: str | None = None
    modified: str | None = None


@dataclass(frozen=True)
class Change:
    """One attribute change: replace its values, or add/delete just these values."""

    attribute: str
    op: str  # "replace", "add" or "delete"
    values: tuple[Value, ...] = ()


def references(value_lists: Iterable[Iterable[Value]]) -> list[Ref]:
    """The Refs among some values, in order: `references(record.values())`, or of changes
    `references(c.values for c in changes)`."""
    return [value for values in value_lists for value in values if isinstance(value, Ref)]


def same_value(left: Value, right: Value, case_fold: bool = True) -> bool:
    """Whether two record values are the same one: a Ref by its id (or, lacking ids, its locator),
    also against the bare id or locator a backend stores; text regardless of case unless told."""
    if isinstance(left, Ref) and isinstance(right, Ref):
        return left.same(right)
    if isinstance(left, Ref):
        left = left.id or left.locator or ""
    if isinstance(right, Ref):
        right = right.id or right.locator or ""
    return same(left, right, case_exact=not case_fold)


def applied(record: Record, changes: Iterable[Change]) -> Record:
    """The record after the changes: a replace sets the values given, an add adds those not held
    yet, a delete removes those given (values compare as `same_value` says, as directories and
    APIs compare them). An attribute left without values keeps an empty list: "no value"."""
    after = {name: list(values) for name, values in record.items()}
    for change in changes:
        key = change.attribute.lower()
        held = after.get(key, [])
        if change.op == "replace":
            held = list(change.values)
        elif change.op == "add":
            held = held + [v for v in change.values if not any(same_value(v, h) for h in held)]
        else:
            held = [h for h in held if not any(same_value(v, h) for v in change.values)]
        after[key] = held
    return after


@dataclass(frozen=True)
class Page:
    total: int
    entries: list[Entry] = field(default_factory=list)


# --- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """`attribute <op> value` with op one of eq co sw ew gt ge lt le, or `bits`: every bit of
    the integer value is set in the attribute (LDAP's bitwise-and matching rule)."""

    attribute: str
    op: str
    value: Value


@dataclass(frozen=True)
class Exists:
    attribute: str


@dataclass(frozen=True)
class AllOf:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class Negate:
    inner: Query


Query = Match | Exists | AllOf | AnyOf | Negate

EVERYTHING: Query = AllOf(())
NOTHING: Query = AnyOf(())


def all_of(*items: Query) -> Query:
    """A conjunction, simplified: NOTHING absorbs, EVERYTHING drops out."""
    flat: list[Query] = []
    for item in items:
        if item == NOTHING:
            return NOTHING
        if isinstance(item, AllOf):
            flat.extend(item.items)
        else:
            flat.append(item)
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def any_of(*items: Query) -> Query:
    """A disjunction, simplified: EVERYTHING absorbs, NOTHING drops out."""
    flat: list[Query] = []
    for item in items:
        if item == EVERYTHING:
            return EVERYTHING
        if isinstance(item, AnyOf):
            flat.extend(item.items)
        else:
            flat.append(item)
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


def negate(item: Query) -> Query:
    if item == EVERYTHING:
        return NOTHING
    if item == NOTHING:
        return EVERYTHING
    if isinstance(item, Negate):
        return item.inner
    return Negate(item)
