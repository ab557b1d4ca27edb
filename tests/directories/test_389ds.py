"""389 Directory Server specifics on a real instance: its limits, its lock, its indexes."""

from __future__ import annotations

import pytest

from gateway.mapping.loader import load_mapping
from tests.directories.conftest import MAPS, Server
from tests.directories.servers import PEOPLE_DN


@pytest.fixture
def ds(ds389, tmp_path):
    server = Server("389ds", ds389.url, ds389.service_dn, ds389.service_password_file, ds389.admin())
    server.clear()
    yield server
    server.admin.unbind()


def test_the_389_map_only_claims_indexes_the_documented_setup_has(ds389):
    indexes = ds389.indexes()
    for resource_map in load_mapping(MAPS["389ds"]).resource_maps.values():
        assert {name.lower() for name in resource_map.target.indexes} <= indexes


def test_disabling_sets_nsaccountlock_and_enabling_removes_it(ds, make_directory_client_for):
    client = make_directory_client_for(ds)
    user = client.create_user("ann")["id"]
    assert client.patch(f"/Users/{user}", [{"op": "Replace", "path": "active", "value": "False"}]).status_code == 200
    assert ds.entry("uid", "ann")["nsaccountlock"] == ["TRUE"]
    found = client.get("/Users?filter=active eq false").get_json()
    assert [r["id"] for r in found["Resources"]] == [user]
    assert client.patch(f"/Users/{user}", [{"op": "Replace", "path": "active", "value": True}]).status_code == 200
    assert "nsaccountlock" not in ds.entry("uid", "ann")


def test_the_look_through_limit_is_an_error_naming_the_account_setting_not_a_503(ds, ds389, make_directory_client_for):
    for index in range(6):
        ds.admin.add(f"uid=u{index},{PEOPLE_DN}", ["inetOrgPerson"], {"uid": f"u{index}", "sn": "x", "cn": "x"})
    client = make_directory_client_for(ds, bind_dn=ds389.limited_dn)
    # title is not indexed: 389 looks through every user, and this account may look at 3
    response = client.get('/Users?filter=title eq "nobody"')
    assert response.status_code == 500, response.get_json()
    detail = response.get_json()["detail"]
    assert "nsLookThroughLimit" in detail and "bind_dn" in detail and "Retry-After" not in response.headers
