"""The REST backend's translation of records, queries and paging into calls, with requests-mock
standing in for APIs shaped differently from the reference one (tests/hr_api)."""

from __future__ import annotations

import contextlib

import pytest
import requests_mock as mocking

from gateway.backends.base import (
    BackendError,
    Contended,
    InvalidData,
    NotFound,
    TooManyResults,
    Unavailable,
    UnsupportedQuery,
    Update,
)
from gateway.backends.rest import backend as rest_backend
from gateway.backends.rest.backend import RestBackend
from gateway.backends.rest.settings import ApiAuthSettings, RestSettings
from gateway.backends.rest.transport import Transport
from gateway.mapping import codec
from gateway.mapping.filters import to_query
from gateway.mapping.loader import compile_mapping, load_mapping
from gateway.scim.filter import parse_filter
from gateway.scim.resource import normalize
from gateway.service import store_spec
from gateway.store import EVERYTHING, Change, Entry
from gateway.yamlfile import loads
from tests.conftest import REPO

HR_MAP = REPO / "mappings" / "hr-rest-example.yaml"

BASE = "https://api.example.com/v2"

PEOPLE_MAP = """\
version: 1
backend: rest
users:
  rest:
    create: {path: /people, body: {person: "{record}", notify: false}, record: person}
    read: {path: "/people/{id}", record: person}
    update: {method: PATCH, path: "/people/{id}", record: person}
    delete: /people/{id}
    list:
      path: /people
      items: data
      paging: {style: page, page: p, limit: per_page, size: 2}
    search:
      user_name: user_name
      mail: {path: "/people/by-mail/{value}"}
    types: {age: integer, is_admin: boolean}
  id: uuid
  attributes:
    userName: user_name
    displayName: profile.display
    title: job.title
    emails[type eq "work"].value: mail
    urn:ietf:params:scim:schemas:extension:Acme:2.0:User:age: age
    urn:ietf:params:scim:schemas:extension:Acme:2.0:User:admin: is_admin
"""


def _backend(text: str = PEOPLE_MAP) -> tuple[RestBackend, object]:
    users = compile_mapping(loads(text, "m.yaml"), "m.yaml").users
    transport = Transport(RestSettings(BASE, ApiAuthSettings("api_key", "k3y-k3y"), retry_budget=0))
    return RestBackend(transport, {"users": store_spec(users)}), users


def _person(uuid: str, user_name: str, **extra) -> dict:
    return {"uuid": uuid, "user_name": user_name, "profile": {"display": user_name.title()}, **extra}


def _query(users, text: str):
    return to_query(users, parse_filter(text))


def test_a_filter_the_api_cannot_answer_is_refused_without_a_call(requests_mock):
    backend, users = _backend()
    with pytest.raises(UnsupportedQuery, match="finds users only by uuid, user_name, mail"):
        backend.search("users", _query(users, 'title eq "Engineer"'), [], 1, 10)
    with pytest.raises(UnsupportedQuery):
        backend.search("users", _query(users, 'userName eq "a" or userName eq "b"'), [], 1, 10)
    assert requests_mock.call_count == 0


def test_a_lookup_that_matches_more_than_the_gateway_reads_is_too_many(requests_mock, monkeypatch):
    backend, users = _backend()
    monkeypatch.setattr(rest_backend, "MAX_MATCHES", 3)
    pages = [[_person(f"u-{page}-{n}", "same") for n in range(2)] for page in range(1, 4)]
    requests_mock.get(f"{BASE}/people", [{"json": {"data": page}} for page in pages])
    with pytest.raises(TooManyResults, match="matches more than 3 records in the API; narrow it"):
        backend.search("users", _query(users, 'userName eq "same"'), [], 1, 10)
    assert requests_mock.call_count == 2  # it stops reading as soon as it knows


def test_ids_are_url_encoded_into_paths_and_dots_cannot_climb(requests_mock):
    backend, _ = _backend()
    route = requests_mock.get(f"{BASE}/people/a%2Fb%3Fc%20d", json={"person": _person("a/b?c d", "x")})
    assert backend.get("users", "a/b?c d", []).id == "a/b?c d"
    assert route.called
    requests_mock.get(f"{BASE}/people/%2E%2E", status_code=404)
    requests_mock.get(f"{BASE}/people", json={"data": []})  # the API is there: its 404 is "no such record"
    with pytest.raises(NotFound, match=r"no user with id '\.\.'"):
        backend.get("users", "..", [])


def test_create_wraps_the_record_in_the_body_template_and_reads_the_answer_at_record(requests_mock):
    backend, users = _backend()
    created = requests_mock.post(f"{BASE}/people", status_code=201, json={"person": _person("u-1", "ann", age=42)})
    resource = {
        "userName": "ann",
        "displayName": "Ann",
        "urn:ietf:params:scim:schemas:extension:Acme:2.0:User": {"age": 42, "admin": True},
    }
    record = codec.to_record(users, normalize(resource, users.resource_type))
    entry = backend.create("users", record, [])
    assert created.last_request.json() == {
        "person": {"user_name": "ann", "profile": {"display": "Ann"}, "age": 42, "is_admin": True},
        "notify": False,
    }
    assert (entry.id, entry.attributes["age"]) == ("u-1", ["42"])


def test_a_create_answered_without_the_record_is_read_back_from_its_location(requests_mock):
    backend, _ = _backend()
    requests_mock.post(f"{BASE}/people", status_code=201, headers={"Location": f"{BASE}/people/u-9"})
    requests_mock.get(f"{BASE}/people/u-9", json={"person": _person("u-9", "bea")})
    entry = backend.create("users", {"user_name": ["bea"]}, [])
    assert entry.id == "u-9"


def test_a_value_that_is_not_of_the_declared_type_is_invalid_data_before_any_call(requests_mock):
    backend, _ = _backend()
    with pytest.raises(InvalidData, match="age is 'old', and the API wants an integer"):
        backend.create("users", {"user_name": ["cat"], "age": ["old"]}, [])
    assert requests_mock.call_count == 0


def test_a_patch_update_sends_only_the_changed_fields_nested_and_cleared_as_null(requests_mock):
    backend, _ = _backend()
    patched = requests_mock.patch(f"{BASE}/people/u-1", json={"person": _person("u-1", "dan")})
    entry = Entry("u-1", {"uuid": ["u-1"], "user_name": ["dan"], "job.title": ["Boss"]}, "u-1")
    changes = [Change("profile.display", "replace", ("Dan D",)), Change("job.title", "replace", ())]
    after = {"user_name": ["dan"], "profile.display": ["Dan D"], "job.title": []}
    backend.modify("users", Update(entry, tuple(changes), after), [])
    assert patched.last_request.json() == {"profile": {"display": "Dan D"}, "job": {"title": None}}


def test_a_put_update_sends_the_whole_record(requests_mock, hr_map_users):
    backend = RestBackend(
        Transport(RestSettings(BASE, ApiAuthSettings("api_key", "k"))), {"users": store_spec(hr_map_users)}
    )
    put = requests_mock.put(f"{BASE}/employees/7", json={"emp_id": 7, "login": "eve", "status": "A"})
    record = codec.to_record(
        hr_map_users, normalize({"userName": "eve", "title": "CTO", "active": True}, hr_map_users.resource_type)
    )
    entry = Entry("7", {"emp_id": ["7"], "login": ["eve"], "status": ["A"]}, "7")
    backend.modify("users", Update(entry, (Change("job_title", "replace", ("CTO",)),), record), [])
    body = put.last_request.json()
    assert body["login"] == "eve" and body["job_title"] == "CTO"
    assert body["names"] == {"display": None, "first": None, "last": None, "full": None}
    assert "status" not in body  # the terminate/reinstate calls own it


def test_page_numbered_paging_reads_only_the_pages_of_the_window(requests_mock):
    backend, _ = _backend()
    people = [_person(f"u-{i}", f"user{i}") for i in range(1, 6)]
    pages = {str(n): people[(n - 1) * 2 : n * 2] for n in (1, 2, 3, 4)}
    route = requests_mock.get(f"{BASE}/people", json=lambda request, _: {"data": pages[request.qs["p"][0]]})
    page = backend.search("users", EVERYTHING, [], 2, 3)
    assert [e.id for e in page.entries] == ["u-2", "u-3", "u-4"]
    assert page.total == 5  # no total in this API's answer: counted by reading on
    assert [r.qs["p"][0] for r in route.request_history[:2]] == ["1", "2"]
    assert all(r.qs["per_page"] == ["2"] for r in route.request_history)


def test_an_api_that_ignores_the_page_parameter_is_an_error_not_an_endless_loop(requests_mock):
    backend, _ = _backend()
    requests_mock.get(f"{BASE}/people", json={"data": [_person("u-1", "a"), _person("u-2", "b")]})
    with pytest.raises(BackendError, match="same page twice"):
        backend.search("users", EVERYTHING, [], 1, 0)


def test_an_api_that_ignores_a_search_parameter_cannot_return_the_wrong_user(requests_mock):
    backend, users = _backend()
    everyone = [_person("u-1", "fay"), _person("u-2", "gus")]
    requests_mock.get(f"{BASE}/people", json=lambda request, _: {"data": everyone if request.qs["p"] == ["1"] else []})
    page = backend.search("users", _query(users, 'userName eq "GUS"'), [], 1, 10)
    assert (page.total, [e.id for e in page.entries]) == (1, ["u-2"])


def test_a_filter_that_matches_too_many_records_is_refused(requests_mock, monkeypatch):
    monkeypatch.setattr(rest_backend, "MAX_MATCHES", 3)
    backend, users = _backend()
    people = {str(n): [_person(f"u-{n}{i}", "same") for i in range(2)] for n in range(1, 5)}
    requests_mock.get(f"{BASE}/people", json=lambda request, _: {"data": people.get(request.qs["p"][0], [])})
    with pytest.raises(UnsupportedQuery, match="more than 3"):
        backend.search("users", _query(users, 'userName eq "same"'), [], 1, 10)


def test_a_lookup_call_of_its_own_finds_one_record_or_none(requests_mock):
    backend, users = _backend()
    requests_mock.get(f"{BASE}/people/by-mail/hal%40x.com", json=_person("u-7", "hal", mail="hal@x.com"))
    requests_mock.get(f"{BASE}/people/by-mail/nobody%40x.com", status_code=404)
    requests_mock.get(f"{BASE}/people", json={"data": []})  # the API is there: its 404 is "none"
    found = backend.search("users", _query(users, 'emails[type eq "work"].value eq "hal@x.com"'), [], 1, 10)
    assert [e.id for e in found.entries] == ["u-7"]
    none = backend.search("users", _query(users, 'emails[type eq "work"].value eq "nobody@x.com"'), [], 1, 10)
    assert none.total == 0


@pytest.mark.parametrize("entra_sends", ["lookup", "get", "delete"])
def test_an_api_at_a_wrong_base_url_is_503_never_a_404_that_entra_would_take_for_a_user_gone(
    requests_mock, caplog, entra_sends
):
    """Every path of a wrong base_url answers 404: to Entra a 404 to its lookup is a reason to
    quarantine the job, and to GET /Users/{id} a user gone (InvalidAnchor: a job restart)."""
    backend, users = _backend()
    requests_mock.register_uri(mocking.ANY, mocking.ANY, status_code=404)
    call = {
        "lookup": lambda: backend.search("users", _query(users, 'emails[type eq "work"].value eq "a@x.com"'), [], 1, 1),
        "get": lambda: backend.get("users", "u-1", []),
        "delete": lambda: backend.delete("users", "u-1"),
    }[entra_sends]
    with pytest.raises(Unavailable, match="the API has no /people: its base_url or the map's list path is wrong"):
        call()
    assert "check rest.base_url" in caplog.text
    requests_mock.get(f"{BASE}/people", json={"data": []})  # the base_url mended: 404s are the API's own again
    with pytest.raises(NotFound) if entra_sends != "lookup" else contextlib.nullcontext():
        call()


def test_an_id_outside_the_id_pattern_is_not_found_without_a_call(requests_mock, hr_map_users):
    backend = RestBackend(Transport(RestSettings(BASE, ApiAuthSettings("none"))), {"users": store_spec(hr_map_users)})
    with pytest.raises(NotFound, match="no user with id 'cf4d78e8'"):
        backend.get("users", "cf4d78e8", [])
    with pytest.raises(NotFound):
        backend.delete("users", "../1")
    assert requests_mock.call_count == 0


@pytest.fixture(scope="module")
def hr_map_users():
    return load_mapping(HR_MAP).users


GROUPS_MAP = """\
version: 1
backend: rest
users:
  rest:
    create: /users
    read: /users/{id}
    update: /users/{id}
    delete: /users/{id}
    list: {path: /users, items: items, total: total}
    search: {login: login}
  attributes:
    userName: login
groups:
  rest:
    create: /teams
    read: /teams/{id}
    update: {method: PATCH, path: "/teams/{id}"}
    delete: /teams/{id}
    list: {path: /teams, items: items, total: total}
    search: {name: name}
    types: {member_ids: integer}
  id: team_id
  attributes:
    displayName: name
    members: {attribute: member_ids, reference: users}
"""


def test_groups_whose_members_are_an_array_of_ids_take_entras_member_patches(requests_mock):
    from gateway.service import ResourceService

    mapping = compile_mapping(loads(GROUPS_MAP, "m.yaml"), "m.yaml")
    transport = Transport(RestSettings(BASE, ApiAuthSettings("none")))
    backend = RestBackend(transport, {name: store_spec(m) for name, m in mapping.resource_maps.items()})
    groups = ResourceService(mapping.groups, backend)
    requests_mock.get(f"{BASE}/teams/7", json={"team_id": 7, "name": "Ops", "member_ids": [1]})
    for id in (1, 2, 3):
        requests_mock.get(f"{BASE}/users/{id}", json={"id": id, "login": f"u{id}"})
    patched = requests_mock.patch(f"{BASE}/teams/7", json={"team_id": 7, "name": "Ops", "member_ids": [1, 2, 3]})
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "2"}, {"value": "3"}]}],
    }
    group = groups.patch("7", body)
    assert patched.last_request.json() == {"member_ids": [1, 2, 3]}
    assert [m["value"] for m in group["members"]] == ["1", "2", "3"]
    remove = {"schemas": body["schemas"], "Operations": [{"op": "remove", "path": 'members[value eq "1"]'}]}
    assert groups.patch("7", remove, respond=False) is None  # Entra's group PATCH: 204
    assert patched.last_request.json() == {"member_ids": []}


def test_a_dry_run_reads_the_api_but_only_records_the_writes_it_would_send(requests_mock, hr_map_users):
    from gateway.backends.rest.backend import PlannedCall
    from gateway.service import ResourceService

    backend = RestBackend(
        Transport(RestSettings(BASE, ApiAuthSettings("api_key", "k"))),
        {"users": store_spec(hr_map_users)},
        dry_run=True,
    )
    users = ResourceService(hr_map_users, backend)
    lookup = requests_mock.get(f"{BASE}/employees", json={"total": 0, "items": []})
    created = users.create({"userName": "zed", "active": "False", "title": "CTO"})
    assert lookup.called  # the uniqueness lookup is a read: it is sent
    assert backend.planned == [
        PlannedCall("POST", f"{BASE}/employees", {"login": "zed", "job_title": "CTO"}),
        PlannedCall("POST", f"{BASE}/employees/%28new%29/terminate"),
    ]
    assert (created["userName"], created["active"], created["title"]) == ("zed", False, "CTO")
    assert requests_mock.call_count == 1  # requests-mock would have refused an unplanned POST anyway


VERSIONED_MAP = PEOPLE_MAP.replace(
    "    types: {age: integer, is_admin: boolean}\n",
    "    types: {age: integer, is_admin: boolean, row_version: integer}\n    concurrency: {version: row_version, retries: 2}\n",
)


def test_a_version_field_goes_back_with_the_update_and_a_stale_one_is_read_again(requests_mock):
    backend, _ = _backend(VERSIONED_MAP)
    backend.sleep = lambda seconds: None
    requests_mock.get(f"{BASE}/people/u-1", json={"person": _person("u-1", "ann", title="x", row_version=8)})
    requests_mock.patch(
        f"{BASE}/people/u-1",
        [
            {"status_code": 409, "json": {"message": "row_version is not current"}},
            {"json": {"person": _person("u-1", "ann", job={"title": "Boss"}, row_version=9)}},
        ],
    )
    record = {"uuid": ["u-1"], "user_name": ["ann"]}
    entry = Entry("u-1", record, "u-1", version="7")
    after = backend.modify("users", Update(entry, (Change("job.title", "replace", ("Boss",)),), record), [])
    sent = [r.json() for r in requests_mock.request_history if r.method == "PATCH"]
    assert sent == [{"job": {"title": "Boss"}, "row_version": 7}, {"job": {"title": "Boss"}, "row_version": 8}]
    assert (after.attributes["job.title"], after.version) == (["Boss"], "9")


def test_a_409_with_the_same_version_is_a_real_conflict_and_endless_staleness_is_503(requests_mock):
    backend, _ = _backend(VERSIONED_MAP)
    backend.sleep = lambda seconds: None
    requests_mock.get(f"{BASE}/people/u-1", json={"person": _person("u-1", "ann", row_version=7)})
    requests_mock.patch(f"{BASE}/people/u-1", status_code=409, json={"message": "user_name taken"})
    record = {"uuid": ["u-1"], "user_name": ["ann"]}
    entry = Entry("u-1", record, "u-1", version="7")
    with pytest.raises(rest_backend.AlreadyExists):
        backend.modify("users", Update(entry, (Change("user_name", "replace", ("bob",)),), record), [])
    etag_backend, _ = _backend(
        PEOPLE_MAP.replace("    types:", "    concurrency: {etag: true, retries: 2}\n    types:")
    )
    etag_backend.sleep = lambda seconds: None
    requests_mock.get(f"{BASE}/people/u-2", json={"person": _person("u-2", "cy")}, headers={"ETag": '"v2"'})
    requests_mock.patch(f"{BASE}/people/u-2", status_code=412)
    with pytest.raises(Contended, match=r"kept changing while the gateway wrote it \(3 tries\)"):
        etag_backend.modify("users", Update(Entry("u-2", {}, "u-2"), (Change("job.title", "replace", ("x",)),)), [])
    assert [r.headers.get("If-Match") for r in requests_mock.request_history if r.method == "PATCH"][-3:] == [
        '"v2"'
    ] * 3
