"""Benchmark: membership changes and group reads must not grow with the group.

Run by hand (not part of the suite):  .venv/bin/python -m pytest -m perf -s tests/perf/test_membership_scale.py
It bulk-loads 50,000 users and two groups (100 and 50,000 members) into a throwaway slapd,
twice: with OpenLDAP's default 32-bit index hashes, then with `olcIndexHash64: TRUE` as
README.md (Directories > OpenLDAP) asks. A real `scim-gateway serve` (1 worker x 2 threads)
then takes 10-member add and remove PATCHes on each group, one at a time, and
GET /Groups/{id} with and without members. Printed: p50/p99 of each, the same modifies sent
straight to slapd with ldap3, slapd's and the worker's CPU per modify or request, and the
worker's memory before and after. The operations each PATCH sends are pinned by
tests/directories/test_costs.py (two: resolve the ten ids, one modify; no read of the list).
"""

from __future__ import annotations

import statistics
import time

import ldap3
import pytest

from tests.perf.harness import Gateway, cpu_seconds, machine, percentile, serve
from tests.sandbox.slapd import ADMIN_DN, GROUPS_DN, PEOPLE_DN, Slapd

pytestmark = pytest.mark.perf

USERS = 50_000
SPARE = 400  # users in no group, added and removed ten at a time
ROUNDS = 30
PLACEHOLDER = f"cn=no members,{GROUPS_DN}"
GROUPS = (("small", 100), ("big", USERS))


def _ldif() -> str:
    users = "".join(
        f"dn: uid=u{i:05d},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: u{i:05d}\nsn: u{i:05d}\ncn: u{i:05d}\n\n"
        for i in range(USERS + SPARE)
    )
    groups = "".join(
        f"dn: cn={name},{GROUPS_DN}\nobjectClass: groupOfNames\ncn: {name}\nmember: {PLACEHOLDER}\n"
        + "".join(f"member: uid=u{i:05d},{PEOPLE_DN}\n" for i in range(size))
        + "\n"
        for name, size in GROUPS
    )
    return users + groups


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _p50_p99(samples: list[float]) -> str:
    return f"{_median_ms(samples):6.1f} /{percentile(samples, 0.99) * 1000:6.1f}"


class Timed:
    """Wall time of each call, and the CPU slapd and the gateway's worker spent on all of them."""

    def __init__(self, slapd: Slapd, gateway: Gateway | None = None):
        self.slapd, self.gateway = slapd, gateway
        self.samples: list[float] = []
        self.slapd_cpu = self.worker_cpu = 0.0

    def __call__(self, call, *args):
        slapd_before = cpu_seconds(self.slapd.process.pid)
        worker_before = self.gateway.cpu() if self.gateway else 0.0
        started = time.perf_counter()
        result = call(*args)
        self.samples.append(time.perf_counter() - started)
        self.slapd_cpu += cpu_seconds(self.slapd.process.pid) - slapd_before
        self.worker_cpu += (self.gateway.cpu() - worker_before) if self.gateway else 0.0
        return result

    def row(self) -> str:
        count = len(self.samples)
        cpu = f"{self.slapd_cpu / count * 1000:6.1f}"
        if self.gateway:
            cpu += f" /{self.worker_cpu / count * 1000:5.1f}"
        return f"{_p50_p99(self.samples)}  {cpu}"


def _measure(tmp_path, hash64: bool) -> list[str]:
    slapd = Slapd(tmp_path / f"slapd-{hash64}", hash64=hash64)
    started = time.perf_counter()
    slapd.load(_ldif())
    loaded = time.perf_counter() - started
    slapd.start()
    rows = [f"olcIndexHash64: {str(hash64).upper()} (loaded {USERS + SPARE} users in {loaded:.0f}s)"]
    try:
        with serve(tmp_path / f"gateway-{hash64}", slapd, workers=1, threads=2) as gateway:
            http = gateway.client()

            def ok(method: str, path: str, body=None, status: int = 200):
                got, answer = http.send(method, path, body)
                assert got == status, (path, got, answer)
                return answer

            def first_id(resource: str, filter_text: str) -> str:
                return ok("GET", f"/{resource}?attributes=id&filter={filter_text}")["Resources"][0]["id"]

            spare = [first_id("Users", f'userName+eq+"u{USERS + i:05d}"') for i in range(SPARE)]
            rss_before = max(gateway.worker_rss())
            for name, size in GROUPS:
                group = first_id("Groups", f'displayName+eq+"{name}"')
                add, remove, get = Timed(slapd, gateway), Timed(slapd, gateway), Timed(slapd, gateway)
                for round_ in range(ROUNDS):
                    value = [{"value": i} for i in spare[round_ * 10 : round_ * 10 + 10]]
                    for operation, timed in (("Add", add), ("Remove", remove)):
                        change = [{"op": operation, "path": "members", "value": value}]
                        status, _ = timed(http.patch, f"/Groups/{group}", change)
                        assert status == 204  # Entra's answer to a members PATCH: no body, no member list
                    body = get(ok, "GET", f"/Groups/{group}?excludedAttributes=members")
                    assert "members" not in body
                rss_patched = max(gateway.worker_rss())
                started = time.perf_counter()
                assert len(ok("GET", f"/Groups/{group}")["members"]) == size
                full = (time.perf_counter() - started) * 1000
                raw_add, raw_remove = _raw_member_changes(slapd, name)
                rows.append(
                    f"{size:>8,} {add.row()}  {remove.row()}  {raw_add.row()}  {raw_remove.row()}"
                    f"  {_median_ms(get.samples):7.1f} {full:9.0f}  {rss_before:5.0f} {rss_patched:5.0f}"
                    f" {max(gateway.worker_rss()):5.0f}"
                )
            http.close()
    finally:
        slapd.stop()
    return rows


def _raw_member_changes(slapd: Slapd, name: str) -> tuple[Timed, Timed]:
    """The same modifies sent straight to slapd with ldap3: what the directory itself costs."""
    server = ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE)
    connection = ldap3.Connection(server, ADMIN_DN, slapd.admin_password, auto_bind=True)
    add, remove = Timed(slapd), Timed(slapd)
    for round_ in range(ROUNDS):
        ten = [f"uid=u{USERS + (round_ * 10 + i) % SPARE:05d},{PEOPLE_DN}" for i in range(10)]
        for operation, timed in ((ldap3.MODIFY_ADD, add), (ldap3.MODIFY_DELETE, remove)):
            assert timed(connection.modify, f"cn={name},{GROUPS_DN}", {"member": [(operation, ten)]})
    connection.unbind()
    return add, remove


def test_membership_patch_and_group_read_stay_flat(tmp_path):
    rows = [row for hash64 in (False, True) for row in _measure(tmp_path, hash64)]
    print(f"\nmachine: {machine()}")
    print(
        f"gateway: 1 worker x 2 threads, one request at a time; {ROUNDS} rounds; ms, p50 / p99;"
        " CPU per modify or request: slapd / the worker; worker RSS in MiB"
    )
    print(
        f"{'members':>8} {'PATCH add 10':>14} {'cpu':>13}  {'PATCH remove 10':>14} {'cpu':>13}"
        f"  {'ldap3 add 10':>14} {'cpu':>6}  {'ldap3 remove':>14} {'cpu':>6}"
        f"  {'GET -mem':>7} {'GET +mem':>9}  {'RSS':>5} {'patch':>5} {'+GET':>5}"
    )
    for row in rows:
        print(row)
