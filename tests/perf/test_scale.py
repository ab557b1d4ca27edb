"""Benchmark: what a request costs in a 1,000-user and a 100,000-user directory.

Run by hand (not part of the suite):

    .venv/bin/python -m pytest -m perf -s tests/perf/test_scale.py
    PERF_SIZES=1000,100000 .venv/bin/python -m pytest -m perf -s tests/perf/test_scale.py

Each directory is loaded offline (slapadd) into a throwaway slapd: the users, a group holding
half of them (50,000 members at 100k), and spare users in no group. A real `scim-gateway serve`
then answers, one request at a time: lookups (userName, externalId, work email, id), the total
(`count=1`... really `count=0`), the first page, a page in the middle, a cursor walk's first
pages, and 10-member add and remove PATCHes on the big group; the workers' memory is read
before and after. Issue 14's targets: a page and a total within 3x between 1k and 100k, the
PATCH under 50 ms, worker memory flat.
"""

from __future__ import annotations

import os
import statistics
import time

import ldap3
import pytest

from tests.perf.harness import direct_member_changes, machine, serve
from tests.sandbox.slapd import ADMIN_DN, GROUPS_DN, PEOPLE_DN, Slapd

pytestmark = pytest.mark.perf

SIZES = [int(s) for s in os.environ.get("PERF_SIZES", "1000,100000").split(",")]
SPARE = 200
ROUNDS = 7
PLACEHOLDER = f"cn=no members,{GROUPS_DN}"


def _ldif(users: int) -> str:
    lines = []
    for i in range(users + SPARE):
        uid = f"u{i:06d}@example.com"
        lines.append(
            f"dn: uid={uid},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nobjectClass: scimGatewayPerson\n"
            f"uid: {uid}\nsn: Number{i}\ncn: User {i}\ndisplayName: User {i}\nmail: {uid}\n"
            f"scimExternalId: ext-{i}\n"
        )
    members = "".join(f"member: uid=u{i:06d}@example.com,{PEOPLE_DN}\n" for i in range(users // 2))
    lines.append(
        f"dn: cn=big,{GROUPS_DN}\nobjectClass: groupOfNames\nobjectClass: scimGatewayGroup\ncn: big\n"
        f"member: {PLACEHOLDER}\n{members}"
    )
    return "\n".join(lines) + "\n"


def _median_ms(call, rounds: int = ROUNDS) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, result


def _ok(http, method: str, path: str, body=None, status: int = 200):
    got, answer = http.send(method, path, body)
    assert got == status, (path, got, answer)
    return answer


def _measure(tmp_path, users: int) -> dict[str, float]:
    slapd = Slapd(tmp_path / f"slapd{users}")
    started = time.perf_counter()
    slapd.load(_ldif(users))
    loaded = time.perf_counter() - started
    slapd.start()
    figures: dict[str, float] = {"load (s, slapadd)": loaded}
    try:
        with serve(tmp_path / f"gateway{users}", slapd, workers=1, threads=2) as gateway:
            http = gateway.client()
            middle = users // 2
            name = f"u{middle:06d}@example.com"
            ms, body = _median_ms(lambda: _ok(http, "GET", f'/Users?filter=userName+eq+"{name}"'))
            assert body["totalResults"] == 1
            figures["lookup userName eq"] = ms
            id = body["Resources"][0]["id"]
            figures["lookup externalId eq"], _ = _median_ms(
                lambda: _ok(http, "GET", f'/Users?filter=externalId+eq+"ext-{middle}"')
            )
            figures["lookup emails work eq"], _ = _median_ms(
                lambda: _ok(http, "GET", f'/Users?filter=emails[type+eq+"work"].value+eq+"{name}"')
            )
            figures["GET by id"], _ = _median_ms(lambda: _ok(http, "GET", f"/Users/{id}"))
            rss_before = max(gateway.worker_rss())

            listed = users + SPARE  # what a total must say
            newcomers: list[str] = []
            doomed = iter(range(users + SPARE - 3 * 6, users + SPARE))  # spare users no other figure uses

            def created() -> None:
                nonlocal listed
                newcomers.append(f"passing{len(newcomers)}@example.com")
                _ok(http, "POST", "/Users", {"userName": newcomers[-1]}, status=201)
                listed += 1

            def deleted() -> None:
                nonlocal listed
                name = f"u{next(doomed):06d}@example.com"
                id = _ok(http, "GET", f'/Users?filter=userName+eq+"{name}"&attributes=id')["Resources"][0]["id"]
                _ok(http, "DELETE", f"/Users/{id}", status=204)
                listed -= 1

            def after(write, path: str) -> tuple[float, dict]:
                """Requests each right after this worker wrote: a create is kept track of (the
                kept list's tail), a delete drops the list (the next listing sorts afresh)."""
                samples, body = [], {}
                for _ in range(3):
                    write()
                    ms, body = _median_ms(lambda: _ok(http, "GET", path), 1)
                    samples.append(ms)
                return statistics.median(samples), body

            _ok(http, "GET", "/Users?count=0")  # the first listing of this worker: a fresh sort
            ms, body = after(created, "/Users?count=0")
            assert body["totalResults"] == listed
            figures["total (count=0), after a create"] = ms
            ms, body = after(deleted, "/Users?count=0")
            assert body["totalResults"] == listed
            figures["total (count=0), after a delete (sorts)"] = ms
            figures["total (count=0), kept list"], _ = _median_ms(lambda: _ok(http, "GET", "/Users?count=0"))
            figures["first page (count=100), after a create"], _ = after(created, "/Users?count=100")
            figures["first page (count=100), after a delete (sorts)"], _ = after(deleted, "/Users?count=100")
            ms, body = after(created, f"/Users?startIndex={middle}&count=100")
            assert len(body["Resources"]) == 100
            figures["middle page, after a create"] = ms
            ms, body = after(deleted, f"/Users?startIndex={middle}&count=100")
            assert len(body["Resources"]) == 100
            figures["middle page, after a delete (sorts)"] = ms
            figures["middle page, kept list"], _ = _median_ms(
                lambda: _ok(http, "GET", f"/Users?startIndex={middle}&count=100")
            )
            ms, body = after(created, f"/Users?startIndex={listed - 49}&count=100")
            assert body["Resources"][-1]["userName"] == newcomers[-1]
            figures["last page, after a create (its tail)"] = ms
            figures["filtered total (displayName sw), after a create (sorts)"], _ = after(
                created, '/Users?filter=displayName+sw+"User+1"&count=0'
            )
            walk, next_cursor = [], ""
            for _ in range(ROUNDS):
                started = time.perf_counter()
                body = _ok(http, "GET", f"/Users?count=100&cursor={next_cursor}")
                walk.append(time.perf_counter() - started)
                next_cursor = body["nextCursor"]
            figures["cursor walk, per page of 100"] = statistics.median(walk) * 1000
            group = _ok(http, "GET", '/Groups?filter=displayName+eq+"big"&attributes=id')["Resources"][0]["id"]
            spare = [
                _ok(http, "GET", f'/Users?filter=userName+eq+"u{users + i:06d}@example.com"&attributes=id')[
                    "Resources"
                ][0]["id"]
                for i in range(ROUNDS * 10)
            ]
            adds, removes = [], []
            for round_ in range(ROUNDS):
                value = [{"value": i} for i in spare[round_ * 10 : round_ * 10 + 10]]
                for operation, samples in (("Add", adds), ("Remove", removes)):
                    started = time.perf_counter()
                    status, _ = http.patch(f"/Groups/{group}", [{"op": operation, "path": "members", "value": value}])
                    samples.append(time.perf_counter() - started)
                    assert status == 204
            figures["group of n/2: PATCH add 10 members"] = statistics.median(adds) * 1000
            figures["group of n/2: PATCH remove 10"] = statistics.median(removes) * 1000
            raw_add, raw_remove = _raw_member_changes(slapd, users)
            figures["  the same add, direct ldap3"] = raw_add
            figures["  the same remove, direct ldap3"] = raw_remove
            figures["worker RSS before lists (MiB)"] = rss_before
            figures["worker RSS after (MiB)"] = max(gateway.worker_rss())
            http.close()
    finally:
        slapd.stop()
    return figures


def _raw_member_changes(slapd: Slapd, users: int) -> tuple[float, float]:
    """The directory's own cost of the 10-member add and remove (memberof rewrites each user)."""
    connection = ldap3.Connection(
        ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE), ADMIN_DN, slapd.admin_password, auto_bind=True
    )
    batches = [
        [f"uid=u{users + 100 + round_ * 10 + i:06d}@example.com,{PEOPLE_DN}" for i in range(10)]
        for round_ in range(ROUNDS)
    ]
    adds, removes = direct_member_changes(connection, f"cn=big,{GROUPS_DN}", batches)
    return statistics.median(adds) * 1000, statistics.median(removes) * 1000


def test_requests_cost_the_same_at_1k_and_100k_users(tmp_path):
    results = {size: _measure(tmp_path, size) for size in SIZES}
    print(f"\nmachine: {machine()}; gateway: 1 worker x 2 threads, one request at a time; median ms")
    print(f"{'request':<56}" + "".join(f"{size:>12,}" for size in SIZES))
    for key in results[SIZES[0]]:
        print(f"{key:<56}" + "".join(f"{results[size][key]:>12.1f}" for size in SIZES))
