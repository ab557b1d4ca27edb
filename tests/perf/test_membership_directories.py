"""Benchmark: the membership figures of test_membership_scale.py on 389 DS and Samba AD.

Run by hand (not part of the suite):
    .venv/bin/pytest -m perf -s tests/perf/test_membership_directories.py
It loads 50,400 users and two groups (100 and 50,000 members) into a throwaway 389 DS (one
online import task, ~11 s) and a throwaway Samba AD DC (LDAP adds over LDAPS: ~20 min on a
busy 2-core machine), then
times through the gateway 10-member add and remove PATCHes on each group and GET /Groups/{id}
with and without members. Neither directory has the assertion control, so each PATCH costs
one search more than on OpenLDAP: three operations, whatever the group's size.
"""

from __future__ import annotations

import time

import ldap3
import pytest

from gateway.credentials import CredentialFile
from gateway.web.app import create_app
from tests.conftest import Client
from tests.directories.conftest import MAPS, Server, write_settings
from tests.directories.servers import DS389_ACI, GROUPS_DN, PEOPLE_DN, SUFFIX, Ds389, SambaDc
from tests.perf.harness import direct_member_changes, machine
from tests.perf.test_membership_scale import ROUNDS, SPARE, USERS, _median_ms, _p50_p99

pytestmark = pytest.mark.perf


def _389_ldif(ds: Ds389) -> str:
    head = (
        f"dn: {SUFFIX}\nobjectClass: top\nobjectClass: domain\ndc: example\n\n"
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: People\naci: {DS389_ACI}\n\n"
        f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: Groups\naci: {DS389_ACI}\n\n"
        f"dn: {ds.service_dn}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: gateway\n"
        f"userPassword: {ds.service_password}\nnsLookThroughLimit: -1\nnsSizeLimit: -1\nnsPagedSizeLimit: -1\n\n"
    )
    users = "".join(
        f"dn: uid=u{i:05d},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: u{i:05d}\nsn: u{i:05d}\ncn: u{i:05d}\n\n"
        for i in range(USERS + SPARE)
    )
    big = "".join(f"member: uid=u{i:05d},{PEOPLE_DN}\n" for i in range(USERS))
    small = "".join(f"member: uid=u{i:05d},{PEOPLE_DN}\n" for i in range(100))
    groups = (
        f"dn: cn=big,{GROUPS_DN}\nobjectClass: groupOfNames\ncn: big\n{big}\n"
        f"dn: cn=small,{GROUPS_DN}\nobjectClass: groupOfNames\ncn: small\n{small}\n"
    )
    return head + users + groups


def _load_389(ds: Ds389) -> None:
    """One online import task (the backend is rebuilt from the LDIF, seed entries included)."""
    ldif = ds.root / "perf.ldif"
    ldif.write_text(_389_ldif(ds))
    import shutil

    shutil.chown(ldif, "dirsrv", "dirsrv")
    admin = ds.admin()
    task = "cn=perf-import,cn=import,cn=tasks,cn=config"
    assert admin.add(
        task, ["extensibleObject"], {"cn": "perf-import", "nsFilename": str(ldif), "nsInstance": ds.backend}
    )
    while True:
        admin.search(task, "(objectClass=*)", ldap3.BASE, attributes=["nsTaskExitCode"])
        code = admin.response[0]["attributes"].get("nsTaskExitCode") if admin.response else None
        if code not in (None, []):
            assert str(code[0] if isinstance(code, list) else code) == "0", code
            break
        time.sleep(0.5)
    admin.unbind()


def _load_samba(dc: SambaDc) -> None:
    admin = dc.admin()
    for i in range(USERS + SPARE):
        name = f"u{i:05d}"
        assert admin.add(
            f"CN={name},{PEOPLE_DN}",
            ["top", "person", "organizationalPerson", "user"],
            {"sAMAccountName": name, "userPrincipalName": f"{name}@example.com", "userAccountControl": "514"},
        ), admin.result
    for name, size in (("small", 100), ("big", USERS)):
        assert admin.add(f"CN={name},{GROUPS_DN}", ["top", "group"], {"sAMAccountName": f"g-{name}"})
        for start in range(0, size, 1000):
            members = [f"CN=u{i:05d},{PEOPLE_DN}" for i in range(start, min(size, start + 1000))]
            assert admin.modify(f"CN={name},{GROUPS_DN}", {"member": [(ldap3.MODIFY_ADD, members)]}), admin.result
    admin.unbind()


@pytest.fixture(scope="module", params=["389ds", "active-directory"])
def gateway(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"perf-{request.param}")
    started = time.perf_counter()
    if request.param == "389ds":
        directory = Ds389()
        directory.start()
        _load_389(directory)
        server = Server("389ds", directory.url, directory.service_dn, directory.service_password_file, None)
    else:
        directory = SambaDc()
        directory.start()
        _load_samba(directory)
        options = f"      ca_file: {directory.ca_file}\n"  # the certificate names the address too
        server = Server(
            "active-directory", directory.url, directory.service_dn, directory.service_password_file, None, options
        )
    print(f"\n{request.param}: loaded {USERS + SPARE} users and 2 groups in {time.perf_counter() - started:.0f}s")
    settings = write_settings(folder, server, MAPS[request.param])
    settings.write_text(settings.read_text() + "    limits: {rate: null}\n")
    token = CredentialFile(folder / "tokens.yaml").add("perf")
    app = create_app(settings)
    client = Client(app.test_client(), token, app=app)
    client.directory = request.param
    client.admin = directory.admin  # a connection of the directory's own admin, for the raw figures
    yield client
    app.extensions["scim_gateway"].close()
    directory.stop()


def _id(client: Client, resource: str, filter_text: str) -> str:
    body = client.get(f"/{resource}?attributes=id&filter={filter_text}").get_json()
    assert body["totalResults"] == 1, body
    return body["Resources"][0]["id"]


def test_membership_patch_and_group_read_on_each_directory(gateway, ldap_ops):
    login = "{:s}" if gateway.directory == "389ds" else "{:s}@example.com"
    spare = [_id(gateway, "Users", f'userName eq "{login.format(f"u{USERS + i:05d}")}"') for i in range(SPARE)]
    print(f"\n{gateway.directory}; machine: {machine()}; {ROUNDS} rounds, ms (p50 / p99)")
    print(
        f"{'members':>8} {'add 10':>14} {'remove 10':>14} {'GET no members':>15} {'GET with members':>17}"
        f" {'ldap3 add 10':>14} {'ldap3 remove 10':>15}"
    )
    for name, size in (("small", 100), ("big", USERS)):
        group = _id(gateway, "Groups", f'displayName eq "{name}"')
        adds, removes, gets = [], [], []
        for round_ in range(ROUNDS):
            value = [{"value": i} for i in spare[round_ * 10 : round_ * 10 + 10]]
            ldap_ops.reset()
            started = time.perf_counter()
            assert (
                gateway.patch(f"/Groups/{group}", [{"op": "Add", "path": "members", "value": value}]).status_code == 204
            )
            adds.append(time.perf_counter() - started)
            assert ldap_ops.total <= 3  # resolve the ten ids, find the group's DN, one modify
            started = time.perf_counter()
            response = gateway.patch(f"/Groups/{group}", [{"op": "Remove", "path": "members", "value": value}])
            removes.append(time.perf_counter() - started)
            assert response.status_code == 204
            started = time.perf_counter()
            assert "members" not in gateway.get(f"/Groups/{group}?excludedAttributes=members").get_json()
            gets.append(time.perf_counter() - started)
        started = time.perf_counter()
        response = gateway.get(f"/Groups/{group}")
        full = f"{(time.perf_counter() - started) * 1000:.0f}"
        if response.status_code == 503:  # the request's deadline passed (389 DS at 50,000 members)
            full = f"503 after {full}"
        else:
            assert len(response.get_json()["members"]) == size
        raw_adds, raw_removes = _raw_member_changes(gateway.admin(), gateway.directory, name)
        print(
            f"{size:>8} {_p50_p99(adds):>14} {_p50_p99(removes):>14} {_median_ms(gets):>15.1f} {full:>17}"
            f" {_p50_p99(raw_adds):>14} {_p50_p99(raw_removes):>15}"
        )


def _raw_member_changes(admin: ldap3.Connection, directory: str, name: str) -> tuple[list[float], list[float]]:
    """The same modifies sent straight to the directory with ldap3: what the directory itself costs."""
    naming = "uid" if directory == "389ds" else "CN"
    batches = [
        [f"{naming}=u{USERS + (round_ * 10 + i) % SPARE:05d},{PEOPLE_DN}" for i in range(10)]
        for round_ in range(ROUNDS)
    ]
    return direct_member_changes(admin, f"cn={name},{GROUPS_DN}", batches)
