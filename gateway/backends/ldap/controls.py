"""The LDAP controls that keep round trips down and writes safe.

- post-read (RFC 4527): the entry as it is after an add/modify/modDN, in the same response.
- assertion (RFC 4528): "only if this DN still is the entry with this entryUUID", so a DN
  remembered from an earlier request can be used without searching for it again.
- permissive modify (MS-ADTS, honoured by OpenLDAP): adding a value that is already there
  succeeds, so "add member" is idempotent as Entra expects.
- matched values (RFC 3876): read only the values of an attribute that match, e.g. which of
  ten DNs are members of a 20,000-member group, without reading the other 19,990.

Each is sent only to a directory that supports it (capabilities.py says which, and what the
backend does instead), always marked critical: a directory that cannot honour one must refuse
the write rather than make it without the safety it promised.
"""

from __future__ import annotations

from functools import lru_cache

from ldap3.operation.search import compile_filter, parse_filter
from ldap3.protocol.controls import build_control
from ldap3.protocol.rfc4511 import EqualityMatch
from ldap3.protocol.rfc4527 import post_read_control
from pyasn1.type.univ import SequenceOf

from gateway.backends.ldap import wire
from gateway.backends.ldap.capabilities import ASSERTION, MATCHED_VALUES, PERMISSIVE_MODIFY

__all__ = ["assertion", "kept", "matched_values", "permissive_modify", "post_read"]


# Building a control's value with pyasn1 costs about as much CPU as the LDAP operation it rides on
# (0.4 ms for a 20-attribute post-read). The same attribute list comes with every write of a kind
# and the same id with each request about one user (update, disable, delete), so each value is
# encoded once and kept as an immutable (oid, criticality, BER bytes) triple, which ldap3 takes
# as it is and which threads can share.


def kept(control) -> tuple[str, bool, bytes]:
    """A control as the triple both clients take (ldap3, and libldap.py's)."""
    return str(control["controlType"]), bool(control["criticality"]), bytes(control["controlValue"])


def post_read(attributes: list[str]):
    return _post_read(tuple(attributes))


@lru_cache(maxsize=256)
def _post_read(attributes: tuple[str, ...]):
    return kept(post_read_control(list(attributes)))


@lru_cache(maxsize=4096)
def assertion(ldap_filter: str):
    """The operation only applies if the target entry matches `ldap_filter` (else result 122).
    The gateway asserts one equality, `(entryUUID=...)`: written by wire.py in a few µs; a
    filter wire.py leaves goes through ldap3's parser and pyasn1 (about 70 µs)."""
    try:
        return ASSERTION, True, wire.filter_bytes(ldap_filter)
    except wire.Unsupported:
        parsed = parse_filter(ldap_filter, None, False, False, None, False)
        return kept(build_control(ASSERTION, True, compile_filter(parsed.elements[0])))


def permissive_modify():
    return (PERMISSIVE_MODIFY, True, None)


class _EqualityMatches(SequenceOf):
    # ValuesReturnFilter ::= SEQUENCE OF SimpleFilterItem; we only ever need equalityMatch [3].
    componentType = EqualityMatch()


def matched_values(attribute: str, values: list[str]):
    """Return only the values of `attribute` that equal one of `values`."""
    items = _EqualityMatches()
    for position, value in enumerate(values):
        item = EqualityMatch()
        item["attributeDesc"] = attribute
        item["assertionValue"] = value.encode("utf-8")
        items.setComponentByPosition(position, item)
    return kept(build_control(MATCHED_VALUES, True, items))
