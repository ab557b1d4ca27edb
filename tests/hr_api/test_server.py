"""The reference HR API's own quirks, which the REST backend's tests rely on."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.hr_api import HrApi


@pytest.fixture
def api(employees, hr_api) -> tuple[str, requests.Session]:
    return hr_api.url, employees.session


def test_a_missing_or_wrong_api_key_is_401(hr_api):
    assert requests.get(f"{hr_api.url}/employees", timeout=5).status_code == 401
    wrong = requests.get(f"{hr_api.url}/employees", headers={"X-Api-Key": "nope"}, timeout=5)
    assert wrong.json() == {"error": {"code": "unauthorized", "message": "a valid X-Api-Key header is required"}}


def test_ids_are_numbers_and_other_ids_are_400(api):
    url, session = api
    created = session.post(f"{url}/employees", json={"login": "ann"}).json()
    assert isinstance(created["emp_id"], int) and created["status"] == "A"
    assert created["names"] == {"first": None, "last": None, "full": None, "display": None}
    assert session.get(f"{url}/employees/abc").status_code == 400


def test_paging_cuts_large_limits_and_hides_terminated_employees_unless_asked(api, employees):
    url, session = api
    ids = [employees.add(login=f"user{i:02d}")["emp_id"] for i in range(53)]
    session.post(f"{url}/employees/{ids[0]}/terminate")
    page = session.get(f"{url}/employees", params={"offset": 0, "limit": 100}).json()
    assert (page["total"], page["limit"], len(page["items"])) == (52, 50, 50)
    everyone = session.get(f"{url}/employees", params={"offset": 50, "include_terminated": "true"}).json()
    assert everyone["total"] == 53 and len(everyone["items"]) == 3


def test_search_parameters_match_exactly_and_unknown_ones_are_400(api, employees):
    url, session = api
    employees.add(login="Bob@Contoso.com", names={"display": "Bob"})
    assert session.get(f"{url}/employees", params={"login": "bob@contoso.com"}).json()["total"] == 1
    assert session.get(f"{url}/employees", params={"display_name": "bob"}).json()["total"] == 0
    assert session.get(f"{url}/employees", params={"userName": "bob"}).status_code == 400


def test_status_is_read_only_and_written_by_terminate_and_reinstate(api, employees):
    url, session = api
    id = employees.add(login="cy")["emp_id"]
    refused = session.put(f"{url}/employees/{id}", json={"login": "cy", "status": "T"})
    assert refused.status_code == 422 and "read-only" in refused.json()["error"]["message"]
    assert session.post(f"{url}/employees/{id}/terminate").json()["status"] == "T"
    assert session.post(f"{url}/employees/{id}/reinstate").json()["status"] == "A"


def test_a_taken_login_is_409_in_any_case(api, employees):
    url, session = api
    employees.add(login="dee")
    assert session.post(f"{url}/employees", json={"login": "DEE"}).status_code == 409


def test_beyond_its_rate_limit_it_answers_429_with_retry_after(tmp_path):
    with HrApi(tmp_path / "slow", rate=0.01, burst=2) as slow:
        session = requests.Session()
        session.headers["X-Api-Key"] = slow.api_key
        statuses = [session.get(f"{slow.url}/employees", timeout=5) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert int(statuses[2].headers["Retry-After"]) >= 60
