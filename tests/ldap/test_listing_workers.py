"""Listings across workers: a sorted list one worker keeps is not reused after another worker of
the same gateway wrote what it holds (backends/ldap/marks.py). Each client here is a worker: a
backend of its own, with its own kept lists, and the folder the gateway's processes share."""

from __future__ import annotations

import pytest

from gateway.observability import multiprocess


@pytest.fixture
def workers(make_client, monkeypatch, tmp_path):
    """Two workers of one gateway: (the one that lists, the other one)."""
    folder = tmp_path / "workers"
    monkeypatch.setattr(multiprocess, "shared_folder", lambda: folder)
    return make_client(), make_client()


def _users(client, count):
    return [client.create_user(f"user{i:02d}", displayName=f"User {i}")["id"] for i in range(count)]


def _walk(client, count=2):
    """Every id of a page-by-page listing, and the totals its pages gave."""
    ids, totals, start = [], set(), 1
    while True:
        page = client.get(f"/Users?startIndex={start}&count={count}").get_json()
        totals.add(page["totalResults"])
        ids += [resource["id"] for resource in page["Resources"]]
        if not page["Resources"]:
            return ids, totals
        start += count


def test_a_user_another_worker_created_is_in_this_workers_next_listing_and_total(workers, ldap_ops):
    lister, other = workers
    ids = _users(lister, 3)
    assert lister.get("/Users?count=1").get_json()["totalResults"] == 3  # sorted and kept
    late = other.create_user("late")["id"]
    ldap_ops.reset()
    assert lister.get("/Users?count=0").get_json()["totalResults"] == 4
    assert ldap_ops["bind"] == 1  # sorted afresh, on a new connection
    assert _walk(lister) == ([*ids, late], {4})
    own = lister.create_user("own")["id"]  # this worker's own write: the kept list follows it
    ldap_ops.reset()
    assert _walk(lister) == ([*ids, late, own], {5})
    assert ldap_ops["bind"] == 0


def test_a_user_another_worker_deleted_is_gone_from_this_workers_listing(workers, ldap_ops):
    lister, other = workers
    ids = _users(lister, 4)
    assert lister.get("/Users?count=1").get_json()["totalResults"] == 4
    assert other.delete(f"/Users/{ids[1]}").status_code == 204
    assert _walk(lister) == ([ids[0], *ids[2:]], {3})


def test_a_user_another_worker_renamed_is_listed_by_its_new_name(workers):
    lister, other = workers
    ids = _users(lister, 2)
    assert lister.get("/Users?count=1").get_json()["totalResults"] == 2
    renamed = other.patch(f"/Users/{ids[0]}", [{"op": "replace", "path": "userName", "value": "renamed"}])
    assert renamed.status_code == 200
    page = lister.get("/Users?count=5").get_json()
    assert [(r["id"], r["userName"]) for r in page["Resources"]] == [(ids[0], "renamed"), (ids[1], "user01")]


def test_another_workers_change_of_values_drops_only_the_filtered_lists(workers, ldap_ops):
    lister, other = workers
    ids = _users(lister, 3)
    filtered = '/Users?filter=displayName+sw+"User"&count=0'
    assert lister.get("/Users?count=1").get_json()["totalResults"] == 3
    assert lister.get(filtered).get_json()["totalResults"] == 3
    other.patch(f"/Users/{ids[0]}", [{"op": "replace", "path": "displayName", "value": "Changed"}])
    ldap_ops.reset()
    page = lister.get("/Users?count=1").get_json()  # the list of every user: still whole
    assert (page["totalResults"], page["Resources"][0]["displayName"]) == (3, "Changed")
    assert ldap_ops["bind"] == 0
    assert lister.get(filtered).get_json()["totalResults"] == 2
    assert ldap_ops["bind"] == 1  # the filtered list: sorted afresh


def test_with_keep_sorted_lists_0_another_replicas_writes_are_listed_at_once(make_client):
    """Replicas share no folder (no marks between them): `keep_sorted_lists: 0` sorts every
    listing afresh, on a connection closed after it."""
    lister, replica = (make_client(tenant_yaml="      keep_sorted_lists: 0\n") for _ in range(2))
    ids = _users(lister, 2)
    assert lister.get("/Users?count=1").get_json()["totalResults"] == 2
    late = replica.create_user("late")["id"]
    assert _walk(lister) == ([*ids, late], {3})
    views = lister.app.extensions["scim_gateway"].tenants["tenant_test"].backend.views
    assert views._views == {}  # no connection kept idle
