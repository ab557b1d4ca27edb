"""LDAP results: result codes as backend errors, search responses as Entries."""

from __future__ import annotations

import logging

import ldap3

from gateway.backends.base import AlreadyExists, BackendError, InvalidData, NotFound, Unavailable
from gateway.backends.ldap.compose import GUID_ATTRIBUTES, guid_text, iso_time
from gateway.backends.ldap.target import LdapSpec
from gateway.store import Entry, Record, Ref

log = logging.getLogger(__name__)

REFUSED_VALUES = {16, 17, 18, 19, 20, 21, 34, 64, 65, 66, 67, 69}
UNAVAILABLE = {3, 51, 52, 80}
SIZE_LIMIT_EXCEEDED = 4
NO_SUCH_ATTRIBUTE = 16
OBJECT_CLASS_VIOLATION = 65
NO_SUCH_OBJECT = 32
ALREADY_EXISTS = 68
ASSERTION_FAILED = 122
ADMIN_LIMIT_EXCEEDED = 11
# A member value that is already there / not there: OpenLDAP and 389 say attributeOrValueExists
# and noSuchAttribute; AD (and Samba) say entryAlreadyExists and unwillingToPerform.
VALUE_PRESENT = frozenset({20, ALREADY_EXISTS})
VALUE_ABSENT = frozenset({NO_SUCH_ATTRIBUTE, 53})
POST_READ = "1.3.6.1.1.13.2"


class StaleLocator(Exception):
    """A remembered DN no longer names the entry with that id (noSuchObject or assertionFailed)."""


def code(connection: ldap3.Connection) -> int:
    return (connection.result or {}).get("result", 0)


def check(
    connection: ldap3.Connection, allow: frozenset[int] | set[int] = frozenset(), base: str | None = None
) -> None:
    """Raise the backend error for a failed operation; its message is safe to show a client.
    `base`: the map's search base (for a search there) or the parent of an added entry. A
    noSuchObject then means the directory lacks what the map relies on: the operator's to fix,
    so a 503 and a log line naming it, never a 404 Entra would act on."""
    result = connection.result or {}
    number = result.get("result", 0)
    if number == 0 or number in allow:
        return
    description = result.get("description", "")
    message = (result.get("message") or "").strip()
    detail = f"{description}: {message}" if message else description
    if number == NO_SUCH_OBJECT and base is not None:
        log.error(
            "the directory has no entry %s (the closest it has: %s): create it, or fix the map's base or dn",
            base,
            result.get("dn") or "none",
        )
        raise Unavailable("the directory lacks an entry the gateway's map relies on; its log says which")
    if number == NO_SUCH_OBJECT:
        raise NotFound(f"the directory has no such entry ({detail})")
    if number == ALREADY_EXISTS:
        raise AlreadyExists(f"the directory already has that entry ({detail})")
    if number in REFUSED_VALUES:
        raise InvalidData(f"the directory refused the values: {detail}")
    if number == ADMIN_LIMIT_EXCEEDED:
        # 389 DS's look-through and paged size limits, AD's MaxPageSize/MaxValRange: the same
        # search fails the same way on every retry, so it is never "unavailable" (a 503 Entra
        # retries forever) but an error that says which setting to change.
        log.error("LDAP search over the service account's limits: %s", detail)
        raise BackendError(
            "the directory stopped the search at an administrative limit of the gateway's service account"
            " (the bind_dn in the tenant's ldap settings): raise its limits (389 DS: nsLookThroughLimit and"
            " nsPagedSizeLimit on that entry, or -1; Active Directory: MaxPageSize in the LDAP policy),"
            " or index the attributes Entra filters on"
        )
    if number in UNAVAILABLE:
        log.warning("directory unavailable: %s", detail)
        raise Unavailable(f"the directory is unavailable ({description})")
    log.error("LDAP operation failed: %s (%s)", detail, number)
    if number == 50:
        raise BackendError("the directory refused the gateway's account this operation; check its access rights")
    raise BackendError(f"the directory refused the operation ({description})")


def entries(connection: ldap3.Connection) -> list[dict]:
    return [r for r in connection.response or [] if r.get("type") == "searchResEntry"]


def post_read(connection: ldap3.Connection) -> dict:
    control = ((connection.result or {}).get("controls") or {}).get(POST_READ)
    return control["value"]["result"] if control else {}


def first(attributes: dict, name: str) -> str | None:
    for key, values in attributes.items():
        if key.lower() == name.lower():
            if isinstance(values, list):
                return str(values[0]) if values else None
            return str(values)
    return None


def id_of(spec: LdapSpec, raw: dict) -> str | None:
    """The SCIM id of a search result (a binary GUID as its string)."""
    for key, values in (raw.get("attributes") or {}).items():
        if key.lower() == spec.id_attribute.lower():
            value = values[0] if isinstance(values, list) and values else values
            if not value:
                return None
            if key.lower() in GUID_ATTRIBUTES:
                return guid_text(value if isinstance(value, bytes) else value.encode("utf-8"))
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def to_entry(spec: LdapSpec, raw: dict) -> Entry:
    """An Entry from a search result or post-read: references as Refs, placeholders hidden."""
    target = spec.target
    hidden = {name.lower(): value.lower() for name, value in target.placeholders.items()}
    attributes: Record = {}
    for name, values in (raw.get("attributes") or {}).items():
        if ";range=" in name:
            continue  # AD's `member;range=0-1499`: ldap3 (auto_range) gathered every range under `member`
        values = values if isinstance(values, list) else [values]
        key = name.lower()
        texts: list[str]
        if key in GUID_ATTRIBUTES:
            # ldap3 hands out the 16 bytes as text when they happen to be valid UTF-8
            texts = [guid_text(v if isinstance(v, bytes) else v.encode("utf-8")) for v in values]
        else:
            texts = [v if isinstance(v, str) else v.decode("utf-8", "replace") for v in values]
        if key in hidden:
            texts = [v for v in texts if v.lower() != hidden[key]]
        if key in spec.references:
            attributes[key] = [Ref(spec.references[key], None, v) for v in texts]
        else:
            attributes[key] = [*texts]
    return Entry(
        id=_one(attributes, spec.id_attribute) or "",
        attributes=attributes,
        locator=raw.get("dn", ""),
        created=iso_time(_one(attributes, spec.created_attribute)),
        modified=iso_time(_one(attributes, spec.modified_attribute)),
    )


def _one(attributes: Record, name: str | None) -> str | None:
    values = attributes.get(name.lower()) if name else None
    return str(values[0]) if values else None
