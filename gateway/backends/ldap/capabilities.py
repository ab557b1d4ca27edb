"""What a directory supports, from its root DSE: which safe path each write takes.

Read once per connection (the rootDSE search right after the bind) into a frozen value the
backend consults; a tenant's `ldap: capabilities:` overrides any of it (a directory that lists
a control it does not honour, or honours one it does not list). Every capability has a
fallback that costs a round trip instead of correctness:

    assertion control (RFC 4528)   else re-resolve the remembered DN by id before writing
    post-read control (RFC 4527)   else read the entry after the write
    permissive modify (MS-ADTS)    else "already there" / "no such value" on a member value
                                   is done, never a uniqueness error
    matched values (RFC 3876)      else a plain read of the attribute

What the directories say about themselves (measured 2026-12 on slapd 2.5, 389 DS 2.3.1, Samba 4.17):
- OpenLDAP lists assertion, post-read and matched values; it honours permissive modify
  without listing it (its root DSE has the object class OpenLDAProotDSE).
- 389 DS lists post-read and paged results; assertion, permissive modify and matched values
  are refused when critical, so they are never sent. Its server-side sort orders equal values
  differently from one sort to the next (entries created in the same second swapped places
  after an unrelated add), so a page walk could see one entry twice and miss another: listings
  sort equal creation times by id as well (a second sort key; AD takes only one, OpenLDAP
  orders them by entry id already).
- Active Directory (supportedCapabilities 1.2.840.113556.1.4.800; Samba says the same) lists
  permissive modify but does not list post-read (Samba ignores it), pages at most MaxPageSize
  (1,000) entries and wants the same attribute list on every page of one paged search, and
  hands out `member` values in ranges above 1,500.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import ldap3

ASSERTION = "1.3.6.1.1.12"
POST_READ = "1.3.6.1.1.13.2"
PERMISSIVE_MODIFY = "1.2.840.113556.1.4.1413"
MATCHED_VALUES = "1.2.826.0.1.3344810.2.3"
SORT = "1.2.840.113556.1.4.473"  # server-side sorting (RFC 2891)
VLV = "2.16.840.1.113730.3.4.9"  # virtual list view (draft-ietf-ldapext-ldapv3-vlv)
ACTIVE_DIRECTORY = "1.2.840.113556.1.4.800"  # LDAP_CAP_ACTIVE_DIRECTORY_OID
ROOT_DSE_ATTRIBUTES = [
    "supportedControl",
    "supportedExtension",
    "supportedCapabilities",
    "vendorName",
    "vendorVersion",
    "objectClass",
]


@dataclass(frozen=True)
class Capabilities:
    directory: str = "unknown"  # openldap | 389ds | active-directory | unknown
    vendor: str = ""  # vendorName vendorVersion, for the log line at the first connection
    assertion: bool = False
    post_read: bool = False
    permissive_modify: bool = False
    matched_values: bool = False
    sorting: bool = False  # server-side sorting and VLV both: listings cost a page (vlv.py)
    max_page_size: int = 1000  # AD's MaxPageSize default; under it for everyone
    # Ids or DNs looked up in one search, (|(a)(b)...). 389 DS and Samba test every candidate
    # against the whole OR, so its cost grows with the square of the OR's length: looking up
    # 20,000 member DNs took 24 s (389) and 30 s (Samba, distinguishedName) in ORs of 500,
    # 7 s and 12 s in ORs of 50 (2 cores, ldap3 client). slapd is not slowed down by 500.
    refs_per_search: int = 500
    same_attributes_every_page: bool = False  # AD: one paged search, one attribute list
    unstable_sort: bool = False  # 389 DS: equal sort values come in any order (vlv.listing)

    NUMBERS = ("max_page_size", "refs_per_search")

    @classmethod
    def overridable(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("directory", "vendor")]

    def overridden(self, overrides: dict) -> Capabilities:
        return replace(self, **overrides) if overrides else self


# Conservative: what every LDAPv3 directory in section 6 accepts. Used when the root DSE
# cannot be read (an ACI that hides it): every write takes its fallback.
UNKNOWN = Capabilities()


def from_root_dse(attributes: dict) -> Capabilities:
    """Capabilities from a root DSE's attributes (names in any case, values as text)."""
    values = {name.lower(): [str(v) for v in (v if isinstance(v, list) else [v])] for name, v in attributes.items()}
    controls = set(values.get("supportedcontrol", []))
    capabilities = set(values.get("supportedcapabilities", []))
    classes = {c.lower() for c in values.get("objectclass", [])}
    vendor = " ".join(values.get("vendorname", []) + values.get("vendorversion", [])).strip()
    listed = dict(
        assertion=ASSERTION in controls,
        post_read=POST_READ in controls,
        permissive_modify=PERMISSIVE_MODIFY in controls,
        matched_values=MATCHED_VALUES in controls,
        sorting=SORT in controls and VLV in controls,
    )
    if ACTIVE_DIRECTORY in capabilities:
        # Samba lists post-read nowhere but accepts it and answers nothing; real AD has none.
        return Capabilities(
            "active-directory",
            vendor,
            **{**listed, "post_read": False},
            same_attributes_every_page=True,
            refs_per_search=50,
        )
    if "openldaprootdse" in classes:
        # slapd honours permissive modify as a critical control without listing it.
        return Capabilities("openldap", vendor or "OpenLDAP", **{**listed, "permissive_modify": True})
    if "389" in vendor or "fedora" in vendor.lower():
        return Capabilities("389ds", vendor, **listed, refs_per_search=50, unstable_sort=True)
    return Capabilities("unknown", vendor, **listed)


def read(connection: ldap3.Connection) -> Capabilities:
    """The root DSE of the directory behind a bound connection (one base search)."""
    connection.search("", "(objectClass=*)", ldap3.BASE, attributes=ROOT_DSE_ATTRIBUTES)
    found = [r for r in connection.response or [] if r.get("type") == "searchResEntry"]
    if (connection.result or {}).get("result", 0) != 0 or not found:
        return UNKNOWN
    return from_root_dse(found[0].get("attributes") or {})
