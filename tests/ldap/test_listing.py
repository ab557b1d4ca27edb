"""Listing users: a window of a list the directory sorts (VLV), or, where the directory does not
sort, simple paged results where only the window carries attributes. Lookups stay one search."""

from __future__ import annotations

import logging

import pytest

from gateway.backends.ldap import paging, vlv
from gateway.backends.ldap.capabilities import ROOT_DSE_ATTRIBUTES
from gateway.backends.ldap.views import Views
from tests.conftest import watch_ldap
from tests.sandbox.slapd import Slapd


@pytest.fixture(scope="module")
def unsorted_slapd(tmp_path_factory):
    """A directory without sssvlv: no server-side sorting, no VLV."""
    server = Slapd(tmp_path_factory.mktemp("unsorted") / "db", sorting=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def searches(monkeypatch):
    """Every search the gateway sends: (paged size, attributes, the OIDs of its controls)."""
    seen = []

    def recording(operation, args, kwargs):
        if operation == "search":
            oids = tuple(str(control[0]) for control in kwargs.get("controls") or ())
            seen.append((kwargs.get("paged_size"), tuple(kwargs.get("attributes") or ()), oids))

    watch_ldap(monkeypatch, recording)
    return seen


def _users(client, count):
    return [client.create_user(f"user{i:02d}", displayName=f"User {i}")["id"] for i in range(count)]


@pytest.mark.parametrize("sorting", [True, False], ids=["vlv", "paged"])
def test_pages_totals_and_past_the_end_are_the_same_with_and_without_vlv(make_client, unsorted_slapd, sorting):
    client = make_client() if sorting else make_client(server=unsorted_slapd)
    if not sorting:
        for user in client.get("/Users?count=1000").get_json()["Resources"]:
            client.delete(f"/Users/{user['id']}")
    ids = _users(client, 7)
    page = client.get("/Users?startIndex=3&count=2").get_json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (7, 3, 2)
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    total = client.get("/Users?count=0").get_json()
    assert (total["totalResults"], total["itemsPerPage"], total["Resources"]) == (7, 0, [])
    beyond = client.get("/Users?startIndex=50").get_json()
    assert (beyond["totalResults"], beyond["Resources"]) == (7, [])
    last = client.get("/Users?startIndex=6&count=5").get_json()
    assert [r["id"] for r in last["Resources"]] == ids[5:]
    filtered = client.get('/Users?filter=displayName sw "User 1"').get_json()
    assert [r["id"] for r in filtered["Resources"]] == ids[1:2]


def test_a_listing_is_one_sorted_search_whose_window_alone_carries_attributes(client, searches):
    ids = _users(client, 7)
    searches.clear()
    page = client.get("/Users?startIndex=4&count=3").get_json()
    assert [r["id"] for r in page["Resources"]] == ids[3:6]
    assert page["totalResults"] == 7
    listing = [s for s in searches if "supportedControl" not in s[1]]
    assert len(listing) == 1
    assert listing[0][2] == (vlv.SORT, vlv.VLV)
    assert "1.1" not in listing[0][1]


def test_the_next_page_reads_the_kept_list_and_a_write_drops_it(client, ldap_ops):
    ids = _users(client, 5)
    assert client.get("/Users?count=2").get_json()["totalResults"] == 5
    ldap_ops.reset()
    page = client.get("/Users?startIndex=3&count=2").get_json()
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    assert (ldap_ops["search"], ldap_ops["bind"]) == (1, 0)  # no new connection: the kept list
    filtered = '/Users?filter=displayName+sw+"User"&count=0'
    assert client.get(filtered).get_json()["totalResults"] == 5
    client.patch(f"/Users/{ids[0]}", [{"op": "replace", "path": "displayName", "value": "Renamed"}])
    ldap_ops.reset()
    assert client.get(filtered).get_json()["totalResults"] == 4  # a filtered list: sorted afresh
    assert ldap_ops["bind"] == 1


def test_this_workers_new_entries_follow_the_kept_list_without_sorting_again(client, ldap_ops):
    ids = _users(client, 5)
    assert client.get("/Users?count=2").get_json()["totalResults"] == 5
    newcomers = [client.create_user(f"newcomer{i}")["id"] for i in range(3)]
    ldap_ops.reset()
    assert client.get("/Users?count=0").get_json()["totalResults"] == 8
    assert (ldap_ops["search"], ldap_ops["bind"]) == (1, 0)
    page = client.get("/Users?startIndex=5&count=3").get_json()
    assert (page["totalResults"], [r["id"] for r in page["Resources"]]) == (8, [ids[4], *newcomers[:2]])
    assert [r["id"] for r in client.get("/Users?startIndex=8&count=5").get_json()["Resources"]] == newcomers[2:]
    assert ldap_ops["bind"] == 0  # the window from the kept list, the new entries by id
    everyone = client.get("/Users?count=50").get_json()["Resources"]
    assert [r["id"] for r in everyone] == [*ids, *newcomers]  # as a fresh sort has them
    assert everyone[-1]["userName"] == "newcomer2"  # read with the attributes asked for


def test_a_delete_of_a_new_entry_keeps_the_list_and_any_other_delete_sorts_afresh(client, ldap_ops):
    ids = _users(client, 5)
    assert client.get("/Users?count=2").get_json()["totalResults"] == 5
    newcomer = client.create_user("newcomer")["id"]
    client.delete(f"/Users/{newcomer}")  # one of the kept list's own tail: simply gone from it
    ldap_ops.reset()
    assert client.get("/Users?count=0").get_json()["totalResults"] == 5
    assert ldap_ops["bind"] == 0
    client.delete(f"/Users/{ids[1]}")  # maybe in the sorted list, maybe not: sorted afresh
    ldap_ops.reset()
    page = client.get("/Users?startIndex=2&count=2").get_json()
    assert (page["totalResults"], [r["id"] for r in page["Resources"]]) == (4, ids[2:4])
    assert ldap_ops["bind"] == 1


def test_a_worker_deleting_what_another_worker_created_after_its_sort_counts_right(make_client):
    """Found by hand on Samba AD with two workers: the total went to -1."""
    lister, creator = make_client(), make_client()
    assert lister.get("/Users?count=0").get_json()["totalResults"] == 0  # sorted and kept, empty
    late = creator.create_user("late")["id"]
    assert lister.delete(f"/Users/{late}").status_code == 204
    assert lister.get("/Users?count=0").get_json()["totalResults"] == 0


def test_a_list_sorted_while_the_write_ran_is_dropped_not_extended():
    """A sort that ended after the write began may hold the new entry already: never kept as a
    tail too (it would be listed twice)."""
    now = [100.0]
    closed = []
    views = Views(lambda: object(), closed.append, clock=lambda: now[0])
    search = vlv.Search("users", "ou=People", "sub", "(objectClass=*)", "createTimestamp", False, True)
    view, _ = views._take(search)
    view.context, view.sorted, view.count = b"1", 100.0, 5
    views.created("users", "early", since=101.0)  # began after the sort: extends it
    assert view.tail == ["early"] and not closed
    views.created("users", "late", since=99.0)  # began before the sort ended: dropped
    assert closed == [view.connection] and search not in views._views


def test_a_lookup_stays_one_plain_search(client, searches):
    _users(client, 3)
    searches.clear()
    body = client.get('/Users?filter=userName eq "user01"').get_json()
    assert body["totalResults"] == 1
    assert [(oids, "1.1" in attributes) for _, attributes, oids in searches] == [((), False)]


def test_a_directory_that_will_not_sort_is_listed_by_paged_search(client, monkeypatch, searches, caplog):
    ids = _users(client, 4)
    original = vlv.sort_control
    monkeypatch.setattr(vlv, "sort_control", lambda *attributes: original("uid"))
    caplog.set_level(logging.WARNING)
    page = client.get("/Users?startIndex=2&count=2").get_json()
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    assert page["totalResults"] == 4
    assert "would not sort users" in caplog.text  # uid has no ordering rule: inappropriateMatching
    assert any(oids == () and "1.1" in attributes for _, attributes, oids in searches)


def test_without_vlv_only_the_window_carries_attributes(make_client, unsorted_slapd, monkeypatch, searches):
    client = make_client(server=unsorted_slapd)
    for user in client.get("/Users?count=1000").get_json()["Resources"]:
        client.delete(f"/Users/{user['id']}")
    ids = _users(client, 7)
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)
    searches.clear()
    page = client.get("/Users?startIndex=4&count=3").get_json()
    assert [r["id"] for r in page["Resources"]] == ids[3:6]
    assert page["totalResults"] == 7
    listing = [s for s in searches if "supportedControl" not in s[1]]
    assert all(size is not None and size <= 2 for size, _, _ in listing), listing
    windows = [attributes for _, attributes, _ in listing if attributes != ("1.1",)]
    assert len(windows) == 2  # 3 entries in pages of at most 2; every other page is bare DNs
    assert sum(1 for _, attributes, _ in listing if attributes == ("1.1",)) >= 2


def test_a_cursor_walk_visits_every_user_once_and_ends_without_next_cursor(client):
    ids = _users(client, 5)
    seen, cursor, pages = [], "", 0
    while cursor is not None:
        body = client.get(f"/Users?cursor={cursor}&count=2").get_json()
        assert body["totalResults"] == 5 and "startIndex" not in body
        assert ("previousCursor" in body) == (pages > 0)
        seen += [r["id"] for r in body["Resources"]]
        cursor, pages = body.get("nextCursor"), pages + 1
    assert (seen, pages) == (ids, 3)


def test_a_cursor_from_another_filter_or_made_up_is_refused(client):
    _users(client, 3)
    first = client.get('/Users?cursor=&count=1&filter=displayName sw "User"').get_json()
    for query in (f"cursor={first['nextCursor']}", "cursor=bm90IG91cnM", "cursor=&startIndex=2"):
        response = client.get(f"/Users?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["scimType"] == ("invalidValue" if "startIndex" in query else "invalidCursor")
    follow = client.get(f'/Users?cursor={first["nextCursor"]}&count=1&filter=displayName sw "User"').get_json()
    assert [r["userName"] for r in follow["Resources"]] == ["user01"]


def test_service_provider_config_advertises_cursor_and_index_paging(client):
    pagination = client.get("/ServiceProviderConfig").get_json()["pagination"]
    assert pagination == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
    }


def test_a_kept_list_whose_connection_the_directory_closed_is_sorted_afresh(client, searches):
    ids = _users(client, 4)
    assert client.get("/Users?count=1").get_json()["totalResults"] == 4
    views = client.app.extensions["scim_gateway"].tenants["tenant_test"].backend.views
    for view in views._views.values():
        view.connection.socket.close()  # as an idle timeout on the directory's side would
    searches.clear()
    page = client.get("/Users?startIndex=2&count=2").get_json()
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    root_dse_reads = (("supportedControl",), tuple(ROOT_DSE_ATTRIBUTES))  # each new connection reads it
    assert all(oids == (vlv.SORT, vlv.VLV) for _, attributes, oids in searches if attributes not in root_dse_reads)


def test_a_lookup_matching_more_than_its_page_still_counts_them_all(client, searches):
    for name in ("ann", "bob", "cid"):
        client.create_user(name, title="Engineer")
    searches.clear()
    body = client.get('/Users?filter=title eq "Engineer"&count=1').get_json()
    assert (body["totalResults"], [r["userName"] for r in body["Resources"]]) == (3, ["ann"])
    assert searches[0][0] is None and searches[1][0] is not None  # one plain search, then paged


def test_a_changed_value_keeps_the_list_of_all_users_and_drops_filtered_ones(client, ldap_ops):
    ids = _users(client, 4)
    assert client.get("/Users?count=1").get_json()["totalResults"] == 4
    assert client.get('/Users?filter=displayName sw "User"&count=1').get_json()["totalResults"] == 4
    client.patch(f"/Users/{ids[0]}", [{"op": "replace", "path": "displayName", "value": "Renamed"}])
    ldap_ops.reset()
    page = client.get("/Users?startIndex=1&count=1").get_json()
    assert (ldap_ops["search"], ldap_ops["bind"]) == (1, 0)  # the kept list, its values read afresh
    assert page["Resources"][0]["displayName"] == "Renamed"
    filtered = client.get('/Users?filter=displayName sw "User"&count=1').get_json()
    assert filtered["totalResults"] == 3 and ldap_ops["bind"] == 1  # sorted afresh


def test_listing_problems_name_a_directory_without_sorting_and_nothing_otherwise(make_client, unsorted_slapd):
    backend = make_client().app.extensions["scim_gateway"].tenants["tenant_test"].backend
    assert backend.listing_problems() == []
    plain = make_client(server=unsorted_slapd).app.extensions["scim_gateway"].tenants["tenant_test"].backend
    [problem] = plain.listing_problems()
    assert "no server-side sorting and VLV" in problem and "sssvlv" in problem


def test_a_kept_list_is_read_under_the_requests_bound(monkeypatch):
    """A kept list's connection lives outside the pool's run(), so Views puts the same bound
    (the request's time left, the watchdog) around every read on it."""
    events: list[str] = []

    class Bound:
        def __init__(self, connection):
            self.connection = connection

        def __enter__(self):
            events.append(f"bound {self.connection}")

        def __exit__(self, *exc):
            events.append("unbound")

    def read_window(connection, search, start, count, attributes, context=None):
        events.append(f"read {connection}")
        return vlv.Window(0, []), None

    monkeypatch.setattr("gateway.backends.ldap.views.read_window", read_window)
    views = Views(lambda: "kept-connection", lambda connection: None, Bound)
    views.window(vlv.Search("users", "ou=People", "sub", "(objectClass=*)", "createTimestamp"), 1, 10, [])
    assert events == ["bound kept-connection", "read kept-connection", "unbound"]
