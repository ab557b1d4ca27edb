"""Replays Entra's user wire cases (users.yaml) against the gateway on the reference HR REST API.

The same requests and the same expected answers as on slapd; only what the downstream must hold
afterwards is said in the API's terms (users_hr_api.yaml). groups.yaml is not replayed here:
the reference API has no groups.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.backends.rest.records import get_field
from tests.conftest import Client, Employees
from tests.entra.test_entra_wire import _assert_subset, _fill, _given, _replay

CASES = yaml.safe_load((Path(__file__).parent / "users.yaml").read_text())
HR_API = yaml.safe_load((Path(__file__).parent / "users_hr_api.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_entra_wire_case_on_the_hr_api(case, rest_client: Client, employees: Employees):
    ids = _given(rest_client, case.get("given", []), {})
    _replay(rest_client, case, ids)
    for login, fields in _fill(HR_API.get(case["id"], {}), ids).items():
        employee = employees.by_login(login)
        if fields is None:
            assert employee is None, f"{login} should be gone, found {employee}"
            continue
        assert employee is not None, f"no employee with login {login}"
        for name, expected in fields.items():
            actual = get_field(employee, name)
            actual = actual if actual is None or isinstance(actual, str) else str(actual)
            assert actual == expected, f"{login}: {name} is {actual!r}, expected {expected!r}"
    for name, expected in _fill(case.get("read_back", {}), ids).items():
        read = rest_client.get(f"/Users/{ids[name]}")
        assert read.status_code == 200
        _assert_subset(expected, read.get_json(), f"GET {name}")
    for name, status in case.get("read_back_status", {}).items():
        assert rest_client.get(f"/Users/{ids[name]}").status_code == status


def test_every_case_with_directory_checks_has_hr_api_checks():
    """A new wire case that checks slapd should say what the HR API must hold as well."""
    missing = [c["id"] for c in CASES if "directory" in c and c["id"] not in HR_API]
    assert missing == []
