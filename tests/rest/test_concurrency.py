"""No lost update on the REST backend: concurrent PATCHes of one employee through the gateway,
against the real reference HR API (with ETags and If-Match, and without)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import HR_MAP, Client
from tests.sandbox.hr_api import HrApi

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Ten PATCHes, each of its own field: (SCIM path, value, the API field it lands in).
TEN_FIELDS = [
    ("displayName", "Dee Display", ("names", "display")),
    ("title", "Chef", ("job_title",)),
    ("preferredLanguage", "nl-NL", ("language",)),
    ("name.givenName", "Dee", ("names", "first")),
    ("name.familyName", "Dunn", ("names", "last")),
    ("name.formatted", "Dee Dunn", ("names", "full")),
    ("externalId", "dd-1", ("ext_ref",)),
    (f"{ENTERPRISE}:employeeNumber", "E-42", ("employee_no",)),
    (f"{ENTERPRISE}:department", "Kitchen", ("department",)),
    ('addresses[type eq "work"].locality', "Ghent", ("office", "city")),
]

PATCH_MAP = HR_MAP.read_text().replace("    update:\n      method: PUT\n", "    update:\n      method: PATCH\n")


def _field(employee: dict, where: tuple[str, ...]):
    for part in where:
        employee = employee[part]
    return employee


def _patch_concurrently(client: Client, id: str) -> list[int]:
    def patch(case):
        path, value, _ = case
        own = Client(client.app.test_client(), client.token, client.base, client.app)  # one per thread
        return own.patch(f"/Users/{id}", [{"op": "replace", "path": path, "value": value}]).status_code

    with ThreadPoolExecutor(len(TEN_FIELDS)) as pool:
        return list(pool.map(patch, TEN_FIELDS))


@pytest.mark.parametrize("update", ["PUT", "PATCH"])
def test_ten_concurrent_patches_of_one_employee_all_survive_with_etags(make_client, employees, update):
    assert "update:\n      method: PATCH" in PATCH_MAP
    client = make_client(HR_MAP if update == "PUT" else PATCH_MAP)
    id = client.create_user("dee@contoso.com")["id"]
    assert _patch_concurrently(client, id) == [200] * len(TEN_FIELDS)
    employee = employees.by_login("dee@contoso.com")
    assert {where: _field(employee, where) for _, _, where in TEN_FIELDS} == {
        where: value for _, value, where in TEN_FIELDS
    }


def test_without_etags_a_patch_update_still_keeps_every_field(make_client, tmp_path):
    """An API without optimistic concurrency: PATCH sends only the changed field, so writers of
    different fields never undo each other (writers of one field: the last one wins)."""
    with HrApi(tmp_path / "plain", etags=False, rate=100000, burst=100000) as plain:
        client = make_client(PATCH_MAP, server=plain)
        id = client.create_user("eli@contoso.com")["id"]
        assert _patch_concurrently(client, id) == [200] * len(TEN_FIELDS)
        employee = client.get(f"/Users/{id}").get_json()
        assert employee["title"] == "Chef" and employee["name"]["familyName"] == "Dunn"
        assert employee[ENTERPRISE]["department"] == "Kitchen"
        assert employee["addresses"][0]["locality"] == "Ghent"
        assert employee["externalId"] == "dd-1" and employee["displayName"] == "Dee Display"
