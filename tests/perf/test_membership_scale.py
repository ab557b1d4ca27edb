"""Benchmark: membership changes and group reads must not grow with the group.

Run by hand (not part of the suite):  .venv/bin/pytest -m perf -s tests/perf
It bulk-loads 20,000 users and two groups (100 and 20,000 members) into a throwaway slapd,
then times, through the gateway, 10-member add and remove PATCHes on each group and
GET /Groups/{id}?excludedAttributes=members. The assertions pin what makes the times flat
(two LDAP operations per PATCH, no read of the member list); the figures are printed.
"""

from __future__ import annotations

import statistics
import time

import ldap3
import pytest

from gateway.credentials import CredentialFile
from gateway.web.app import create_app
from tests.conftest import OPENLDAP_MAP, Client, write_settings
from tests.sandbox.slapd import ADMIN_DN, GROUPS_DN, PEOPLE_DN, Slapd

pytestmark = pytest.mark.perf

USERS = 20_000
SPARE = 400  # users in no group, added and removed ten at a time
ROUNDS = 20
PLACEHOLDER = "cn=no members,ou=Groups,dc=example,dc=com"


def _ldif() -> str:
    users = "".join(
        f"dn: uid=u{i:05d},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: u{i:05d}\nsn: u{i:05d}\ncn: u{i:05d}\n\n"
        for i in range(USERS + SPARE)
    )
    big = "".join(f"member: uid=u{i:05d},{PEOPLE_DN}\n" for i in range(USERS))
    small = "".join(f"member: uid=u{i:05d},{PEOPLE_DN}\n" for i in range(100))
    groups = (
        f"dn: cn=big,{GROUPS_DN}\nobjectClass: groupOfNames\ncn: big\nmember: {PLACEHOLDER}\n{big}\n"
        f"dn: cn=small,{GROUPS_DN}\nobjectClass: groupOfNames\ncn: small\nmember: {PLACEHOLDER}\n{small}\n"
    )
    return users + groups


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("perf")
    slapd = Slapd(folder / "slapd")
    started = time.perf_counter()
    slapd.load(_ldif())
    slapd.start()
    print(f"\nloaded {USERS + SPARE} users and 2 groups in {time.perf_counter() - started:.1f}s")
    # No rate limit: the benchmark sends hundreds of requests a second, Entra does not.
    settings = write_settings(folder, slapd, OPENLDAP_MAP, tenant_yaml="    limits: {rate: null}\n")
    token = CredentialFile(folder / "tokens.yaml").add("perf")
    app = create_app(settings)
    client = Client(app.test_client(), token, app=app)
    client.slapd = slapd
    yield client
    app.extensions["scim_gateway"].close()
    slapd.stop()


def _id(client: Client, resource: str, filter_text: str) -> str:
    body = client.get(f"/{resource}?attributes=id&filter={filter_text}").get_json()
    assert body["totalResults"] == 1
    return body["Resources"][0]["id"]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def test_membership_patch_and_group_read_stay_flat(gateway, ldap_ops):
    spare = [_id(gateway, "Users", f'userName eq "u{USERS + i:05d}"') for i in range(SPARE)]
    figures = {}
    for name, size in (("small", 100), ("big", USERS)):
        group = _id(gateway, "Groups", f'displayName eq "{name}"')
        add_times, remove_times, get_times = [], [], []
        for round_ in range(ROUNDS):
            ten = spare[round_ * 10 : round_ * 10 + 10]
            value = [{"value": i} for i in ten]
            ldap_ops.reset()
            started = time.perf_counter()
            response = gateway.patch(f"/Groups/{group}", [{"op": "Add", "path": "members", "value": value}])
            add_times.append(time.perf_counter() - started)
            assert response.status_code == 204
            assert ldap_ops.total <= 2  # resolve the ten ids, one modify
            started = time.perf_counter()
            response = gateway.patch(f"/Groups/{group}", [{"op": "Remove", "path": "members", "value": value}])
            remove_times.append(time.perf_counter() - started)
            assert response.status_code == 204
            started = time.perf_counter()
            body = gateway.get(f"/Groups/{group}?excludedAttributes=members").get_json()
            get_times.append(time.perf_counter() - started)
            assert "members" not in body
        started = time.perf_counter()
        members = gateway.get(f"/Groups/{group}").get_json()["members"]
        full_read = time.perf_counter() - started
        assert len(members) == size
        figures[size] = (_median_ms(add_times), _median_ms(remove_times), _median_ms(get_times), full_read * 1000)
    raw = _raw_ldap_figures(gateway.slapd)
    print(
        f"\n{'members':>8} {'add 10 (ms)':>12} {'remove 10 (ms)':>15} {'GET no members (ms)':>20} {'GET with members (ms)':>22}"
        f" {'raw ldap add/remove 10 (ms)':>28}"
    )
    for size, (add, remove, get, full) in figures.items():
        print(
            f"{size:>8} {add:>12.1f} {remove:>15.1f} {get:>20.1f} {full:>22.0f} {raw[size][0]:>14.1f} /{raw[size][1]:>6.1f}"
        )


def _raw_ldap_figures(slapd: Slapd) -> dict[int, tuple[float, float]]:
    """The same modifies sent straight to slapd with ldap3: what the directory itself costs."""
    server = ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE)
    connection = ldap3.Connection(server, ADMIN_DN, slapd.admin_password, auto_bind=True)
    figures = {}
    for name, size in (("small", 100), ("big", USERS)):
        adds, removes = [], []
        for round_ in range(ROUNDS):
            ten = [f"uid=u{USERS + 200 + (round_ * 10 + i) % 200:05d},{PEOPLE_DN}" for i in range(10)]
            started = time.perf_counter()
            connection.modify(f"cn={name},{GROUPS_DN}", {"member": [(ldap3.MODIFY_ADD, ten)]})
            adds.append(time.perf_counter() - started)
            started = time.perf_counter()
            connection.modify(f"cn={name},{GROUPS_DN}", {"member": [(ldap3.MODIFY_DELETE, ten)]})
            removes.append(time.perf_counter() - started)
        figures[size] = (_median_ms(adds), _median_ms(removes))
    connection.unbind()
    return figures
