"""Queries answered the API's way: by id, by the lookups the map declares, or not at all.

The API is asked only what it can answer exactly (`GET /employees/{id}`, `?login=...`), and
whatever it returns is then checked against the whole query here. So `id eq ... and manager
eq ...` works (read one record, check the manager), and an API that ignores a parameter cannot
make the gateway answer with the wrong user. A query with nothing the API can look up is
refused (UnsupportedQuery, a 400 invalidFilter): the gateway never downloads every record to
filter them itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.backends.base import UnsupportedQuery
from gateway.backends.rest.target import Lookup, RestSpec, RestTarget
from gateway.operators import holds
from gateway.store import EVERYTHING, AllOf, AnyOf, Exists, Match, Negate, Query, Record, Ref, Value


@dataclass(frozen=True)
class Plan:
    """What to ask the API: everything (a plain list), one id, or records by field values."""

    everything: bool = False
    id: str | None = None
    lookups: tuple[tuple[Lookup, str], ...] = ()


def plan(query: Query, spec: RestSpec, target: RestTarget) -> Plan:
    if query == EVERYTHING:
        return Plan(everything=True)
    clauses = query.items if isinstance(query, AllOf) else (query,)
    id = None
    lookups = []
    for clause in clauses:
        if not isinstance(clause, Match) or clause.op != "eq":
            continue
        value = _text(clause.value)
        if value is None:
            continue
        if clause.attribute.lower() == spec.id_attribute.lower():
            id = value
        elif (lookup := target.lookup(clause.attribute)) is not None:
            lookups.append((lookup, value))
    if id is None and not lookups:
        raise UnsupportedQuery(_cannot(spec, target))
    return Plan(id=id, lookups=tuple(lookups))


def _cannot(spec: RestSpec, target: RestTarget) -> str:
    fields = [spec.id_attribute, *(lookup.field for lookup in target.search)]
    return (
        f"the API finds {spec.kind} only by {', '.join(fields)} (eq, alone or joined by 'and'); "
        f"this filter would need every {spec.kind[:-1]} downloaded, which the gateway does not do"
    )


def _text(value: Value) -> str | None:
    if isinstance(value, Ref):
        return value.locator or value.id
    if isinstance(value, str):
        return value
    return None  # a date is nothing an API can look up exactly


def matches(query: Query, record: Record) -> bool:
    """Whether a record read from the API satisfies the query (strings compare case-insensitively)."""
    if isinstance(query, AllOf):
        return all(matches(item, record) for item in query.items)
    if isinstance(query, AnyOf):
        return any(matches(item, record) for item in query.items)
    if isinstance(query, Negate):
        return not matches(query.inner, record)
    if isinstance(query, Exists):
        return bool(record.get(query.attribute.lower()))
    if isinstance(query, Match):
        return any(_compare(stored, query.op, query.value) for stored in record.get(query.attribute.lower(), []))
    raise TypeError(f"not a query: {query!r}")


def _compare(stored: Value, op: str, wanted: Value) -> bool:
    if isinstance(wanted, Ref) or isinstance(stored, Ref):
        return op == "eq" and (_text(stored) or "").lower() == (_text(wanted) or "").lower()
    if isinstance(wanted, datetime):
        moment = _moment(stored)
        if moment is None:
            return False
        return holds(moment, op, _aware(wanted))
    return holds(str(stored).lower(), op, str(wanted).lower())


def _moment(value: Value) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    try:
        return _aware(datetime.fromisoformat(str(value).replace(" ", "T", 1)))
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
