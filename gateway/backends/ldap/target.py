"""The `ldap:` section of a resource map: where entries live and how they are named.

Pure settings, validated with the rest of the map at start-up; the LDAP backend reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from gateway.backends.base import Problems, StoreSpec

# Ids that are 16 bytes in the directory and a GUID string in SCIM, as AD's own tools show
# them (6f1e1ccb-e202-4798-ab9e-de4588905a05: the first three groups little-endian). Real AD
# refuses the string form in a filter, so compose.py matches them as escaped bytes.
GUID_ATTRIBUTES = frozenset({"objectguid", "msds-consistencyguid"})
# Binary attributes that cannot be a SCIM id (no text form the gateway renders and matches).
BINARY_ATTRIBUTES = frozenset({"objectsid", "jpegphoto", "usercertificate", "thumbnailphoto", "sidhistory"})

ATTRIBUTE_NAME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

if TYPE_CHECKING:
    from gateway.mapping.model import ResourceMap


@dataclass(frozen=True)
class LdapTarget:
    base: str
    dn: str  # template: "uid={uid},ou=People,dc=example,dc=com"; placeholders are attributes
    object_classes: tuple[str, ...]
    filter: str | None = None  # scoping filter; default: the first object class
    scope: str = "sub"
    dn_attribute: str = "entryDN"  # the attribute a filter can match a DN with (AD: distinguishedName)
    # A value an attribute always keeps, so it is never empty (groupOfNames requires a member);
    # it never shows in a SCIM response.
    placeholders: dict = field(default_factory=dict)
    # Attributes whose value is made unique on create by appending 2, 3, ... within at most
    # so many characters: {sAMAccountName: 20} (AD refuses a logon name another account has).
    unique_names: dict = field(default_factory=dict)
    # The attribute a new, enabled account gets a random strong password in (AD: unicodePwd;
    # real AD refuses to enable an account without one). Sent only over LDAPS or StartTLS,
    # never logged, never returned; Entra never sends passwords.
    random_password: str | None = None
    # Who keeps references (member, manager) pointing at renamed or deleted entries:
    # "directory" (slapd's refint overlay, AD) or "gateway" (the gateway rewrites them).
    referential_integrity: str = "directory"
    # Attributes the directory computes from group membership (memberOf), written by changing
    # the groups instead: {attribute on the entry: member attribute on the group}.
    memberships: dict = field(default_factory=dict)
    indexes: tuple[str, ...] | None = None  # equality indexes the directory has (for mapping check)

    @property
    def incremental_attributes(self) -> frozenset[str]:
        """Attributes whose changes must be value by value (never a whole-list replace)."""
        return frozenset(self.memberships)

    @property
    def writes_changes(self) -> bool:
        return True

    @property
    def renaming_attributes(self) -> frozenset[str]:
        return frozenset(self.placeholders_in_dn())

    def placeholders_in_dn(self) -> list[str]:
        """Directory attributes the DN template is built from (lower case)."""
        return [name.lower() for name in PLACEHOLDER.findall(self.dn)]

    def id_problem(self, attribute: str) -> str | None:
        """Why a directory attribute cannot be the SCIM id (None: it can)."""
        if attribute.lower() in BINARY_ATTRIBUTES:
            return (
                f"{attribute} is binary and has no text form the gateway can show and match: "
                "use objectGUID (read as AD's GUID string), entryUUID or nsUniqueId"
            )
        return None

    def indexed(self, attribute: str) -> bool | None:
        """Does the directory index this attribute for equality? None: the map does not say."""
        if self.indexes is None:
            return None
        return attribute.lower() in {name.lower() for name in self.indexes}

    def problems_with(self, resource_map: ResourceMap) -> Problems:
        """The DN template only uses attributes the map writes (called by the map loader)."""
        written = resource_map.written_attributes
        return [
            (
                ("dn",),
                f"the DN template uses {{{placeholder}}}, which the map never writes: "
                f"map a SCIM attribute to {placeholder} or compute it under computed: or defaults:",
            )
            for placeholder in self.placeholders_in_dn()
            if placeholder not in written
        ]

    @property
    def rdn_attribute(self) -> str:
        return self.dn.split("=", 1)[0].strip().lower()

    @property
    def scope_filter(self) -> str:
        return self.filter or f"(objectClass={self.object_classes[0]})"


class LdapTargetSchema(Schema):
    base = fields.Str(required=True, metadata={"description": "search base for this resource"})
    dn = fields.Str(required=True, metadata={"description": "DN template of a new entry"})
    object_classes = fields.List(fields.Str(), required=True, validate=validate.Length(min=1))
    filter = fields.Str(load_default=None)
    scope = fields.Str(load_default="sub", validate=validate.OneOf(["sub", "one"]))
    dn_attribute = fields.Str(load_default="entryDN", validate=validate.Regexp(ATTRIBUTE_NAME))
    placeholders = fields.Dict(
        keys=fields.Str(validate=validate.Regexp(ATTRIBUTE_NAME)), values=fields.Str(), load_default=dict
    )
    referential_integrity = fields.Str(load_default="directory", validate=validate.OneOf(["directory", "gateway"]))
    memberships = fields.Dict(
        keys=fields.Str(validate=validate.Regexp(ATTRIBUTE_NAME)),
        values=fields.Str(validate=validate.Regexp(ATTRIBUTE_NAME)),
        load_default=dict,
    )
    unique_names = fields.Dict(
        keys=fields.Str(validate=validate.Regexp(ATTRIBUTE_NAME)),
        values=fields.Int(validate=validate.Range(min=2, max=1024)),
        load_default=dict,
        metadata={"description": "attributes made unique on create, within at most so many characters"},
    )
    random_password = fields.Str(load_default=None, validate=validate.Regexp(ATTRIBUTE_NAME))
    indexes = fields.List(
        fields.Str(validate=validate.Regexp(ATTRIBUTE_NAME)),
        metadata={"description": "attributes the directory indexes for equality (olcDbIndex ... eq)"},
    )

    @validates("dn")
    def check_dn(self, value: str, **kwargs) -> None:
        names = PLACEHOLDER.findall(value)
        if not names:
            raise ValidationError(
                "the DN template needs at least one {attribute} placeholder, e.g. uid={uid},ou=People,..."
            )
        for name in names:
            if not ATTRIBUTE_NAME.match(name):
                raise ValidationError(f"{{{name}}} is not a directory attribute name")
        first = value.split(",", 1)[0]
        if "=" not in first or not PLACEHOLDER.search(first.split("=", 1)[1]):
            raise ValidationError("the first RDN of the DN template must hold a placeholder, e.g. uid={uid}")

    @validates("filter")
    def check_filter(self, value: str | None, **kwargs) -> None:
        if value is None:
            return
        depth = 0
        for char in value:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth < 0:
                break
        if not value.startswith("(") or depth != 0:
            raise ValidationError(
                "an LDAP filter must be enclosed in balanced parentheses, e.g. (objectClass=inetOrgPerson)"
            )

    @validates("object_classes")
    def check_classes(self, value: list[str], **kwargs) -> None:
        for name in value:
            if not ATTRIBUTE_NAME.match(name):
                raise ValidationError(f"{name!r} is not an object class name")

    @post_load
    def build(self, data: dict, **kwargs) -> LdapTarget:
        data["object_classes"] = tuple(data["object_classes"])
        data["placeholders"] = {name.lower(): value for name, value in data["placeholders"].items()}
        data["memberships"] = {name.lower(): value for name, value in data["memberships"].items()}
        data["unique_names"] = {name.lower(): value for name, value in data["unique_names"].items()}
        if "indexes" in data:
            data["indexes"] = tuple(data["indexes"])
        return LdapTarget(**data)


LdapSpec = StoreSpec[LdapTarget]  # a StoreSpec whose section is an `ldap:` one
