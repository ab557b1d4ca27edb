"""What Entra ID sends by default, for `mapping check` (docs/entra-wire.md#default-attribute-mapping).

Every attribute of Entra's default mapping that a map drops, or cannot give back exactly as
it was sent, is PATCHed again on every provisioning cycle, about every 40 minutes
(docs/entra-wire.md#updates-must-read-back-unchanged). A map names what its application's
attribute mapping really sends with `entra_attributes:`; without it, these defaults are assumed.
"""

from __future__ import annotations

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

DEFAULT_USER_PATHS = (
    "userName",
    "active",
    "displayName",
    "title",
    "preferredLanguage",
    'emails[type eq "work"].value',
    "name.givenName",
    "name.familyName",
    "name.formatted",
    'addresses[type eq "work"].formatted',
    'addresses[type eq "work"].streetAddress',
    'addresses[type eq "work"].locality',
    'addresses[type eq "work"].region',
    'addresses[type eq "work"].postalCode',
    'addresses[type eq "work"].country',
    'phoneNumbers[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value',
    'phoneNumbers[type eq "fax"].value',
    "externalId",
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:manager",
)

# Groups are matched and queried on displayName; externalId <- objectId
# (docs/entra-wire.md#default-attribute-mapping).
DEFAULT_GROUP_PATHS = ("displayName", "externalId", "members")

DEFAULTS = {"users": DEFAULT_USER_PATHS, "groups": DEFAULT_GROUP_PATHS}

# The SCIM attributes Entra filters on: matching (userName; externalId is the usual second
# matching attribute), reads by id, the manager check (`id eq .. and manager eq ..`) and
# group lookups by displayName (docs/entra-wire.md#queries, docs/entra-wire.md#the-manager-check).
FILTERED_PATHS = {
    "users": ("userName", "externalId", f"{ENTERPRISE}:manager"),
    "groups": ("displayName", "externalId"),
}
