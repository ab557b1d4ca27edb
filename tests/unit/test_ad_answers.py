"""What real Active Directory answers and Samba does not, pinned on recorded answers (the shapes
and codes of Windows Server 2022 responses, as documented in MS-ADTS and seen in the field):
the 20-character logon name, the password policy, range retrieval of `member` above 1,500
values, MaxPageSize. Samba accepts longer logon names and weak passwords, and returns whole
`member` lists and pages of any size, so tests/directories cannot show these."""

from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace

import pytest
from ldap3.strategy.base import BaseStrategy

from gateway.backends.base import InvalidData
from gateway.backends.ldap import accounts
from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.capabilities import from_root_dse
from gateway.backends.ldap.paging import Pager
from gateway.backends.ldap.results import to_entry
from gateway.backends.ldap.settings import LdapSettings
from gateway.mapping import codec, functions
from gateway.mapping.loader import load_mapping
from gateway.service import store_spec
from tests.conftest import REPO
from tests.unit.test_capabilities import SAMBA_ROOT_DSE

AD = from_root_dse(SAMBA_ROOT_DSE)
AD_MAP = load_mapping(REPO / "mappings" / "active-directory.yaml")


def test_logon_names_keep_20_characters_and_no_character_ad_refuses():
    calls = functions.split_placeholder("userName | before:@ | account-name")[1]
    assert functions.apply("christopher.montgomery-smith@contoso.com", calls) == "christopher.montgome"
    assert functions.apply('a"b/c\\d[e]f:g;h|i=j,k+l*m?n<o>p@x', calls) == "a_b_c_d_e_f_g_h_i_j_"
    assert functions.apply(" .dots. @x", calls) == "dots"


def test_unique_logon_names_count_up_within_the_limit():
    assert accounts._first_free("christopher.montgome", 20, {"christopher.montgome"}) == "christopher.montgom2"
    taken = {"ann"} | {f"ann{n}" for n in range(2, 10)}
    assert accounts._first_free("ann", 20, taken) == "ann10"


def test_random_passwords_meet_ads_complexity_rule():
    for _ in range(50):
        password = accounts.random_password()
        kinds = [any(c.islower() for c in password), any(c.isupper() for c in password)]
        kinds += [any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
        assert len(password) == 32 and all(kinds)


class _RecordedAd:
    """A connection that answers like AD: the add succeeds, the password is refused by policy
    (constraintViolation 0000052D, as AD words it), and records what was sent."""

    def __init__(self):
        self.sent: list[tuple] = []
        self.result: dict = {}
        self.response: list = []

    def search(self, base, search_filter, scope=None, **kwargs):
        self.sent.append(("search", base, search_filter))
        self.result, self.response = {"result": 0}, []
        return True

    def add(self, dn, attributes=None, controls=None):
        self.sent.append(("add", dn, dict(attributes)))
        self.result = {"result": 0}
        return True

    def modify(self, dn, changes, controls=None):
        self.sent.append(("modify", dn, sorted(changes)))
        self.result = {
            "result": 19,
            "description": "constraintViolation",
            "message": "0000052D: Constraint violation - check_password_restrictions: the password does not meet"
            " the complexity criteria!",
        }
        return False

    def delete(self, dn, controls=None):
        self.sent.append(("delete", dn))
        self.result = {"result": 0}
        return True


def test_a_password_ad_refuses_leaves_no_account_behind_and_is_a_400():
    connection = _RecordedAd()
    pool = SimpleNamespace(
        capabilities=AD,
        settings=LdapSettings("ldaps://dc.contoso.com", "cn=gateway,dc=contoso,dc=com"),
        run=lambda operation, idempotent: operation(connection),
        open=lambda: connection,
        drop=lambda connection: None,
        bounded=lambda connection: nullcontext(),
    )
    spec = store_spec(AD_MAP.users)
    backend = LdapBackend(pool, {"users": spec})
    record = codec.to_record(AD_MAP.users, {"userName": "ann@contoso.com", "active": True})
    with pytest.raises(InvalidData, match="0000052D"):
        backend.create("users", record, [])
    kinds = [operation[0] for operation in connection.sent]
    assert kinds == ["search", "add", "modify", "delete"]  # logon name taken?, add disabled, password, undo
    added = connection.sent[1][2]
    assert added["userAccountControl"] == ["514"] and added["sAMAccountName"] == ["ann"]
    assert connection.sent[2][2] == ["unicodePwd", "userAccountControl"]


def test_member_values_beyond_ads_range_limit_are_read_whole():
    """AD answers `member;range=0-1499` with the first 1,500 values; ldap3 (auto_range) asks for
    the rest and gathers them under `member`; the entry then holds all 5,000."""
    members = [f"CN=u{n},OU=People,DC=example,DC=com" for n in range(5000)]
    ranges = [(0, 1499), (1500, 2999), (3000, 4499), (4500, "*")]

    def chunk(low, high):
        values = members[low : (len(members) if high == "*" else high + 1)]
        name = f"member;range={low}-{high}"
        return {
            "dn": "CN=big,OU=Groups,DC=example,DC=com",
            "type": "searchResEntry",
            "raw_attributes": {name: [v.encode() for v in values]},
            "attributes": {name: list(values)},
        }

    asked = []

    def search(search_base, search_filter, search_scope, dereference_aliases, attributes):
        asked.append(attributes[0])
        low = int(attributes[0].split("=")[1].split("-")[0])
        strategy.connection.response = [chunk(*next(r for r in ranges if r[0] == low))]
        return True

    strategy = SimpleNamespace()
    strategy.connection = SimpleNamespace(
        search=search, result={}, strategy=SimpleNamespace(thread_safe=False, sync=True)
    )
    strategy.do_next_range_search = lambda *args: BaseStrategy.do_next_range_search(strategy, *args)
    first = chunk(*ranges[0])
    BaseStrategy.do_search_on_auto_range(strategy, {"dereferenceAlias": 0}, [first])
    assert asked == ["member;range=1500-*", "member;range=3000-*", "member;range=4500-*"]
    spec = store_spec(AD_MAP.groups)
    entry = to_entry(spec, first)
    assert len(entry.attributes["member"]) == 5000 and "member;range=0-1499" not in entry.attributes


def test_no_page_is_larger_than_ads_max_page_size():
    target = AD_MAP.users.target
    assert Pager(None, target, "(objectClass=user)", AD).page_size <= 1000
    assert Pager(None, target, "(objectClass=user)", AD.overridden({"max_page_size": 200})).page_size == 200


def test_the_python_ldap_client_reads_member_values_beyond_ads_range_limit_too():
    """The same recorded AD answers through libldap.py: it asks for the next range until `*`, as
    ldap3's auto_range does, and gathers all 5,000 values under `member`."""
    import ldap

    from gateway.backends.ldap.libldap import LibldapConnection

    group = "CN=big,OU=Groups,DC=example,DC=com"
    members = [f"CN=u{n},OU=People,DC=example,DC=com".encode() for n in range(5000)]

    class RecordedAd:
        """libldap's handle, answering as AD does: at most 1,500 values of `member` per read."""

        def __init__(self):
            self.asked: list[str] = []
            self.answers: list[tuple] = []

        def get_option(self, option):
            return 0

        def search_ext(self, base, scope, search_filter, attributes, *rest):
            self.asked.append(attributes[0])
            low = int(attributes[0].split("=")[1].split("-")[0]) if "range=" in attributes[0] else 0
            high = low + 1499 if low + 1500 < len(members) else "*"
            values = members[low : len(members) if high == "*" else high + 1]
            entry = (group, {f"member;range={low}-{high}": values})
            self.answers = [(ldap.RES_SEARCH_ENTRY, [entry], 1, []), (ldap.RES_SEARCH_RESULT, [], 1, [])]
            return 1

        def result3(self, message, every, timeout, controls):
            return self.answers.pop(0)

    connection = LibldapConnection("ldaps://dc.example.com", "CN=gateway", "secret", 5, 5)
    connection._ldap, connection.closed = RecordedAd(), False
    assert connection.search(group, "(objectClass=*)", "BASE", attributes=["member"])
    asked = connection._ldap.asked
    assert asked == ["member", "member;range=1500-*", "member;range=3000-*", "member;range=4500-*"]
    entry = to_entry(store_spec(AD_MAP.groups), connection.response[0])
    assert len(entry.attributes["member"]) == 5000 and connection.result["result"] == 0
