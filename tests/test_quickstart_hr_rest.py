"""`./deploy/quickstart.sh --backend hr-rest`, run as a user runs it: the gateway in front of the
reference HR REST API, Entra's whole user flow through it, and nothing left running after."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import requests

from tests.sandbox.children import free_port
from tests.test_cli import _running, start_quickstart

REPO = Path(__file__).resolve().parents[1]
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _patch(operations: list[dict]) -> dict:
    return {"schemas": [PATCH_OP], "Operations": operations}


def test_quickstart_hr_rest_serves_entras_user_flow_and_stops_cleanly(tmp_path):
    state = tmp_path / "state"
    process, tenant_url, token = start_quickstart(state, free_port(), "--backend", "hr-rest")
    scim = requests.Session()
    scim.headers["Authorization"] = f"Bearer {token}"
    try:
        # Test Connection: a random GUID as userName, answered with an empty list.
        probe = scim.get(f"{tenant_url}/Users", params={"filter": 'userName eq "cf4d78e8-7c3b-4d5f"'}, timeout=10)
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0

        # Create, after the lookup by userName found nobody.
        body = {
            "userName": "pat@contoso.com",
            "active": "True",
            "externalId": "pat",
            "displayName": "Pat",
            "emails": [{"type": "work", "value": "pat@contoso.com", "primary": True}],
            "name": {"givenName": "Pat", "familyName": "Lee"},
        }
        created = scim.post(f"{tenant_url}/Users", json=body, timeout=10)
        assert created.status_code == 201, created.text
        id = created.json()["id"]
        assert id.isdigit()  # the HR API's own emp_id

        found = scim.get(f"{tenant_url}/Users", params={"filter": 'userName eq "pat@contoso.com"'}, timeout=10)
        assert [r["id"] for r in found.json()["Resources"]] == [id]

        # PATCH, old dialect: capitalised ops, one path each.
        old = scim.patch(
            f"{tenant_url}/Users/{id}",
            json=_patch([{"op": "Replace", "path": "title", "value": "Engineer"}]),
            timeout=10,
        )
        assert old.status_code == 200 and old.json()["title"] == "Engineer"
        # PATCH, new dialect: no path, dotted and URN keys.
        new = scim.patch(
            f"{tenant_url}/Users/{id}?aadOptscim062020",
            json=_patch(
                [{"op": "replace", "value": {"name.givenName": "Patricia", f"{ENTERPRISE}:employeeNumber": "E-7"}}]
            ),
            timeout=10,
        )
        assert new.json()["name"]["givenName"] == "Patricia"
        assert new.json()[ENTERPRISE] == {"employeeNumber": "E-7"}

        # Disable the way Entra does ("False" as a string), and read it back.
        disabled = scim.patch(
            f"{tenant_url}/Users/{id}", json=_patch([{"op": "Replace", "path": "active", "value": "False"}]), timeout=10
        )
        assert disabled.json()["active"] is False
        assert scim.get(f"{tenant_url}/Users/{id}", timeout=10).json()["active"] is False

        assert scim.delete(f"{tenant_url}/Users/{id}", timeout=10).status_code == 204
        assert scim.get(f"{tenant_url}/Users/{id}", timeout=10).status_code == 404
        assert (
            requests.get(f"{tenant_url}/Users", headers={"Authorization": "Bearer no"}, timeout=10).status_code == 401
        )
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        process.stdout.close()
    deadline = time.monotonic() + 5
    while _running(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(state) == []
    api_key = (state / "hr-api" / "api.key").read_text().strip()
    written = "".join(p.read_text(errors="replace") for p in state.rglob("*") if p.suffix in (".yaml", ".log", ".json"))
    assert token not in written and api_key not in written


def test_mapping_check_accepts_the_shipped_hr_rest_map(capsys):
    from gateway.cli import main

    assert main(["mapping", "check", str(REPO / "mappings" / "hr-rest-example.yaml")]) == 0
    assert "ok: users (22 attributes)" in capsys.readouterr().out
