"""The service's uniqueness check (service.taken): one search through the Backend interface."""

import pytest

from gateway.backends.base import UnsupportedQuery
from gateway.service import taken
from gateway.store import NOTHING, AnyOf, Entry, Match, Page

USER_NAME = Match("uid", "eq", "ann")
MAIL = Match("mail", "eq", "ann@example.com")


class _Backend:
    """Answers from a fixed list of entries; `answers_or=False` refuses an `or`, as an API does."""

    def __init__(self, entries: dict[str, Entry], answers_or: bool = True):
        self.entries = entries
        self.answers_or = answers_or
        self.searched: list = []

    def search(self, kind, query, attributes, start, count):
        if isinstance(query, AnyOf) and not self.answers_or:
            raise UnsupportedQuery("one field at a time")
        self.searched.append(query)
        alternatives = query.items if isinstance(query, AnyOf) else (query,)
        found = [
            e for e in self.entries.values() if any(e.attributes.get(q.attribute) == [q.value] for q in alternatives)
        ]
        return Page(len(found), found[:count])


ANN = Entry("A1", {"uid": ["ann"], "mail": ["other@example.com"]})
BEA = Entry("B2", {"uid": ["bea"], "mail": ["ann@example.com"]})


def test_a_directory_is_asked_once_for_every_unique_value():
    backend = _Backend({"ann": ANN, "bea": BEA})
    assert taken(backend, "users", [USER_NAME, MAIL], "A1")  # Bea holds the mail
    assert backend.searched == [AnyOf((USER_NAME, MAIL))]


def test_an_api_that_refuses_an_or_is_asked_value_by_value():
    backend = _Backend({"ann": ANN, "bea": BEA}, answers_or=False)
    assert taken(backend, "users", [USER_NAME, MAIL], "A1")
    assert backend.searched == [USER_NAME, MAIL]


def test_the_entry_itself_does_not_take_its_own_values_and_nothing_is_searched_for_no_values():
    backend = _Backend({"ann": ANN})
    assert not taken(backend, "users", [USER_NAME], "a1")  # ids compare without case
    assert not taken(backend, "users", [NOTHING], None)
    assert backend.searched == [USER_NAME]


def test_a_single_value_an_api_cannot_look_up_is_still_refused():
    class Refusing(_Backend):
        def search(self, *args):
            raise UnsupportedQuery("cannot")

    with pytest.raises(UnsupportedQuery):
        taken(Refusing({}), "users", [USER_NAME], None)
