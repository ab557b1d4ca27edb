"""What a bit flag write (AD's userAccountControl) sends, on a scripted connection: the modify
guarded by the number read, without permissive modify, and what follows each refusal.
The same races against the real directories: tests/directories/test_bit_flag_races.py."""

from __future__ import annotations

import ldap3
import pytest

from gateway.backends.base import Contended
from gateway.backends.ldap.capabilities import from_root_dse
from gateway.backends.ldap.modification import FLAG_ATTEMPTS, Modification
from gateway.mapping.loader import load_mapping
from gateway.service import store_spec
from gateway.store import Change, Flags
from tests.conftest import REPO
from tests.unit.test_capabilities import SAMBA_ROOT_DSE

AD = from_root_dse(SAMBA_ROOT_DSE)  # lists permissive modify
SPEC = store_spec(load_mapping(REPO / "mappings" / "active-directory.yaml").users)
DN = "CN=ann@contoso.com,OU=People,DC=example,DC=com"
DISABLE = Change("useraccountcontrol", "replace", (Flags(set=2, base=512),))
NO_SUCH_VALUE = {"result": 16, "description": "noSuchAttribute"}


class _Scripted:
    """Answers each operation with the next scripted (result, entry attributes); records what was sent."""

    def __init__(self, *answers: tuple[dict, dict | None]):
        self.answers = list(answers)
        self.sent: list[tuple] = []
        self.result: dict = {}
        self.response: list = []

    def _answer(self) -> bool:
        self.result, attributes = self.answers.pop(0)
        self.response = [{"type": "searchResEntry", "dn": DN, "attributes": attributes}] if attributes else []
        return self.result["result"] == 0

    def modify(self, dn, changes, controls=None):
        self.sent.append(("modify", changes, [oid for oid, _, _ in controls or []]))
        return self._answer()

    def search(self, base, search_filter, scope=None, attributes=None, controls=None, **kwargs):
        self.sent.append(("search", sorted(attributes or [])))
        return self._answer()


OK = ({"result": 0}, None)


def test_no_race_is_one_modify_deleting_the_number_read_and_adding_the_new_one_without_permissive_modify():
    connection = _Scripted(OK)
    Modification(SPEC, [DISABLE], {}, {"useraccountcontrol": ["66048"]}).apply(connection, DN, [], AD)
    assert connection.sent == [
        (
            "modify",
            {"userAccountControl": [(ldap3.MODIFY_DELETE, ["66048"]), (ldap3.MODIFY_ADD, ["66050"])]},
            [],  # AD lists permissive modify; with it the delete of a number gone would succeed
        )
    ]


def test_a_number_changed_since_the_read_is_read_again_and_written_from_there():
    connection = _Scripted((NO_SUCH_VALUE, None), ({"result": 0}, {"userAccountControl": ["328192"]}), OK)
    Modification(SPEC, [DISABLE], {}, {"useraccountcontrol": ["66048"]}).apply(connection, DN, [], AD)
    assert connection.sent[1:] == [
        ("search", ["userAccountControl"]),
        ("modify", {"userAccountControl": [(ldap3.MODIFY_DELETE, ["328192"]), (ldap3.MODIFY_ADD, ["328194"])]}, []),
    ]


def test_a_refusal_about_another_value_leaves_the_flag_guarded_and_drops_that_value():
    """The number is as read: the refused delete was the other one (gone already: done)."""
    gone = Change("othermobile", "delete", ("+1 555 0100",))
    connection = _Scripted(
        (NO_SUCH_VALUE, None),
        ({"result": 0}, {"userAccountControl": ["512"]}),  # as read
        ({"result": 0}, {"otherMobile": []}),  # which of the values to delete are there: none
        OK,
    )
    Modification(SPEC, [DISABLE, gone], {}, {"useraccountcontrol": ["512"]}).apply(connection, DN, [], AD)
    assert [s[0] for s in connection.sent] == ["modify", "search", "search", "modify"]
    assert connection.sent[3][1] == {
        "userAccountControl": [(ldap3.MODIFY_DELETE, ["512"]), (ldap3.MODIFY_ADD, ["514"])]
    }


def test_a_number_changed_before_every_try_is_contended_after_flag_attempts_modifies():
    answers = []
    for n in range(FLAG_ATTEMPTS):
        answers += [(NO_SUCH_VALUE, None), ({"result": 0}, {"userAccountControl": [str(512 + 0x10000 * (n % 2 + 1))]})]
    connection = _Scripted(*answers)
    with pytest.raises(Contended, match="userAccountControl kept being changed"):
        Modification(SPEC, [DISABLE], {}, {"useraccountcontrol": ["512"]}).apply(connection, DN, [], AD)
    assert [s[0] for s in connection.sent].count("modify") == FLAG_ATTEMPTS


@pytest.mark.parametrize("read", [{}, {"useraccountcontrol": []}])
def test_an_entry_read_without_the_number_gets_a_replace_as_before(read):
    connection = _Scripted(OK)
    Modification(SPEC, [DISABLE], {}, read).apply(connection, DN, [], AD)
    assert connection.sent == [("modify", {"userAccountControl": [(ldap3.MODIFY_REPLACE, ["514"])]}, [])]
