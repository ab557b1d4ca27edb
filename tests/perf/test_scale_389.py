"""Benchmark: a 389 DS listing's cost with and without the VLV index `scim-gateway check` asks for.

Run by hand (not part of the suite; root, 389 DS installed as for tests/directories):

    .venv/bin/python -m pytest -m perf -s tests/perf/test_scale_389.py
    PERF_389_USERS=50000 .venv/bin/python -m pytest -m perf -s tests/perf/test_scale_389.py

A throwaway 389 DS gets PERF_389_USERS users (LDAP adds: about 30 s per 20,000), then the
gateway's own sorted VLV search for the shipped map's users (vlv.listing: base, filter, sort
keys as the gateway sends them) is timed as the gateway's account, for a total (count=0) and
a page of 100 in the middle: first without an index, then after the commands check prints
(vlv_index.commands) have been applied.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

import ldap3
import pytest

from gateway.backends.ldap import vlv, vlv_index
from gateway.backends.ldap.capabilities import Capabilities
from gateway.mapping.loader import load_mapping
from gateway.service import store_spec
from tests.directories.conftest import MAPS
from tests.directories.servers import PEOPLE_DN, Ds389
from tests.perf.harness import machine

pytestmark = pytest.mark.perf

USERS = int(os.environ.get("PERF_389_USERS", "20000"))


def _median_ms(call, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def test_389_listings_with_and_without_the_vlv_index():
    ds = Ds389()
    ds.start()
    figures: dict[str, float] = {}
    try:
        admin = ds.admin()
        started = time.perf_counter()
        for i in range(USERS):
            uid = f"u{i:06d}@example.com"
            admin.add(f"uid={uid},{PEOPLE_DN}", ["inetOrgPerson"], {"uid": uid, "sn": "x", "cn": "x"})
        figures["load (s, LDAP adds)"] = time.perf_counter() - started
        users = store_spec(load_mapping(MAPS["389ds"]).resource_maps["users"])
        search = vlv.listing(users, None, Capabilities("389ds", unstable_sort=True))  # type: ignore[arg-type]
        gateway = ldap3.Connection(
            ldap3.Server("127.0.0.1", port=ds.port, get_info=ldap3.NONE), ds.service_dn, ds.service_password
        )
        gateway.bind()

        def window(start: int, count: int) -> None:
            found, _ = vlv.read_window(gateway, search, start, count, ["uid"])
            assert found.total == USERS and len(found.entries) == count

        for label in ("no index", "VLV index"):
            if label == "VLV index":
                _apply(ds, vlv_index.commands(vlv_index.needed(search, ds.backend), ds.service_dn))
                _until_used(admin, lambda: window(1, 0))
            figures[f"total (count=0), {label}"] = _median_ms(lambda: window(1, 0))
            figures[f"middle page of 100, {label}"] = _median_ms(lambda: window(USERS // 2, 100))
        gateway.unbind()
        admin.unbind()
    finally:
        ds.stop()
    print(f"\nmachine: {machine()}; 389 DS, {USERS:,} users; the gateway's sorted VLV search, median ms")
    for key, value in figures.items():
        print(f"{key:<40}{value:>10.1f}")


def _uses(admin: ldap3.Connection) -> int:
    admin.search("cn=ldbm database,cn=plugins,cn=config", "(objectClass=vlvIndex)", attributes=["vlvUses"])
    return sum(int(str(e["attributes"]["vlvUses"][0])) for e in admin.response if e.get("type") == "searchResEntry")


def _until_used(admin: ldap3.Connection, listing, timeout: float = 300.0) -> None:
    """389 puts a new index to use some seconds after its reindex task says it is done (it
    sorted by itself until then): wait until a listing is served from it (vlvUses grows)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _uses(admin)
        listing()
        if _uses(admin) > before:
            return
        time.sleep(1)
    raise AssertionError("389 DS never used the VLV index")


def _apply(ds: Ds389, commands: list[str]) -> None:
    password = ds.root / "admin.password"  # dsconf takes a -w value that starts with '-' for an option
    password.write_text(ds.admin_password)
    admin = f"-D 'cn=Directory Manager' -y {password}"
    for command in commands:
        command = command.replace("dsconf INSTANCE", f"dsconf {admin} {ds.url}")
        command = command.replace("-H ldap://HOST -D 'cn=Directory Manager' -W", f"-x -H {ds.url} {admin}")
        subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=600)
