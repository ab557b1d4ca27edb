"""Replays Entra's wire cases (users.yaml) against the gateway on a real slapd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import Client
from tests.sandbox.slapd import GROUPS_DN

CASES = [
    case
    for name in ("users.yaml", "groups.yaml")
    for case in yaml.safe_load((Path(__file__).parent / name).read_text())
]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# Users a case can ask for with `given:`; bodies as Entra POSTs them.
GIVEN = {
    "alice": {
        "userName": "alice@contoso.com",
        "externalId": "e-alice",
        "active": True,
        "displayName": "Alice",
        "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
        "phoneNumbers": [{"type": "work", "value": "+1 425 555 0100"}],
        "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
    },
    "bob": {"userName": "bob", "active": "True", "displayName": "Bob"},
    "carol": {"userName": "carol", "active": True},
    "boss": {"userName": "boss", "active": True, "displayName": "The Boss"},
    "disabled": {"userName": "disabled", "active": "False"},
    "managed": {"userName": "managed", "active": True, ENTERPRISE: {"manager": "{boss}"}},
}
ORDER = ["boss", "alice", "bob", "carol", "disabled", "managed"]


def _fill(value, ids: dict[str, str]):
    text = json.dumps(value)
    for name, id in ids.items():
        text = text.replace("{" + name + "}", id)
    return json.loads(text)


def _assert_subset(expected, actual, where="response"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            _assert_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(expected) == len(actual), f"{where}: expected {len(expected)} items, got {actual!r}"
        for index, (item, other) in enumerate(zip(expected, actual, strict=False)):
            _assert_subset(item, other, f"{where}[{index}]")
    else:
        assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


def _absent(body: dict, dotted: str) -> bool:
    node = body
    for part in dotted.split(".") if not dotted.startswith("urn:") else [dotted]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return True
    return False


def _given(client: Client, names: list[str], groups: dict[str, list[str]]) -> dict[str, str]:
    ids: dict[str, str] = {}
    wanted = set(names) | ({"boss"} if "managed" in names else set())
    for name in [n for n in ORDER if n in wanted]:
        ids[name] = client.create_user(**_fill(GIVEN[name], ids))["id"]
    for name, members in groups.items():
        body = {"displayName": name, "members": [{"value": ids[m]} for m in members]}
        response = client.post("/Groups", body)
        assert response.status_code == 201, response.get_json()
        ids[name] = response.get_json()["id"]
    return ids


def _replay(client: Client, case: dict, ids: dict[str, str]) -> dict:
    """Send the case's request; check status, content type, the answer and what must be absent."""
    request = _fill(case["request"], ids)
    response = client.request(request["method"], request["path"], request.get("body"), token=request.get("token"))

    assert response.status_code == case["status"], response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/scim+json"
    body = response.get_json(silent=True) or {}
    if "response" in case:
        _assert_subset(_fill(case["response"], ids), body)
    for dotted in case.get("absent", []):
        assert _absent(body, dotted), f"{dotted} should not be in {body}"
    return body


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_entra_wire_case(case, client: Client, directory):
    ids = _given(client, case.get("given", []), case.get("groups", {}))
    _replay(client, case, ids)
    for uid, attributes in _fill(case.get("directory", {}), ids).items():
        entry = directory.entry(uid)
        if attributes is None:
            assert entry is None, f"{uid} should be gone, found {entry}"
            continue
        assert entry is not None, f"no entry with uid {uid}"
        for name, values in attributes.items():
            assert entry.get(name.lower()) == values, f"{uid}: {name} is {entry.get(name.lower())}, expected {values}"
    for name, attributes in _fill(case.get("group_entries", {}), ids).items():
        entry = directory.entry(name, base=GROUPS_DN, attribute="cn")
        if attributes is None:
            assert entry is None, f"group {name} should be gone, found {entry}"
            continue
        assert entry is not None, f"no group named {name}"
        for attribute, values in attributes.items():
            assert sorted(entry.get(attribute.lower(), [])) == sorted(values), (
                f"{name}: {attribute} is {entry.get(attribute.lower())}"
            )
    for name, expected in _fill(case.get("read_back_group", {}), ids).items():
        read = client.get(f"/Groups/{ids[name]}")
        assert read.status_code == 200
        body = read.get_json()
        if "members" in expected:
            body["members"] = sorted(body.get("members", []), key=lambda m: [ids[k] for k in ids].index(m["value"]))
        _assert_subset(expected, body, f"GET group {name}")
    for name, expected in _fill(case.get("read_back", {}), ids).items():
        read = client.get(f"/Users/{ids[name]}")
        assert read.status_code == 200
        _assert_subset(expected, read.get_json(), f"GET {name}")
    for name, status in case.get("read_back_status", {}).items():
        assert client.get(f"/Users/{ids[name]}").status_code == status
