"""Benchmark: Entra's whole provisioning cycle through a real gateway, against its ceiling.

Run by hand (not part of the suite):

    .venv/bin/python -m pytest -m perf -s tests/perf/test_cycle.py
    PERF_USERS=300 PERF_ROUNDS=3 PERF_CLIENTS=4 .venv/bin/python -m pytest -m perf -s tests/perf/test_cycle.py
    SCIM_GATEWAY_LDAP_CLIENT=python-ldap PERF_WORKERS=4 PERF_THREADS=2 .venv/bin/python -m pytest ...

Several client processes each take a share of the users and walk each one through what Entra
sends: look the user up (a miss), create it, look it up again, read it by id, update two
attributes (title and department, as Entra's cycles mostly send), disable it, add it to a group,
delete it. The gateway is `scim-gateway serve`
(gunicorn, deploy/gunicorn.conf.py) on a throwaway slapd (fsync on, memberof/refint/ppolicy).
In the same run the same work is done as the fewest direct ldap3 operations (one per request
kind, no controls, the service account): the ceiling a gateway built on ldap3 could reach. And
the same clients drive the floor (floor_app.py): the same gunicorn (deploy/gunicorn.conf.py, its
worker class, workers and threads) serving a Flask app that answers each request kind with the
gateway's own answer, canned: what fraction of the ceiling a Flask + gunicorn gateway can reach
at all on this machine. Last, the bound (floor_app.py with FLOOR_LDAP): the floor making the
ceiling's own directory operation for each request, with the gateway's LDAP client: the most a
Flask + gunicorn gateway with no logic of its own could reach.

Printed: the rates, the ratios to the ceiling, p50/p99 per request kind for the gateway and the
ceiling, and the CPU the gateway's processes (and slapd, and the floor's) spent per request. The targets (issue 14): ratio >= 0.6, p99 < 25 ms for
every kind, on 2 cores. Client, gateway and slapd share the machine, as they would on 2 cores.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import ldap3
import pytest

from gateway.backends.ldap.settings import DEFAULT_CLIENT
from tests.perf.harness import Http, cpu_seconds, machine, percentile, serve, serve_floor
from tests.sandbox.slapd import GROUPS_DN, PEOPLE_DN, SERVICE_DN, Slapd

pytestmark = pytest.mark.perf

USERS = int(os.environ.get("PERF_USERS", "300"))  # per round
ROUNDS = int(os.environ.get("PERF_ROUNDS", "3"))
CLIENTS = int(os.environ.get("PERF_CLIENTS", "4"))
WORKERS = int(os.environ.get("PERF_WORKERS", "2"))  # the gateway's gunicorn workers x threads
THREADS = int(os.environ.get("PERF_THREADS", "4"))
GROUPS = 8
KINDS = ("lookup miss", "create", "lookup", "get by id", "update", "disable", "add to group", "delete")
PLACEHOLDER = "cn=no members,ou=Groups,dc=example,dc=com"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _user(name: str, number: int) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "active": "True",
        "externalId": f"ext-{name}",
        "displayName": f"User {number}",
        "title": "Engineer",
        "name": {"givenName": "User", "familyName": f"Number{number}", "formatted": f"User {number}"},
        "emails": [{"type": "work", "value": f"{name}", "primary": True}],
        ENTERPRISE: {
            "department": "R&D",
            "employeeNumber": str(number),
        },
    }


def _timed(samples: dict, kind: str, call, *args, **options):
    started = time.perf_counter()
    result = call(*args, **options)
    samples[kind].append(time.perf_counter() - started)
    return result


def gateway_share(
    port: int, token: str, prefix: str, numbers: list[int], groups: list[str], answers: dict | None = None
) -> dict[str, list[float]]:
    """One client process: its users through the whole cycle, over one keep-alive connection.
    `answers`, when given, gets the last answer of each kind as sent (the floor's bodies)."""
    cpu_started = time.process_time()
    http = Http(port, token)
    samples = walk(http, prefix, numbers, groups, answers)
    http.close()
    samples["client cpu"] = [time.process_time() - cpu_started]
    return samples


def walk(
    http, prefix: str, numbers: list[int], groups: list[str], answers: dict | None = None
) -> dict[str, list[float]]:
    """Each user through what Entra sends, on `http` (harness.Http, or inprocess.WsgiClient):
    the seconds each request took, by kind."""
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}

    def request(kind: str, call, *args) -> tuple[int, dict | None]:
        answer = _timed(samples, kind, call, *args)
        if answers is not None:
            answers[kind] = http.last
        return answer

    for number in numbers:
        name = f"{prefix}{number:06d}@example.com"
        lookup = f'/Users?filter=userName+eq+"{name}"'
        status, body = request("lookup miss", http.send, "GET", lookup)
        assert status == 200 and body["totalResults"] == 0, body
        status, body = request("create", http.send, "POST", "/Users", _user(name, number))
        assert status == 201, body
        id = body["id"]
        status, body = request("lookup", http.send, "GET", lookup)
        assert status == 200 and body["totalResults"] == 1, body
        status, body = request("get by id", http.send, "GET", f"/Users/{id}")
        assert status == 200, body
        replace = [
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": f"Team {number % 10}"},
            {"op": "Replace", "path": "title", "value": "Manager"},
        ]
        status, body = request("update", http.patch, f"/Users/{id}", replace)
        assert status == 200, body
        status, body = request(
            "disable", http.patch, f"/Users/{id}", [{"op": "Replace", "path": "active", "value": "False"}]
        )
        assert status == 200, body
        member = [{"op": "Add", "path": "members", "value": [{"value": id}]}]
        status, body = request("add to group", http.patch, f"/Groups/{groups[number % len(groups)]}", member)
        assert status == 204, body
        status, body = request("delete", http.send, "DELETE", f"/Users/{id}")
        assert status == 204, body
    return samples


def ldap3_share(port: int, password: str, prefix: str, numbers: list[int]) -> dict[str, list[float]]:
    """The same cycle as the fewest direct ldap3 operations, one per request kind."""
    cpu_started = time.process_time()
    server = ldap3.Server("127.0.0.1", port=port, get_info=ldap3.NONE)
    connection = ldap3.Connection(server, SERVICE_DN, password, auto_bind=True)
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for number in numbers:
        uid = f"{prefix}{number:06d}@example.com"
        dn = f"uid={uid},{PEOPLE_DN}"
        _timed(samples, "lookup miss", connection.search, PEOPLE_DN, f"(uid={uid})", ldap3.SUBTREE, attributes=["*"])
        attributes = {
            "objectClass": ["inetOrgPerson", "scimGatewayPerson"],
            "uid": uid,
            "scimExternalId": f"ext-{uid}",
            "displayName": f"User {number}",
            "title": "Engineer",
            "givenName": "User",
            "sn": f"Number{number}",
            "cn": f"User {number}",
            "mail": uid,
            "departmentNumber": "R&D",
            "employeeNumber": str(number),
        }
        assert _timed(samples, "create", connection.add, dn, None, attributes), connection.result
        _timed(
            samples,
            "lookup",
            connection.search,
            PEOPLE_DN,
            f"(uid={uid})",
            ldap3.SUBTREE,
            attributes=["*", "entryUUID"],
        )
        entry_uuid = connection.response[0]["attributes"]["entryUUID"]
        _timed(
            samples,
            "get by id",
            connection.search,
            PEOPLE_DN,
            f"(entryUUID={entry_uuid})",
            ldap3.SUBTREE,
            attributes=["*"],
        )
        changes = {
            "departmentNumber": [(ldap3.MODIFY_REPLACE, [f"Team {number % 10}"])],
            "title": [(ldap3.MODIFY_REPLACE, ["Manager"])],
        }
        assert _timed(samples, "update", connection.modify, dn, changes), connection.result
        lock = {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, ["000001010000Z"])]}
        assert _timed(samples, "disable", connection.modify, dn, lock), connection.result
        group = f"cn={prefix}group{number % GROUPS},{GROUPS_DN}"
        assert _timed(samples, "add to group", connection.modify, group, {"member": [(ldap3.MODIFY_ADD, [dn])]}), (
            connection.result
        )
        assert _timed(samples, "delete", connection.delete, dn), connection.result
    connection.unbind()
    samples["client cpu"] = [time.process_time() - cpu_started]
    return samples


def _run(share, shares_args: list[tuple]) -> tuple[float, dict[str, list[float]]]:
    """Run the shares in parallel processes; the wall time and every sample."""
    with ProcessPoolExecutor(len(shares_args), mp_context=get_context("fork")) as pool:
        pool.submit(time.sleep, 0).result()  # processes forked before the clock starts
        started = time.perf_counter()
        futures = [pool.submit(share, *args) for args in shares_args]
        results = [future.result() for future in futures]
        wall = time.perf_counter() - started
    merged: dict[str, list[float]] = {kind: [] for kind in (*KINDS, "client cpu")}
    for samples in results:
        for kind, values in samples.items():
            merged[kind] += values
    return wall, merged


def _shares(count: int) -> list[list[int]]:
    return [list(range(i, USERS, count)) for i in range(count)]


def _merge(into: dict[str, list[float]], samples: dict[str, list[float]]) -> None:
    for kind, values in samples.items():
        into.setdefault(kind, []).extend(values)


def _ldap3_groups(slapd: Slapd, prefix: str) -> None:
    admin = ldap3.Connection(
        ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE),
        SERVICE_DN,
        slapd.service_password,
        auto_bind=True,
    )
    for number in range(GROUPS):
        dn = f"cn={prefix}group{number},{GROUPS_DN}"
        assert admin.add(dn, ["groupOfNames"], {"cn": f"{prefix}group{number}", "member": PLACEHOLDER}), admin.result
    admin.unbind()


def test_cycle_rate_against_the_ldap3_ceiling(tmp_path):
    """ROUNDS rounds, each the gateway's run then the ceiling's, so that a machine whose load
    changes (a shared one) weighs on both alike; the ratio is the median of the rounds'."""
    slapd = Slapd(tmp_path / "slapd")
    slapd.start()
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    ldap_samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    rates, ceilings, floors, bounds = [], [], [], []
    gateway_cpu = slapd_cpu = ldap_slapd_cpu = floor_cpu = floor_client_cpu = bound_cpu = 0.0
    requests = USERS * len(KINDS)
    try:
        with serve(tmp_path / "gateway", slapd, WORKERS, THREADS) as gateway, contextlib.ExitStack() as later:
            warm = gateway.client()
            groups = []
            for number in range(GROUPS):
                status, body = warm.send("POST", "/Groups", {"displayName": f"gw-group{number}", "members": []})
                assert status == 201, body
                groups.append(body["id"])
            answers: dict[str, tuple[int, bytes, dict]] = {}  # the floor answers with these
            gateway_share(gateway.port, gateway.token, "warm", list(range(2 * CLIENTS)), groups, answers)
            warm.close()
            floor = later.enter_context(serve_floor(tmp_path / "floor", answers))
            gateway_share(floor.port, "", "warm", list(range(2 * CLIENTS)), groups)
            directory = {
                "url": slapd.url,
                "bind_dn": SERVICE_DN,
                "password": slapd.service_password,
                "people": PEOPLE_DN,
                "client": DEFAULT_CLIENT,
            }
            bound = later.enter_context(serve_floor(tmp_path / "bound", answers, ldap=directory))
            gateway_share(bound.port, "", "bound-warm", list(range(2 * CLIENTS)), groups)
            for round_ in range(ROUNDS):
                cpu_before, slapd_before = gateway.cpu(), cpu_seconds(slapd.process.pid)
                shares = [(gateway.port, gateway.token, f"gw{round_}-", s, groups) for s in _shares(CLIENTS)]
                wall, round_samples = _run(gateway_share, shares)
                gateway_cpu += gateway.cpu() - cpu_before
                slapd_cpu += cpu_seconds(slapd.process.pid) - slapd_before
                rates.append(requests / wall)
                _merge(samples, round_samples)

                _ldap3_groups(slapd, f"ld{round_}-")
                slapd_before = cpu_seconds(slapd.process.pid)
                shares = [(slapd.port, slapd.service_password, f"ld{round_}-", s) for s in _shares(CLIENTS)]
                wall, round_samples = _run(ldap3_share, shares)
                ldap_slapd_cpu += cpu_seconds(slapd.process.pid) - slapd_before
                ceilings.append(requests / wall)
                _merge(ldap_samples, round_samples)

                cpu_before = floor.cpu()
                shares = [(floor.port, "", f"fl{round_}-", s, groups) for s in _shares(CLIENTS)]
                wall, round_samples = _run(gateway_share, shares)
                floor_cpu += floor.cpu() - cpu_before
                floor_client_cpu += sum(round_samples["client cpu"])
                floors.append(requests / wall)

                cpu_before = bound.cpu()
                shares = [(bound.port, "", f"bd{round_}-", s, groups) for s in _shares(CLIENTS)]
                wall, round_samples = _run(gateway_share, shares)
                bound_cpu += bound.cpu() - cpu_before
                bounds.append(requests / wall)
            rss = gateway.worker_rss()
    finally:
        slapd.stop()

    all_requests = requests * ROUNDS
    ratios = [rate / ceiling for rate, ceiling in zip(rates, ceilings, strict=True)]
    print(f"\nmachine: {machine()}")
    print(
        f"{ROUNDS} rounds of {USERS} users x {len(KINDS)} requests, {CLIENTS} client processes,"
        f" gateway {WORKERS} workers x {THREADS} threads, LDAP client {DEFAULT_CLIENT}"
    )
    print(
        f"gateway: {statistics.median(rates):7.0f} req/s   ldap3 ceiling: {statistics.median(ceilings):7.0f} ops/s"
        f"   ratio {statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        f"CPU per request: gateway {gateway_cpu / all_requests * 1000:.2f} ms,"
        f" slapd {slapd_cpu / all_requests * 1000:.2f} ms"
        f" (slapd per direct op {ldap_slapd_cpu / all_requests * 1000:.2f} ms);"
        f" worker RSS {', '.join(f'{r:.0f}' for r in rss)} MiB"
    )
    ours_cpu = (sum(samples["client cpu"]) + gateway_cpu + slapd_cpu) / all_requests
    theirs_cpu = (sum(ldap_samples["client cpu"]) + ldap_slapd_cpu) / all_requests
    print(
        f"CPU per request, every process (clients, gateway, slapd): {ours_cpu * 1000:.2f} ms; ceiling's"
        f" (ldap3 clients, slapd): {theirs_cpu * 1000:.2f} ms. On a machine they have to themselves and"
        f" saturate, the ratio tends to {theirs_cpu / ours_cpu:.2f}"
    )
    floor_ratios = [rate / ceiling for rate, ceiling in zip(floors, ceilings, strict=True)]
    print(
        f"floor (the same gunicorn, canned answers: floor_app.py): {statistics.median(floors):7.0f} req/s,"
        f" {statistics.median(floor_ratios):.2f} of the ceiling (rounds: {', '.join(f'{r:.2f}' for r in floor_ratios)});"
        f" the gateway reaches {statistics.median(rates) / statistics.median(floors):.2f} of the floor"
    )
    print(
        f"CPU per request of the floor: its processes {floor_cpu / all_requests * 1000:.2f} ms, with its clients"
        f" {(floor_cpu + floor_client_cpu) / all_requests * 1000:.2f} ms"
    )
    bound_ratios = [rate / ceiling for rate, ceiling in zip(bounds, ceilings, strict=True)]
    print(
        f"bound (the floor making the ceiling's directory operation, {DEFAULT_CLIENT}):"
        f" {statistics.median(bounds):7.0f} req/s, {statistics.median(bound_ratios):.2f} of the ceiling"
        f" (rounds: {', '.join(f'{r:.2f}' for r in bound_ratios)}); its processes"
        f" {bound_cpu / all_requests * 1000:.2f} ms of CPU per request;"
        f" the gateway reaches {statistics.median(rates) / statistics.median(bounds):.2f} of the bound"
    )
    print(f"{'request kind':<14} {'gateway p50':>12} {'p99 (ms)':>9} {'ldap3 p50':>10} {'p99 (ms)':>9}")
    for kind in KINDS:
        ours, theirs = samples[kind], ldap_samples[kind]
        assert len(ours) == len(theirs) == USERS * ROUNDS
        print(
            f"{kind:<14} {percentile(ours, 0.5) * 1000:>12.1f} {percentile(ours, 0.99) * 1000:>9.1f}"
            f" {percentile(theirs, 0.5) * 1000:>10.1f} {percentile(theirs, 0.99) * 1000:>9.1f}"
        )
