"""The gateway in front of the real reference HR API process: paging, errors, rate limits, logs."""

from __future__ import annotations

import logging

import pytest

from gateway.cli import main
from gateway.credentials import CredentialFile
from tests.conftest import HR_MAP, write_rest_settings
from tests.sandbox.children import free_port
from tests.sandbox.hr_api import HrApi


def _transport(client):
    return client.app.extensions["scim_gateway"].tenants["tenant_test"].backend.transport


def test_a_filter_the_api_cannot_answer_is_400_invalid_filter_and_costs_no_call(rest_client):
    transport = _transport(rest_client)
    sent = transport.sent
    response = rest_client.get('/Users?filter=title eq "Engineer"')
    assert response.status_code == 400
    body = response.get_json()
    assert body["scimType"] == "invalidFilter"
    assert "finds users only by emp_id, login, ext_ref, contact.email, names.display" in body["detail"]
    assert transport.sent == sent


@pytest.mark.parametrize("page_size", [50, 100])  # 100: a map that asks for more than the API gives
def test_list_pages_through_the_api_with_the_true_total(make_client, employees, page_size):
    ids = [str(employees.add(login=f"user{i:02d}")["emp_id"]) for i in range(55)]
    mapping = HR_MAP.read_text().replace("size: 50 ", f"size: {page_size} ")
    assert f"size: {page_size} " in mapping
    client = make_client(mapping)
    page = client.get("/Users?startIndex=48&count=5").get_json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (55, 48, 5)
    assert [r["id"] for r in page["Resources"]] == ids[47:52]
    assert client.get("/Users?count=0").get_json()["totalResults"] == 55
    tail = client.get("/Users?startIndex=40&count=100").get_json()
    assert [r["id"] for r in tail["Resources"]] == ids[39:]


def test_put_replaces_the_whole_user(rest_client, employees):
    id = rest_client.create_user("put", displayName="Before", title="Boss", emails=[{"type": "work", "value": "a@x"}])[
        "id"
    ]
    response = rest_client.put(f"/Users/{id}", {"userName": "put", "displayName": "After", "active": True})
    assert response.status_code == 200
    body = response.get_json()
    assert body["displayName"] == "After" and "title" not in body and "emails" not in body
    employee = employees.by_login("put")
    assert (employee["names"]["display"], employee["job_title"], employee["contact"]["email"]) == ("After", None, None)


def test_projection_works_the_same_on_the_api(rest_client):
    id = rest_client.create_user("proj", displayName="P", emails=[{"type": "work", "value": "p@x"}])["id"]
    only = rest_client.get(f"/Users/{id}?attributes=userName").get_json()
    assert set(only) == {"schemas", "id", "userName"}
    listed = rest_client.get('/Users?attributes=emails.value&filter=userName eq "proj"').get_json()
    assert listed["Resources"][0]["emails"] == [{"value": "p@x"}]


def test_values_the_api_refuses_are_400_with_the_api_message(rest_client):
    long_name = "x" * 300
    response = rest_client.post("/Users", {"userName": long_name, "active": True})
    assert response.status_code == 400
    assert response.get_json()["detail"] == "the API refused the values: login is longer than 256 characters"


def test_an_unreachable_api_is_503_with_the_configured_retry_after(make_client):
    client = make_client(HR_MAP, base_url=f"http://127.0.0.1:{free_port()}/api/v1", timeout=0.4, retry_budget=0.5)
    response = client.get('/Users?filter=userName eq "x"')
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "17"
    assert response.get_json()["detail"] == "the API cannot be reached; retry later"


def test_a_wrong_base_url_path_is_503_to_entra_never_404(make_client, hr_api, employees, caplog):
    """Every call to a wrong path answers 404. Entra quarantines a job whose lookup answers 404,
    and takes a 404 to GET /Users/{id} for a user gone (InvalidAnchor); a 404 to a create would
    read as nonsense. Seen by hand on the HR quick start with /api/v2 for /api/v1."""
    employee = employees.add(login="kept")
    client = make_client(HR_MAP, base_url=f"{hr_api.url.rsplit('/api/', 1)[0]}/api/v2")
    lookup = client.get('/Users?filter=userName eq "cf4d78e8-0000-4000-8000-000000000000"')
    read = client.get(f"/Users/{employee['emp_id']}")
    create = client.post("/Users", {"userName": "new", "active": True, "name": {"givenName": "N", "familyName": "W"}})
    for response in (lookup, read, create):
        assert response.status_code == 503 and response.headers["Retry-After"] == "17", response.get_json()
        assert (
            response.get_json()["detail"]
            == "the API has no /employees: its base_url or the map's list path is wrong; retry later"
        )
    assert "answers 404: check rest.base_url" in caplog.text
    mended = make_client(HR_MAP)
    assert mended.get('/Users?filter=userName eq "cf4d78e8"').get_json()["totalResults"] == 0
    assert mended.get("/Users/999999").status_code == 404  # the API's own 404 again: no such user


def test_a_wrong_api_key_is_503_and_says_so_in_the_log(make_client, tmp_path, caplog):
    wrong = tmp_path / "wrong.key"
    wrong.write_text("hrk_not-the-key\n")
    client = make_client(HR_MAP, auth=f"{{type: api_key, key_file: {wrong}}}")
    response = client.get('/Users?filter=userName eq "x"')
    assert (response.status_code, response.get_json()["detail"]) == (
        503,
        "the API refused the gateway's credentials; retry later",
    )
    assert "401, the API refused the gateway's credentials" in caplog.text
    assert "hrk_not-the-key" not in caplog.text


def test_the_api_rate_limit_beyond_the_budget_is_429_with_its_retry_after(make_client, tmp_path):
    with HrApi(tmp_path / "slow", rate=0.01, burst=3) as slow:
        client = make_client(HR_MAP, server=slow)
        statuses = [client.get('/Users?filter=userName eq "x"') for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert int(statuses[3].headers["Retry-After"]) >= 60
    assert statuses[3].get_json()["detail"] == "the API is rate-limiting the gateway; retry later"


def test_no_log_line_and_no_answer_carries_the_api_key(rest_client, hr_api, caplog):
    caplog.set_level(logging.DEBUG)
    answers = [
        rest_client.post("/Users", {"userName": "keyless", "active": True}),
        rest_client.get('/Users?filter=userName eq "keyless"'),
        rest_client.post("/Users", {"userName": "keyless", "active": True}),  # 409
        rest_client.get("/Users/not-a-number"),
        rest_client.get('/Users?filter=title eq "x"'),
    ]
    assert [a.status_code for a in answers] == [201, 200, 409, 404, 400]
    assert hr_api.api_key not in caplog.text
    assert all(hr_api.api_key not in a.get_data(as_text=True) for a in answers)


def test_each_entra_operation_costs_one_or_two_api_calls(rest_client):
    transport = _transport(rest_client)

    def calls(request) -> int:
        before = transport.sent
        response = request()
        assert response.status_code < 300, response.get_data(as_text=True)
        return transport.sent - before

    patch = [{"op": "Replace", "path": "title", "value": "Engineer"}]
    disable = [{"op": "Replace", "path": "active", "value": "False"}]
    assert calls(lambda: rest_client.get('/Users?filter=userName eq "cost"')) == 1  # one lookup
    assert calls(lambda: rest_client.post("/Users", {"userName": "cost", "active": True})) == 2  # lookup + POST
    id = rest_client.get('/Users?filter=userName eq "cost"').get_json()["Resources"][0]["id"]
    assert calls(lambda: rest_client.get(f"/Users/{id}")) == 1
    assert calls(lambda: rest_client.patch(f"/Users/{id}", patch)) == 2  # GET + PUT
    assert calls(lambda: rest_client.patch(f"/Users/{id}", patch)) == 1  # nothing changed: no PUT
    assert calls(lambda: rest_client.patch(f"/Users/{id}", disable)) == 2  # GET + terminate
    assert calls(lambda: rest_client.delete(f"/Users/{id}")) == 1


def test_check_reads_the_first_record_through_the_map_so_a_wrong_items_field_fails_there(
    hr_api, employees, tmp_path, capsys
):
    """The list call answering 200 JSON is not enough: every listing of a map whose `items` names
    no array answered 500 while check said all was well."""
    employees.add(login="first")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(HR_MAP.read_text().replace("items: items ", "items: records "))
    for mapping, folder in ((HR_MAP, tmp_path / "right"), (wrong, tmp_path / "wrong")):
        folder.mkdir()
        settings = write_rest_settings(folder, hr_api, mapping)
        CredentialFile(folder / "tokens.yaml").add("entra")
        code = main(["check", "--config", str(settings)])
        report = capsys.readouterr().out
        if mapping == HR_MAP:
            assert code == 0 and "ok   users: the first record, read through the map: 1 in all" in report, report
        else:
            assert code != 0 and "FAIL users: the first record, read through the map" in report, report
            assert "holds no array at records" in report and "compare the map's list (items" in report
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = write_rest_settings(elsewhere, hr_api, HR_MAP, base_url=f"{hr_api.url.rsplit('/api/', 1)[0]}/api/v2")
    CredentialFile(elsewhere / "tokens.yaml").add("entra")
    assert main(["check", "--config", str(settings)]) != 0
    assert "the API has no /employees (404" in capsys.readouterr().out  # a path missing, not a record


def test_a_create_whose_answer_names_no_record_is_found_by_its_username_not_a_500(
    make_client, employees, tmp_path, caplog
):
    """The API made the employee but the map looks for it where the answer has none (`record:`)
    and the API sends no Location: the gateway answered 500 for an employee that now existed."""
    misread = tmp_path / "misread.yaml"
    misread.write_text(
        HR_MAP.read_text().replace('      body: "{record}"\n', '      body: "{record}"\n      record: employee\n', 1)
    )
    client = make_client(misread)
    created = client.post("/Users", {"userName": "made", "active": True, "name": {"givenName": "M", "familyName": "D"}})
    assert created.status_code == 201, created.get_json()
    made = employees.by_login("made")
    assert made is not None and created.get_json()["id"] == str(made["emp_id"])
    assert "say where the record is with the map's `record:`" in caplog.text
