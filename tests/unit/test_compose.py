"""The one place values enter LDAP filters and DNs: nothing a client sends can widen a filter
or change a DN's structure."""

from datetime import UTC, datetime

import pytest
from ldap3.operation.search import parse_filter as ldap3_parse_filter
from ldap3.protocol.convert import prepare_filter_for_sending
from ldap3.utils.dn import parse_dn

from gateway.backends.base import InvalidData
from gateway.backends.ldap.compose import (
    MATCH_NONE,
    all_filters,
    build_dn,
    escape_filter_value,
    iso_time,
    normalized_dn,
    rdn_text,
    render_filter,
    split_dn,
)
from gateway.store import AllOf, AnyOf, Exists, Match, Negate, Ref

HOSTILE = ["*", "a*)(uid=*", ")(|(objectClass=*)", "\\2a", "x\x00y", "(", "admin)(&", "é*ü"]


@pytest.mark.parametrize("value", HOSTILE)
def test_filter_values_are_escaped_so_they_cannot_widen_the_filter(value):
    rendered = render_filter(Match("uid", "eq", value))
    inner = rendered[len("(uid=") : -1]
    assert "*" not in inner and "(" not in inner and ")" not in inner and "\x00" not in inner


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Match("uid", "eq", "a"), "(uid=a)"),
        (Match("mail", "co", "@x"), "(mail=*@x*)"),
        (Match("cn", "sw", "J"), "(cn=J*)"),
        (Match("cn", "ew", "n"), "(cn=*n)"),
        (Match("n", "ge", "5"), "(n>=5)"),
        (Match("n", "le", "5"), "(n<=5)"),
        (Match("n", "gt", "5"), "(&(n>=5)(!(n=5)))"),
        (Match("n", "lt", "5"), "(&(n<=5)(!(n=5)))"),
        (Exists("title"), "(title=*)"),
        (Negate(Exists("title")), "(!(title=*))"),
        (AllOf((Match("a", "eq", "1"), Match("b", "eq", "2"))), "(&(a=1)(b=2))"),
        (AnyOf((Match("a", "eq", "1"), Match("b", "eq", "2"))), "(|(a=1)(b=2))"),
        (AnyOf(()), MATCH_NONE),
        (Match("t", "ge", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)), "(t>=20260102030405Z)"),
        (Match("manager", "eq", Ref("users", "1", "uid=b(*),ou=P")), "(manager=uid=b\\28\\2a\\29,ou=P)"),
        (Match("manager", "eq", Ref("users", "unknown")), MATCH_NONE),
    ],
)
def test_queries_render_to_ldap_filters(query, expected):
    assert render_filter(query) == expected


def test_all_filters_drops_match_all():
    assert all_filters("(objectClass=person)", "(objectClass=*)") == "(objectClass=person)"
    assert all_filters("(a=1)", "(b=2)") == "(&(a=1)(b=2))"


@pytest.mark.parametrize("value", ["Smith, John", "a+b=c", "#lead", " spaced ", 'q"<>;\\', "uid=x,ou=Evil", "é"])
def test_dn_values_are_escaped_so_they_stay_one_rdn_value(value):
    dn = build_dn("uid={uid},ou=People,dc=example,dc=com", {"uid": [value]})
    parts = parse_dn(dn)
    assert len(parts) == 4
    assert parts[0][0] == "uid"
    assert normalized_dn(dn)[0] == ("uid", value.lower())


def test_dn_template_without_a_value_is_invalid_data():
    with pytest.raises(InvalidData, match="needs a value for uid"):
        build_dn("uid={uid},ou=People", {})


def test_normalized_dns_compare_escapes_and_case_alike():
    assert normalized_dn("uid=Smith\\2C J,ou=People,dc=x") == normalized_dn("UID=smith\\, j,OU=people,DC=x")
    assert split_dn("uid=Smith\\, J,ou=People,dc=x") == ("uid=Smith\\, J", "ou=People,dc=x")


def test_generalized_time_reads_as_iso_8601():
    assert iso_time("20261123125413Z") == "2026-11-23T12:54:13Z"
    assert iso_time("20261123125413.123456Z") == "2026-11-23T12:54:13Z"
    assert iso_time("20261123125413.0Z") == "2026-11-23T12:54:13Z"  # AD's whenCreated
    assert iso_time("garbage") is None
    assert iso_time("20261323125413Z") is None  # month 13
    assert iso_time("20260230125413Z") is None  # 30 February
    assert iso_time("2026112312Z") is None


# Found by tests/fuzz: ldap3 strips whitespace from both ends of an assertion value, and its
# escape_rdn leaves `#` and control characters bare and mangles a lone space.
@pytest.mark.parametrize("value", [" ", "\r", " alice ", "\x85", "a\u2028", "\t*"])
def test_whitespace_at_the_ends_of_a_filter_value_is_escaped_so_ldap3_cannot_strip_it(value):
    sent = ldap3_parse_filter(render_filter(Match("uid", "eq", value)), None, True, True, None, False)
    assert prepare_filter_for_sending(sent.elements[0].assertion["value"]) == value.encode()


@pytest.mark.parametrize("value", ["0#", " ", "a\r\nb", "x\x00", "tab\tbed", "  two  "])
def test_dn_values_with_sharps_spaces_and_control_characters_read_back_unchanged(value):
    dn = build_dn("uid={uid},ou=People,dc=example,dc=com", {"uid": [value]})
    assert len(parse_dn(dn)) == 4
    assert rdn_text(dn) == value


@pytest.mark.parametrize("char", [chr(code) for code in range(128)])
def test_each_ascii_character_is_escaped_by_the_rule_written_out(char):
    """escape_filter_value returns plain printable ASCII as it is, without looking at each
    character: the same answer, for every ASCII character, as the rule written out."""
    expected = f"\\{ord(char):02x}" if char in "*()\\\0" or char.isspace() or not char.isprintable() else char
    assert escape_filter_value(f"a{char}b") == f"a{expected}b"
