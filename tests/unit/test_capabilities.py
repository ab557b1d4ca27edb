"""What each directory's root DSE says it supports, and the ids and flags that differ.

The root DSEs are recorded answers (2026-12, measured on the machines the suite runs on): slapd 2.5.13,
389 DS 2.3.1 and Samba 4.17.12; real Active Directory answers the same capabilities OID.
"""

from __future__ import annotations

import pytest

from gateway.backends.base import StoreSpec
from gateway.backends.ldap.capabilities import Capabilities, from_root_dse
from gateway.backends.ldap.check import control_findings
from gateway.backends.ldap.compose import guid_text, render_filter
from gateway.backends.ldap.results import to_entry
from gateway.backends.ldap.target import LdapTarget
from gateway.mapping.transforms import disable_strategy
from gateway.store import Flags, Match, Negate

OPENLDAP_ROOT_DSE = {
    "objectClass": ["top", "OpenLDAProotDSE"],
    "supportedControl": [
        "1.3.6.1.1.12",
        "1.3.6.1.1.13.1",
        "1.3.6.1.1.13.2",
        "1.2.826.0.1.3344810.2.3",
        "1.2.840.113556.1.4.319",
    ],
}
DS389_ROOT_DSE = {
    "objectClass": ["top"],
    "vendorName": ["389 Project"],
    "vendorVersion": ["389-Directory/2.3.1 B2025.016.1616"],
    "supportedControl": [
        "2.16.840.1.113730.3.4.2",
        "1.2.840.113556.1.4.473",
        "1.3.6.1.1.13.1",
        "1.3.6.1.1.13.2",
        "1.3.6.1.4.1.4203.1.10.1",
        "1.2.840.113556.1.4.319",
    ],
}
PAGED = "1.2.840.113556.1.4.319"
SAMBA_ROOT_DSE = {
    "supportedCapabilities": ["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670"],
    "vendorName": ["Samba Team (https://www.samba.org)"],
    "vendorVersion": ["4.17.12-Debian"],
    "supportedControl": ["1.2.840.113556.1.4.1413", "1.2.840.113556.1.4.319", "1.2.840.113556.1.4.801"],
}


def test_openldap_takes_every_control_including_the_unlisted_permissive_modify():
    found = from_root_dse(OPENLDAP_ROOT_DSE)
    assert (found.directory, found.assertion, found.post_read, found.permissive_modify, found.matched_values) == (
        "openldap",
        True,
        True,
        True,
        True,
    )


def test_389_gets_post_read_and_no_control_it_refuses_when_critical():
    found = from_root_dse(DS389_ROOT_DSE)
    assert found.refs_per_search == 50  # its OR filters cost the square of their length
    assert found.directory == "389ds" and "389-Directory/2.3.1" in found.vendor
    assert (found.assertion, found.post_read, found.permissive_modify, found.matched_values) == (
        False,
        True,
        False,
        False,
    )


def test_active_directory_reads_after_writes_and_pages_with_one_attribute_list():
    found = from_root_dse(SAMBA_ROOT_DSE)
    assert found.directory == "active-directory"
    assert (found.assertion, found.post_read, found.permissive_modify) == (False, False, True)
    assert found.same_attributes_every_page and found.max_page_size == 1000 and found.refs_per_search == 50


def test_settings_override_what_the_root_dse_says():
    assert from_root_dse(DS389_ROOT_DSE).overridden({"post_read": False}).post_read is False
    assert "assertion" in Capabilities.overridable() and "directory" not in Capabilities.overridable()


def _check_lines(root_dse: dict | None, overrides: dict | None = None) -> list[str]:
    """What `scim-gateway check` prints about the controls for a root DSE (None: not readable)."""
    derived = from_root_dse(root_dse or {})
    listed = set(root_dse.get("supportedControl", [])) if root_dse is not None else None
    findings = control_findings(listed, overrides or {}, derived, derived.overridden(overrides or {}))
    assert all(finding.status != "fail" for finding in findings)  # each has a fallback
    return [finding.line() for finding in findings]


def test_check_tells_an_unknown_directory_how_to_take_a_control_it_honours_without_listing_it():
    lines = _check_lines({"vendorName": ["Example DS"], "supportedControl": [PAGED]})
    assert "  ok   directory: Example DS: not one the gateway knows by its root DSE" in lines[0]
    assert (
        "  ok   control: assertion (RFC 4528): not listed by the directory: before each PATCH or DELETE the gateway"
        " searches the entry by its id: one more round trip each (if it honours the control without listing it:"
        " ldap: capabilities: {assertion: true} in the tenant's settings)"
    ) in lines


def test_check_says_a_control_the_settings_turn_on_is_sent():
    lines = _check_lines({"vendorName": ["Example DS"], "supportedControl": [PAGED]}, {"assertion": True})
    assert any(
        line.startswith(
            "  ok   control: assertion (RFC 4528): sent, as ldap: capabilities: {assertion: true} in the tenant's"
            " settings says (the root DSE does not list it)"
        )
        for line in lines
    ), lines


def test_check_warns_without_paged_results_and_cannot_tell_without_a_root_dse():
    lines = _check_lines({"vendorName": ["Example DS"], "supportedControl": []})
    assert any(line.startswith("  warn control: paged results (RFC 2696): not offered: ") for line in lines), lines
    unread = _check_lines(None)
    assert any(line.startswith("  ??   controls: the service account may not read the root DSE") for line in unread)


# objectGUID as recorded from Samba: the bytes, and the string AD's tools print for them.
GUID_BYTES = b"\xcb\x1c\x1eo\x02\xe2\x98G\xab\x9e\xdeE\x88\x90Z\x05"
GUID_TEXT = "6f1e1ccb-e202-4798-ab9e-de4588905a05"


def test_object_guid_reads_as_the_guid_string_ad_tools_show():
    assert guid_text(GUID_BYTES) == GUID_TEXT


def test_object_guid_is_matched_as_escaped_bytes_because_real_ad_refuses_the_string_form():
    assert render_filter(Match("objectGUID", "eq", GUID_TEXT)) == (
        r"(objectGUID=\cb\1c\1e\6f\02\e2\98\47\ab\9e\de\45\88\90\5a\05)"
    )
    assert render_filter(Match("objectGUID", "eq", "{" + GUID_TEXT.upper() + "}")).startswith(r"(objectGUID=\cb")


def test_an_id_that_is_no_guid_matches_nothing_instead_of_failing():
    assert render_filter(Match("objectGUID", "eq", "alice")) == "(!(objectClass=*))"


@pytest.mark.parametrize(
    "value, id",
    [(GUID_BYTES, GUID_TEXT), ("0123456789abcdef", guid_text(b"0123456789abcdef"))],
    ids=["bytes", "bytes-ldap3-decoded-as-utf8"],
)
def test_an_entry_read_with_an_object_guid_has_that_id(value, id):
    target = LdapTarget("ou=People,dc=example,dc=com", "cn={cn},ou=People,dc=example,dc=com", ("user",))
    spec = StoreSpec("users", target, "objectGUID")
    assert to_entry(spec, {"dn": "cn=a", "attributes": {"objectGUID": [value]}}).id == id


def test_ad_disable_sets_and_clears_bit_two_and_keeps_the_others():
    flag = disable_strategy("ad-account-control")
    assert flag.to_directory(False).apply(66048) == 66050  # 0x10000 (password never expires) survives
    assert flag.to_directory(True).apply(66050) == 66048
    assert flag.to_directory(True) == Flags(clear=2, base=512)
    assert str(flag.to_directory(False)) == "514"  # a new, disabled account


def test_ad_active_reads_from_bit_two_only():
    flag = disable_strategy("ad-account-control")
    assert (flag.to_scim("66048"), flag.to_scim("66050"), flag.to_scim("512"), flag.to_scim("514")) == (
        True,
        False,
        True,
        False,
    )


def test_ad_active_filters_use_the_bitwise_and_matching_rule():
    flag = disable_strategy("ad-account-control")
    assert render_filter(flag.query("userAccountControl", "eq", False)) == (
        "(userAccountControl:1.2.840.113556.1.4.803:=2)"
    )
    enabled = flag.query("userAccountControl", "eq", True)
    assert render_filter(enabled) == "(&(userAccountControl=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
    assert flag.query("userAccountControl", "ne", True) == Negate(enabled)


def test_389_account_lock_reads_absent_and_false_as_active():
    lock = disable_strategy("389-account-lock")
    assert (lock.to_directory(False), lock.to_directory(True)) == ("TRUE", None)
    assert (lock.to_scim(None), lock.to_scim("false"), lock.to_scim("true")) == (True, True, False)


def test_mapping_check_warns_about_a_binary_id_it_cannot_render():
    from gateway.mapping.audit import audit
    from gateway.mapping.loader import compile_mapping
    from gateway.yamlfile import loads

    text = (
        "version: 1\nbackend: ldap\nusers:\n  ldap: {base: 'ou=People,dc=example,dc=com',"
        " dn: 'CN={cn},ou=People,dc=example,dc=com', object_classes: [user]}\n"
        "  id: objectSid\n  attributes:\n    userName: cn\n"
    )
    warnings = [str(w) for w in audit(compile_mapping(loads(text, "m.yaml"), "m.yaml"))]
    assert any("m.yaml:5" in w and "objectSid is binary" in w and "objectGUID" in w for w in warnings), warnings
