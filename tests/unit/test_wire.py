"""The requests wire.py writes are the bytes ldap3 would send for the same call: each case is
encoded both ways (ldap3's operation builders and pyasn1, as ldap3's Connection does with no
schema and its default auto_escape and auto_encode) and compared byte for byte."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.operation.add import add_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.strategy.base import encode

from gateway.backends.ldap import wire

PEOPLE = "ou=People,dc=example,dc=com"
POST_READ = ("1.3.6.1.1.13.2", False, b"0\x03\x04\x01*")
ASSERTION = ("1.3.6.1.1.12", True, b"\xa3\x0f\x04\tentryUUID\x04\x02ab")
FILTERS = [
    "(uid=jdoe@example.com)",
    "(&(objectClass=inetOrgPerson)(uid=a\\2ab))",
    "(|(mail=*)(cn=x*y*z))",
    "(!(cn=*x))",
    "(cn=x*)",
    "(cn=*mid*)",
    "(employeeNumber>=5)",
    "(employeeNumber<=5)",
    "(cn~=jon)",
    "(userAccountControl:1.2.840.113556.1.4.803:=2)",
    "(ou:dn:=People)",
    "(:dn:2.5.13.5:=x)",
    "(cn:=x)",
    "(cn=Zoë Ünïcode)",
    "(cn=\\c3\\a9)",
    "(cn=\\00\\28\\29\\2a\\5c)",
    "(cn;lang-en=x)",
    "(&(a=1)(|(b=2)(!(c=3))))",
    "(objectGUID=\\01\\02\\ff)",
    "(&(objectClass=person)(|(uid=a)(mail=b)(employeeNumber=c)))",
]


def _ldap3(message_id: int, kind: str, request, controls=None) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
    built = build_controls_list(controls)
    if built is not None:
        message["controls"] = built
    return encode(message)


def _search_both(search_filter, scope="SUBTREE", attributes=("*",), size=0, controls=None, message_id=7):
    theirs = search_operation(
        PEOPLE, search_filter, scope, ldap3.DEREF_ALWAYS, list(attributes), size, 0, False, True, True, None
    )
    ours = wire.search_request(PEOPLE, scope, 3, size, 0, search_filter, list(attributes))
    return _ldap3(message_id, "searchRequest", theirs, controls), wire.message(
        message_id, ours, wire.controls_field(controls)
    )


@pytest.mark.parametrize("search_filter", FILTERS)
def test_a_search_is_written_as_ldap3_writes_it(search_filter):
    theirs, ours = _search_both(search_filter)
    assert ours == theirs


@pytest.mark.parametrize(
    ("scope", "attributes", "size", "controls", "message_id"),
    [
        ("BASE", ["1.1"], 0, None, 1),
        ("LEVEL", ["cn", "member;range=0-*"], 2, [POST_READ], 127),
        ("SUBTREE", ["*", "+", "entryUUID"], 1000, [ASSERTION, ("1.2.840.113556.1.4.319", False, None)], 128),
        ("SUBTREE", ["a" * 200], 2**31 - 1, [("2.16.840.1.113730.3.4.9", True, b"0" * 300)], 70000),
    ],
)
def test_a_search_with_its_scope_limits_and_controls_is_written_as_ldap3_writes_it(
    scope, attributes, size, controls, message_id
):
    theirs, ours = _search_both("(objectClass=*)", scope, attributes, size, controls, message_id)
    assert ours == theirs


@pytest.mark.parametrize(
    "attributes",
    [
        {"objectClass": ["top", "inetOrgPerson"], "uid": "zoë", "cn": ["Zoë", "Z"], "sn": "Ü"},
        {"objectClass": "person", "employeeNumber": 5, "flag": True, "photo": b"\x00\xff" * 100},
        {"objectClass": ["group"], "member": [], "description": ["x" * 5000]},
        {"objectClass": ["user"], "unicodePwd": '"Secret1!"'.encode("utf-16-le"), "userAccountControl": 514},
    ],
)
def test_an_add_is_written_as_ldap3_writes_it(attributes):
    dn = "uid=zo\\2Ce,ou=People,dc=example,dc=com"
    theirs = _ldap3(5, "addRequest", add_operation(dn, attributes, True, None, None, True), [POST_READ])
    assert wire.message(5, wire.add_request(dn, attributes), wire.controls_field([POST_READ])) == theirs


@pytest.mark.parametrize(
    "changes",
    [
        [(2, "title", ["Manager"]), (2, "departmentNumber", ["Team 1"])],
        [(0, "member", ["uid=a,dc=e", "uid=b,dc=e"]), (1, "member", ["uid=c,dc=e"])],
        [(1, "mail", []), (2, "telephoneNumber", [])],
        [(3, "uidNumber", ["1"]), (2, "userAccountControl", [514]), (2, "jpegPhoto", [b"\xff" * 200])],
    ],
)
def test_a_modify_is_written_as_ldap3_writes_it(changes):
    dn = "cn=Zoë,ou=People,dc=example,dc=com"
    by_name: dict[str, list] = {}
    for operation, name, values in changes:
        by_name.setdefault(name, []).append((operation, values))
    theirs = _ldap3(9, "modifyRequest", modify_operation(dn, by_name, True, None, None, True), [ASSERTION])
    assert wire.message(9, wire.modify_request(dn, changes), wire.controls_field([ASSERTION])) == theirs


def test_a_delete_is_written_as_ldap3_writes_it():
    dn = "uid=zoë,ou=People,dc=example,dc=com"
    theirs = _ldap3(3, "delRequest", delete_operation(dn), [ASSERTION])
    assert wire.message(3, wire.delete_request(dn), wire.controls_field([ASSERTION])) == theirs


@pytest.mark.parametrize(
    "search_filter",
    [
        "uid=a",  # no parentheses
        "(uid=a",  # unclosed
        "(&(uid=a)",  # unclosed &
        "(&)",  # RFC 4526's absolute true: ldap3 decides
        "(uid=a)(cn=b)",  # two filters
        "(uid=a\\zz)",  # a backslash that is not an escape (ldap3's auto_escape decides)
        "(uid=a\\2)",
        "(uid=a(b)",  # an unescaped (
        "(cn=a**b)",  # two * in a row
        "(=x)",
        "(u id=x)",
        "(:=x)",
        "(cn:dn:dn:=x)",
        "(cn:1.2:1.3:=x)",
        "(" * 70 + "cn=x" + ")" * 70,
    ],
)
def test_a_filter_wire_does_not_read_is_left_to_ldap3(search_filter):
    with pytest.raises(wire.Unsupported):
        wire.filter_bytes(search_filter)


@pytest.mark.parametrize("value", [None, 1.5j, object(), {"a": 1}])
def test_a_value_of_another_type_is_left_to_ldap3(value):
    with pytest.raises(wire.Unsupported):
        wire.add_request("cn=x", {"objectClass": "top", "cn": value})


def test_a_control_that_is_not_a_triple_is_left_to_ldap3():
    with pytest.raises(wire.Unsupported):
        wire.controls_field([("1.2.3", "yes", None)])


@pytest.mark.parametrize(
    ("changes", "listed"),
    [
        ({"title": (ldap3.MODIFY_REPLACE, ["x"])}, [(2, "title", ["x"])]),
        (
            {"title": [(ldap3.MODIFY_REPLACE, ["x"])], "member": [(0, ["a"]), (1, ["b"])]},
            [(2, "title", ["x"]), (0, "member", ["a"]), (1, "member", ["b"])],
        ),
        ({"n": ("MODIFY_INCREMENT", 1)}, [(3, "n", 1)]),
        ({}, None),  # ldap3 refuses an empty change list itself
        ({"title": ("REPLACE", ["x"])}, None),
        ({"title": [("MODIFY_REPLACE", ["x"], "extra")]}, None),
        ({"title": [["MODIFY_REPLACE"]]}, None),
        ({"title": "x"}, None),
        ([("title", "x")], None),
    ],
)
def test_modify_changes_are_read_as_ldap3_reads_them_or_left_to_it(changes, listed):
    from gateway.backends.ldap.encoded import _changes

    assert _changes(changes) == listed
