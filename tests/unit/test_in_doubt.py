"""Writes in doubt: an add or modify sent and never answered is settled with the time left."""

from __future__ import annotations

import pytest

from gateway.backends.base import Unavailable
from gateway.mapping.loader import load_mapping
from gateway.service import ResourceService, _holds
from gateway.store import Change, Entry, Page, Ref
from tests.conftest import OPENLDAP_MAP

IN_DOUBT = Unavailable("the directory did not answer the write in time", in_doubt=True)


class Doubtful:
    """A backend whose writes time out after being sent; what reads find is set by the test."""

    specs: dict = {}

    def __init__(self):
        self.found: list[Entry] = []  # what a search finds once the write was sent
        self.sent = False
        self.read_fails = False

    def create(self, kind, record, attributes):
        self.sent = True
        raise IN_DOUBT

    def modify(self, kind, update, attributes):
        self.sent = True
        raise IN_DOUBT

    def search(self, kind, query, attributes, start, count):
        if not self.sent:
            return Page(0, [])  # the service's uniqueness lookup, before the add
        if self.read_fails:
            raise Unavailable("still frozen")
        return Page(len(self.found), self.found)

    def resolve(self, refs):
        return {}


def _service() -> tuple[ResourceService, Doubtful]:
    backend = Doubtful()
    return ResourceService(load_mapping(OPENLDAP_MAP).users, backend), backend


def _entry(uid: str, **attributes) -> Entry:
    return Entry(uid, {"uid": [uid], "entryuuid": [uid], **attributes}, f"uid={uid},ou=people,dc=example,dc=com")


def test_an_add_in_doubt_that_was_done_is_answered_with_the_entry():
    service, backend = _service()
    backend.found = [_entry("ann")]
    assert service.create({"userName": "ann"})["userName"] == "ann"


@pytest.mark.parametrize("read_fails", [False, True])
def test_an_add_in_doubt_not_found_or_not_readable_stays_unknown(read_fails):
    service, backend = _service()
    backend.read_fails = read_fails
    with pytest.raises(Unavailable) as raised:
        service.create({"userName": "ann"})
    assert raised.value.in_doubt


@pytest.mark.parametrize(
    ("after", "answer"),
    [(["chef"], "chef"), (["Cook"], None)],  # the re-read shows the change / not (yet): unknown
)
def test_a_modify_in_doubt_is_answered_with_the_state_only_when_it_shows_the_change(after, answer):
    service, backend = _service()
    backend.get = lambda *args: _entry("bo", title=after)  # what a read finds (a replace is sent unread)
    body = {"Operations": [{"op": "replace", "path": "title", "value": "Chef"}]}
    if answer is not None:
        assert service.patch("bo", body)["title"] == answer
        return
    with pytest.raises(Unavailable) as raised:
        service.patch("bo", body)
    assert raised.value.in_doubt


def test_holds_compares_values_as_text_and_references_by_locator():
    dn = "uid=a,ou=people,dc=example,dc=com"
    assert _holds(["Chef"], Change("title", "replace", ("chef",)))
    assert not _holds(["Chef", "Cook"], Change("title", "replace", ("Chef",)))
    assert _holds([Ref("users", None, dn.upper())], Change("member", "add", (Ref("users", "id-a", dn),)))
    assert _holds([], Change("member", "delete", (Ref("users", "id-a", dn),)))


def test_the_503_of_a_write_in_doubt_says_the_outcome_is_unknown():
    from gateway.scim.errors import scim_error_for

    error = scim_error_for(IN_DOUBT, 17)
    assert (error.status, error.headers["Retry-After"]) == (503, "17")
    assert error.to_json()["detail"] == (
        "the directory did not answer the write in time; whether the change was made is unknown,"
        " so look it up before retrying; retry later"
    )
    assert "unknown" not in scim_error_for(Unavailable("the directory cannot be reached"), 17).to_json()["detail"]
