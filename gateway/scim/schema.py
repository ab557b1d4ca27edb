"""SCIM schemas (RFC 7643) as plain data, and the lookups the protocol layer needs.

Attribute names are case-insensitive everywhere (RFC 7643 section 2.1; Entra's validator relies
on it), so every lookup here goes through a lower-cased index and returns the canonical name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str = "string"
    multi_valued: bool = False
    sub_attributes: tuple[Attribute, ...] = ()
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    description: str = ""
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        return self._subs.get(name.lower())

    @cached_property
    def _subs(self) -> dict[str, Attribute]:
        return _index(self.sub_attributes)

    def to_json(self) -> dict:
        body = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.sub_attributes:
            body["subAttributes"] = [s.to_json() for s in self.sub_attributes]
        if self.canonical_values:
            body["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            body["referenceTypes"] = list(self.reference_types)
        return body


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    # A custom extension may also take any single-valued string whose name starts with one of
    # these (ALVAO's `urn:...:alvao_tPersonCust:2.0:User:*`; "" takes every name).
    open_prefixes: tuple[str, ...] = ()

    def attribute(self, name: str) -> Attribute | None:
        lowered = name.lower()
        found = self._attributes.get(lowered)
        if found is not None:
            return found
        for prefix in self.open_prefixes:
            if lowered.startswith(prefix.lower()) and len(name) > len(prefix):
                # One spelling for every client: the prefix as the map writes it, the rest in lower case.
                return Attribute(prefix + lowered[len(prefix) :])
        return None

    @cached_property
    def _attributes(self) -> dict[str, Attribute]:
        return _index(self.attributes)


def _index(attributes: tuple[Attribute, ...]) -> dict[str, Attribute]:
    """Attributes by lower-cased name (the first of a name wins), built once per schema: a
    response looks up every attribute it carries."""
    index: dict[str, Attribute] = {}
    for attribute in attributes:
        index.setdefault(attribute.name.lower(), attribute)
    return index


def _typed_multi(name: str, *types: str, extra: tuple[Attribute, ...] = ()) -> Attribute:
    """emails, phoneNumbers, ims, photos: value + display + type + primary."""
    return Attribute(
        name,
        "complex",
        multi_valued=True,
        sub_attributes=(
            Attribute("value"),
            Attribute("display"),
            Attribute("type", canonical_values=types),
            Attribute("primary", "boolean"),
            *extra,
        ),
    )


_ADDRESS = Attribute(
    "addresses",
    "complex",
    multi_valued=True,
    sub_attributes=(
        Attribute("formatted"),
        Attribute("streetAddress"),
        Attribute("locality"),
        Attribute("region"),
        Attribute("postalCode"),
        Attribute("country"),
        Attribute("type", canonical_values=("work", "home", "other")),
        Attribute("primary", "boolean"),
    ),
)

USER = Schema(
    CORE_USER,
    "User",
    "User Account",
    (
        Attribute("userName", required=True, uniqueness="server"),
        Attribute(
            "name",
            "complex",
            sub_attributes=tuple(
                Attribute(n)
                for n in (
                    "formatted",
                    "familyName",
                    "givenName",
                    "middleName",
                    "honorificPrefix",
                    "honorificSuffix",
                )
            ),
        ),
        Attribute("displayName"),
        Attribute("nickName"),
        Attribute("profileUrl", "reference", reference_types=("external",)),
        Attribute("title"),
        Attribute("userType"),
        Attribute("preferredLanguage"),
        Attribute("locale"),
        Attribute("timezone"),
        Attribute("active", "boolean"),
        Attribute("password", mutability="writeOnly", returned="never"),
        _typed_multi("emails", "work", "home", "other"),
        _typed_multi("phoneNumbers", "work", "home", "mobile", "fax", "pager", "other"),
        _typed_multi("ims", "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        _typed_multi("photos", "photo", "thumbnail"),
        _ADDRESS,
        Attribute(
            "groups",
            "complex",
            multi_valued=True,
            mutability="readOnly",
            sub_attributes=(
                Attribute("value", mutability="readOnly"),
                Attribute("$ref", "reference", mutability="readOnly", reference_types=("Group",)),
                Attribute("display", mutability="readOnly"),
                Attribute("type", mutability="readOnly", canonical_values=("direct", "indirect")),
            ),
        ),
        _typed_multi("entitlements"),
        _typed_multi("roles"),
        Attribute(
            "x509Certificates",
            "complex",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", "binary"),
                Attribute("display"),
                Attribute("type"),
                Attribute("primary", "boolean"),
            ),
        ),
    ),
)

ENTERPRISE = Schema(
    ENTERPRISE_USER,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute("employeeNumber"),
        Attribute("costCenter"),
        Attribute("organization"),
        Attribute("division"),
        Attribute("department"),
        Attribute(
            "manager",
            "complex",
            sub_attributes=(
                Attribute("value"),
                Attribute("$ref", "reference", reference_types=("User",)),
                Attribute("displayName", mutability="readOnly"),
            ),
        ),
    ),
)

GROUP = Schema(
    CORE_GROUP,
    "Group",
    "Group",
    (
        Attribute("displayName", required=True, uniqueness="server"),
        Attribute(
            "members",
            "complex",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", mutability="immutable"),
                Attribute("$ref", "reference", mutability="immutable", reference_types=("User", "Group")),
                Attribute("type", mutability="immutable", canonical_values=("User", "Group")),
                Attribute("display", mutability="readOnly"),
            ),
        ),
    ),
)

# Attributes every resource has, outside any schema's attribute list (RFC 7643 section 3.1).
COMMON = (
    Attribute("id", mutability="readOnly", returned="always", uniqueness="server", case_exact=True),
    Attribute("externalId", case_exact=True),
    Attribute(
        "meta",
        "complex",
        mutability="readOnly",
        sub_attributes=(
            Attribute("resourceType", mutability="readOnly"),
            Attribute("created", "dateTime", mutability="readOnly"),
            Attribute("lastModified", "dateTime", mutability="readOnly"),
            Attribute("location", "reference", mutability="readOnly"),
            Attribute("version", mutability="readOnly"),
        ),
    ),
)

_COMMON = _index(COMMON)

KNOWN_EXTENSIONS = {ENTERPRISE_USER.lower(): ENTERPRISE}


def custom_extension(urn: str, attribute_names: list[str], open_prefixes: tuple[str, ...] = ()) -> Schema:
    """A custom extension (Entra: single-valued strings only) built from what the map stores."""
    name = urn.rsplit(":", 2)[-2] if urn.count(":") >= 2 else urn
    return Schema(
        urn, name, f"Custom extension {name}", tuple(Attribute(n) for n in attribute_names), tuple(open_prefixes)
    )


@dataclass(frozen=True)
class ResourceType:
    """A resource type with its core schema and the extensions this tenant's map uses."""

    name: str
    endpoint: str
    core: Schema
    extensions: tuple[Schema, ...] = field(default=())

    @cached_property
    def memo(self) -> dict:
        """What is worked out from this type once and kept (projection.py's parsed projections)."""
        return {}

    def extension(self, urn: str) -> Schema | None:
        lowered = urn.lower()
        return next((e for e in self.extensions if e.id.lower() == lowered), None)

    def attribute(self, urn: str | None, name: str) -> Attribute | None:
        """Look an attribute up by (schema URN or None for the core schema, name)."""
        if urn is None or urn.lower() == self.core.id.lower():
            return _COMMON.get(name.lower()) or self.core.attribute(name)
        extension = self.extension(urn)
        return extension.attribute(name) if extension else None
