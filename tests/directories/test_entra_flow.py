"""Entra's wire cases (tests/entra/*.yaml) and its group flow, replayed through each shipped map
into OpenLDAP, 389 DS and Samba AD: the answers Entra sees must be the same everywhere. (What
each case writes is checked attribute by attribute on OpenLDAP in tests/entra; here the
answers, and read-backs, stand for it.)"""

from __future__ import annotations

import copy

import pytest

from tests.entra.test_entra_wire import CASES, _assert_subset, _fill, _given, _replay

# What a shipped map does not store, and says so (a comment, and a `mapping check` warning):
# left out of the answers expected from that directory.
NOT_STORED = {"active-directory": [("name", "formatted")]}


def _without(case: dict, paths: list[tuple[str, str]]) -> dict:
    case = copy.deepcopy(case)
    for parent, key in paths:
        for answer in (case.get("response"), *case.get("read_back", {}).values()):
            if isinstance(answer, dict) and isinstance(answer.get(parent), dict):
                answer[parent].pop(key, None)
    return case


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_entra_wire_case_on_each_directory(case, server, directory_client):
    case = _without(case, NOT_STORED.get(server.name, []))
    ids = _given(directory_client, case.get("given", []), case.get("groups", {}))
    _replay(directory_client, case, ids)
    for name, expected in _fill(case.get("read_back_group", {}), ids).items():
        body = directory_client.get(f"/Groups/{ids[name]}").get_json()
        if "members" in expected:
            order = list(ids.values())
            body["members"] = sorted(body.get("members", []), key=lambda m: order.index(m["value"]))
        _assert_subset(expected, body, f"GET group {name}")
    for name, expected in _fill(case.get("read_back", {}), ids).items():
        _assert_subset(expected, directory_client.get(f"/Users/{ids[name]}").get_json(), f"GET {name}")
    for name, status in case.get("read_back_status", {}).items():
        assert directory_client.get(f"/Users/{ids[name]}").status_code == status
