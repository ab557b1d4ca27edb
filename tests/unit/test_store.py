"""The neutral vocabulary's one rule for applying changes to a record (store.applied)."""

from gateway.store import Change, Ref, applied, references, same_value


def test_a_delete_removes_the_value_whatever_its_letter_case():
    after = applied({"mail": ["Ann@Example.com", "ann@home.net"]}, [Change("mail", "delete", ("ann@example.COM",))])
    assert after == {"mail": ["ann@home.net"]}


def test_an_add_of_a_value_already_held_in_another_case_adds_nothing():
    after = applied({"member": ["uid=Ann,ou=People"]}, [Change("Member", "add", ("uid=ann,ou=People", "uid=bo"))])
    assert after == {"member": ["uid=Ann,ou=People", "uid=bo"]}


def test_references_compare_by_id_and_against_the_bare_id_an_api_stores():
    held = {"manager": [Ref("users", "A1", "A1")], "member_ids": ["7", "8"]}
    after = applied(
        held,
        [Change("manager", "delete", (Ref("users", "a1"),)), Change("member_ids", "delete", (Ref("users", "7", "7"),))],
    )
    assert after == {"manager": [], "member_ids": ["8"]}


def test_a_replace_sets_the_values_given_and_an_emptied_attribute_keeps_an_empty_list():
    after = applied({"title": ["Cook"], "cn": ["Ann"]}, [Change("title", "replace", ())])
    assert after == {"title": [], "cn": ["Ann"]}


def test_same_value_keeps_booleans_apart_from_numbers_and_case_only_when_asked():
    assert not same_value(True, "1") and not same_value(True, 1)
    assert same_value("ABC", "abc") and not same_value("ABC", "abc", case_fold=False)


def test_references_are_collected_from_a_record_or_from_changes():
    boss = Ref("users", "b")
    assert references({"manager": [boss], "cn": ["x"]}.values()) == [boss]
    assert references(c.values for c in [Change("member", "add", ("x", boss))]) == [boss]
