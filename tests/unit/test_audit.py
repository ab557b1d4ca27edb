"""What `mapping check` warns about in a map that loads."""

from pathlib import Path

import pytest

from gateway.mapping.audit import audit
from gateway.mapping.loader import compile_mapping, load_mapping
from gateway.yamlfile import loads
from tests.sandbox.slapd import INDEXES

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "mappings").glob("*.yaml"))

HEAD = """\
version: 1
users:
  ldap:
    base: ou=People,dc=example,dc=com
    dn: uid={uid},ou=People,dc=example,dc=com
    object_classes: [inetOrgPerson]
    indexes: [uid, entryUUID]
  entra_attributes: [userName, displayName, title, externalId]
  attributes:
    userName: uid
"""


def warnings(text: str) -> list[str]:
    return [str(w) for w in audit(compile_mapping(loads(text, "m.yaml"), "m.yaml"))]


def test_a_map_that_stores_everything_entra_sends_exactly_has_no_warnings():
    assert warnings(HEAD + "    displayName: displayName\n    title: title\n    externalId: uid2\n") == [
        "m.yaml:7: warning: users: Entra looks up by externalId, stored in uid2, which the directory does not "
        "index (ldap.indexes): every such lookup reads the whole subtree"
    ]


def test_every_entra_attribute_the_map_drops_or_cannot_read_back_is_a_warning():
    found = warnings(
        HEAD.replace("[uid, entryUUID]", "[uid, entryUUID, employeeNumber]")
        + "    displayName: {attribute: displayName, read: none}\n"
        + "    title: {attribute: title, read_only: true}\n"
    )
    assert found == [
        "m.yaml:8: warning: users: Entra's attribute mapping sends externalId, and this map drops it, so Entra "
        "will re-send it every cycle: map it, or delete it from the application's attribute mapping in Entra",
        "m.yaml:11: warning: displayName is written but never read back (read: none), so Entra will re-send it "
        "every cycle",
        "m.yaml:12: warning: title is read_only here: what Entra sends is not stored, so Entra will re-send it "
        "every cycle",
    ]


def test_without_entra_attributes_the_default_mapping_is_assumed():
    found = warnings(HEAD.replace("  entra_attributes: [userName, displayName, title, externalId]\n", ""))
    dropped = [w for w in found if "and this map drops it" in w]
    assert len(dropped) == 21  # Entra's default user mapping has 22 attributes; userName is stored
    assert any("sends urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" in w for w in dropped)


@pytest.mark.parametrize(
    ("line", "warned"),
    [
        ("    title: {attribute: title, case: lower}", "title: case: lower writes 'Alice@Contoso.com' as"),
        ("    title: {attribute: title, values: {A: a, B: a}}", "title: 'B' and 'A' are both written as 'a'"),
        ("    title: {attribute: title, case: upper, read: stored}", None),
        ("    title: {attribute: title, values: {A: a}, default: z, read_default: A}", None),
    ],
)
def test_a_lossy_transform_warns_unless_the_line_says_how_it_reads_back(line, warned):
    found = warnings(HEAD + "    displayName: displayName\n    externalId: scimExternalId\n" + line + "\n")
    lossy = [w for w in found if "Entra will see a change every cycle" in w]
    if warned is None:
        assert lossy == []
    else:
        assert len(lossy) == 1 and warned in lossy[0], lossy


def test_a_map_without_indexes_is_told_the_check_cannot_see_them():
    found = warnings(HEAD.replace("    indexes: [uid, entryUUID]\n", "") + "    displayName: cn\n    title: title\n")
    assert any("cannot tell whether Entra's lookups (entryUUID, uid) are indexed" in w for w in found), found


def test_unique_paths_must_be_indexed_too():
    text = HEAD + '    emails[type eq "work"].value: mail\n  unique: [\'emails[type eq "work"].value\']\n'
    assert any(
        'the uniqueness check looks up emails[type eq "work"].value, stored in mail' in w for w in warnings(text)
    )


# The 389 DS and AD maps list their own directories' indexes (tests/directories checks 389's).
SLAPD_MAPS = [p for p in SHIPPED if p.name not in ("389ds.yaml", "active-directory.yaml")]


@pytest.mark.parametrize("path", SLAPD_MAPS, ids=[p.name for p in SLAPD_MAPS])
def test_shipped_maps_only_claim_indexes_the_sandbox_directory_has(path):
    for resource_map in load_mapping(path).resource_maps.values():
        listed = getattr(resource_map.target, "indexes", None) or ()
        assert {name.lower() for name in listed} <= {name.lower() for name in INDEXES}, path
