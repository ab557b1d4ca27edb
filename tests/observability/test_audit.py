"""The audit trail: one JSON line per change applied (or refused) in the directory or the API,
with who, from where, what (new and old values, sensitive ones masked) and how it ended."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import ldap3
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.backends.base import InvalidData, Unavailable, Update
from gateway.observability import context, history
from gateway.observability.trail import AuditedBackend, AuditedKind, AuditTrail, settle
from gateway.store import Change, Entry
from tests.conftest import HR_MAP, OPENLDAP_MAP
from tests.sandbox.slapd import GROUPS_DN, PEOPLE_DN, Slapd

TITLE_LINE = "    title: title                       # Entra: jobTitle\n"
PLACEHOLDER = "cn=no members,ou=groups,dc=example,dc=com"  # the map's member of an empty group


def trail_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def audited(make_client, tmp_path):
    """A gateway on the OpenLDAP map whose audit trail goes to a file; (client, trail path)."""
    trail = tmp_path / "audit.log"
    return make_client(top_yaml=f"audit_log: {trail}\nmetrics_allow_from: [127.0.0.1/32]\n"), trail


def test_a_create_names_who_when_from_where_and_what(audited):
    client, trail = audited
    response = client.post("/Users", {"userName": "ada", "title": "Countess", "active": True})
    (line,) = trail_lines(trail)
    assert line["audit"] == 1 and line["time"].endswith("Z")
    assert line["tenant"] == "test" and line["credential"] == "entra" and line["client"] == "127.0.0.1"
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["operation"] == "create" and line["resource_type"] == "User"
    assert line["id"] == response.get_json()["id"] and line["name"] == "ada"
    assert line["key"] == "uid=ada,ou=People,dc=example,dc=com"
    assert {"attribute": "title", "op": "add", "values": ["Countess"]} in line["changes"]
    assert line["outcome"] == "applied" and "reason" not in line


def test_a_patch_shows_the_old_values_it_read_anyway(audited, ldap_ops):
    client, trail = audited
    created = client.create_user("ada", displayName="Countess")
    ldap_ops.reset()
    # displayName feeds the map's cn default, so this PATCH reads the entry (mapping/blind.py)
    client.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "displayName", "value": "Analyst"}])
    assert ldap_ops["search"] == 1  # the read PATCH does anyway: the trail costs no extra read
    line = trail_lines(trail)[-1]
    assert line["operation"] == "patch" and line["name"] == "ada"
    assert {"attribute": "displayName", "op": "replace", "values": ["Analyst"], "old": ["Countess"]} in line["changes"]


def test_a_patch_sent_without_a_read_has_no_old_values_and_costs_no_read(audited, ldap_ops):
    client, trail = audited
    created = client.create_user("ada", title="Countess")
    ldap_ops.reset()
    client.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "title", "value": "Analyst"}])
    assert ldap_ops["search"] == 0  # a plain title needs no read (mapping/blind.py), nor does the trail
    line = trail_lines(trail)[-1]
    assert line["operation"] == "patch" and line["name"] == "ada"
    assert line["changes"] == [{"attribute": "title", "op": "replace", "values": ["Analyst"]}]


def test_a_member_patch_names_the_members_by_id_without_reading_the_group(audited):
    client, trail = audited
    ada = client.create_user("ada")
    group = client.post("/Groups", {"displayName": "Sales", "members": []}).get_json()
    client.patch(f"/Groups/{group['id']}", [{"op": "add", "path": "members", "value": [{"value": ada["id"]}]}])
    line = trail_lines(trail)[-1]
    assert line["resource_type"] == "Group" and line["key"] == "cn=Sales,ou=Groups,dc=example,dc=com"
    assert line["changes"] == [{"attribute": "member", "op": "add", "values": [ada["id"]]}]


def test_a_refused_write_has_its_reason_and_the_dn_it_would_have_had(audited, gateway_log):
    client, trail = audited
    log = gateway_log("text")
    response = client.post("/Users", {"userName": "jörg", "emails": [{"value": "jörg@example.com", "type": "work"}]})
    assert response.status_code == 400
    (line,) = trail_lines(trail)
    assert line["outcome"] == "refused" and "invalidAttributeSyntax" in line["reason"]
    assert line["key"] == "uid=jörg,ou=People,dc=example,dc=com" and "id" not in line
    (request_line,) = [line for line in log.request_lines() if " 400 " in line]
    assert 'dn="uid=jörg,ou=People,dc=example,dc=com"' in request_line or "dn=uid=jörg,ou=People" in request_line


def test_a_rename_records_the_old_and_new_dn_and_a_delete_its_dn(audited):
    client, trail = audited
    ada = client.create_user("ada")
    client.patch(f"/Users/{ada['id']}", [{"op": "replace", "path": "userName", "value": "ada.lovelace"}])
    client.delete(f"/Users/{ada['id']}")
    renamed, deleted = trail_lines(trail)[-2:]
    assert renamed["old_key"] == "uid=ada,ou=People,dc=example,dc=com"
    assert renamed["key"] == "uid=ada.lovelace,ou=People,dc=example,dc=com"
    assert deleted["operation"] == "delete" and deleted["id"] == ada["id"]
    assert deleted["key"] == renamed["key"] and deleted["changes"] == []


def test_the_gateways_own_reference_updates_have_lines_naming_their_cause(make_client, tmp_path):
    """A directory without refint (389 DS's default): the gateway rewrites a renamed or deleted
    user's DN in the groups that hold it, and each of those writes leaves its own line."""
    plain = Slapd(tmp_path / "plain", integrity=False)
    plain.start()
    try:
        text = OPENLDAP_MAP.read_text().replace("referential_integrity: directory", "referential_integrity: gateway")
        trail = tmp_path / "audit.log"
        client = make_client(text, server=plain, top_yaml=f"audit_log: {trail}\n")
        ada = client.create_user("ada")["id"]
        group = client.post("/Groups", {"displayName": "club", "members": [{"value": ada}]}).get_json()["id"]
        client.patch(f"/Users/{ada}", [{"op": "replace", "path": "userName", "value": "ada.l"}])
        client.delete(f"/Users/{ada}")
    finally:
        plain.stop()
    old, new = f"uid=ada,{PEOPLE_DN}", f"uid=ada.l,{PEOPLE_DN}"
    club = f"cn=club,{GROUPS_DN}"
    lines = trail_lines(trail)
    assert [line["operation"] for line in lines] == ["create", "create", "patch", "integrity", "delete", "integrity"]
    renamed, moved, deleted, dropped = lines[2:]
    assert (moved["key"], moved["cause"], moved["resource_type"], moved["outcome"]) == (club, new, "Group", "applied")
    assert moved["changes"] == [
        {"attribute": "member", "op": "delete", "values": [old]},
        {"attribute": "member", "op": "add", "values": [new]},
    ]
    assert moved["request_id"] == renamed["request_id"] and "id" not in moved
    assert (dropped["key"], dropped["cause"], dropped["request_id"]) == (club, new, deleted["request_id"])
    assert dropped["changes"] == [{"attribute": "member", "op": "delete", "values": [new]}]
    assert group and deleted["key"] == new  # the request's own line keeps the user's DN
    shown = history.select(lines, "ada.l")  # the user's history holds what its requests did to the group
    assert sorted(line["operation"] for line in shown) == ["create", "delete", "integrity", "integrity", "patch"]
    assert all(line["resource_type"] == "Group" for line in shown if line["operation"] == "integrity")
    assert f"(references to {new})" in history.describe(dropped)


def test_sensitive_values_and_passwords_are_masked(make_client, tmp_path):
    trail = tmp_path / "audit.log"
    mapping = OPENLDAP_MAP.read_text().replace(
        TITLE_LINE, "    title: {attribute: title, sensitive: true}\n    password: userPassword\n"
    )
    client = make_client(mapping, top_yaml=f"audit_log: {trail}\n")
    created = client.create_user("ada", title="Countess", password="Secret-4-audit-test")
    client.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "title", "value": "Analyst"}])
    text = trail.read_text()
    assert "Secret-4-audit-test" not in text and "Countess" not in text and "Analyst" not in text
    create, patch = trail_lines(trail)
    assert {"attribute": "userPassword", "op": "add", "values": ["***"]} in create["changes"]
    assert patch["changes"] == [{"attribute": "title", "op": "replace", "values": ["***"]}]  # no read, no old


def test_a_rest_write_is_keyed_by_the_api_id(make_client, tmp_path):
    trail = tmp_path / "audit.log"
    client = make_client(HR_MAP, top_yaml=f"audit_log: {trail}\n")
    created = client.create_user("grace", name={"givenName": "Grace", "familyName": "Hopper"})
    client.delete(f"/Users/{created['id']}")
    create, delete = trail_lines(trail)
    assert create["key"] == created["id"] == delete["key"] and create["outcome"] == delete["outcome"] == "applied"
    assert create["name"] == "grace"


# --- outcomes a backend reports ------------------------------------------------------------------


class Refusing:
    specs: dict = {}

    def __init__(self, error: Exception):
        self.error = error

    def modify(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize(
    "error, outcome",
    [
        (Unavailable("the directory did not answer", in_doubt=True), "unknown"),
        (Unavailable("the directory cannot be reached"), "refused"),
        (InvalidData("the directory refused the values"), "refused"),
        (RuntimeError("a bug"), "unknown"),
    ],
)
def test_an_error_after_sending_is_an_unknown_outcome_and_one_before_is_a_refusal(tmp_path, error, outcome):
    trail = AuditTrail(str(tmp_path / "audit.log"))
    backend = AuditedBackend(Refusing(error), trail, {"users": AuditedKind("User", "uid")})
    entry = Entry("42", {"uid": ["ada"]}, "uid=ada,ou=People,dc=example,dc=com")
    with pytest.raises(type(error)):
        backend.modify("users", Update(entry, (Change("uid", "replace", ("ada2",)),), {"uid": ["ada2"]}), None)
    (line,) = trail_lines(tmp_path / "audit.log")
    assert line["outcome"] == outcome and line["reason"] == str(error)
    assert line["operation"] == "modify" and line["key"] == entry.locator and line["name"] == "ada2"


def test_a_rotated_trail_file_is_opened_again(tmp_path):
    path = tmp_path / "audit.log"
    trail = AuditTrail(str(path))
    trail.write({"n": 1})
    path.rename(tmp_path / "audit.log.1")  # logrotate without copytruncate
    trail.write({"n": 2})
    assert trail_lines(tmp_path / "audit.log.1") == [{"n": 1}] and trail_lines(path) == [{"n": 2}]
    path.unlink()
    trail.write({"n": 3})
    assert trail_lines(path) == [{"n": 3}]


def test_a_trail_that_cannot_be_written_goes_to_the_error_log(tmp_path, caplog):
    trail = AuditTrail(str(tmp_path / "missing-folder" / "audit.log"))
    trail.write({"audit": 1, "id": "42"})
    assert "cannot write the audit trail" in caplog.text and '"id":"42"' in caplog.text


# --- a whole Entra cycle: the trail rebuilds the directory; the metrics count every request -------


def test_a_full_entra_cycle_leaves_a_trail_that_rebuilds_the_directory_and_metrics_that_count_it(audited, directory):
    client, trail = audited
    before = _scrape(client)
    sent: list[tuple[str, str, int]] = []

    def send(method: str, path: str, body=None, status: int | None = None) -> dict | None:
        response = client.request(method, path, body)
        if status is not None:
            assert response.status_code == status, (method, path, response.get_json())
        sent.append((path.split("/")[1].split("?")[0], method, response.status_code))
        return response.get_json() if response.data else None

    def patch(path: str, *operations: dict, status: int = 200):
        return send("PATCH", path, {"schemas": [PATCH], "Operations": list(operations)}, status)

    send("GET", '/Users?filter=userName+eq+"cf4d78e8-7c3b-4d5f-9b1e-5a2e1f0c9d87"', status=200)
    ids = {}
    for name in ("alice", "bob", "carol", "dave"):
        send("GET", f'/Users?filter=userName+eq+"{name}"', status=200)
        body = {"userName": name, "active": True, "displayName": name.title(), "externalId": f"e-{name}"}
        ids[name] = send("POST", "/Users", body, 201)["id"]
    send("GET", '/Groups?filter=displayName+eq+"Sales"&excludedAttributes=members', status=200)
    sales = send("POST", "/Groups", {"displayName": "Sales", "externalId": "g-sales", "members": []}, 201)["id"]
    temp = send("POST", "/Groups", {"displayName": "Temp", "members": []}, 201)["id"]
    members = [{"value": ids[n]} for n in ("alice", "bob", "carol")]
    patch(f"/Groups/{sales}", {"op": "Add", "path": "members", "value": members}, status=204)
    patch(f"/Users/{ids['alice']}", {"op": "Replace", "value": {"displayName": "Alice Smith", "title": "CFO"}})
    patch(f"/Users/{ids['bob']}", {"op": "Replace", "path": "active", "value": "False"})
    patch(f"/Users/{ids['dave']}", {"op": "Replace", "path": "userName", "value": "david"})
    patch(f"/Groups/{sales}", {"op": "Remove", "path": "members", "value": [{"value": ids["bob"]}]}, status=204)
    patch(f"/Groups/{sales}", {"op": "Replace", "path": "displayName", "value": "Sales EMEA"}, status=204)
    send("POST", "/Users", {"userName": "alice", "active": True}, 409)  # the service's search: nothing sent
    send("POST", "/Users", {"userName": "x", "emails": [{"value": "jörg@example.com", "type": "work"}]}, 400)
    patch(f"/Users/{ids['bob']}", {"op": "Replace", "path": "active", "value": "True"})
    send("GET", f"/Users/{ids['carol']}", status=200)
    send("DELETE", f"/Users/{ids['carol']}", status=204)  # its membership in Sales goes with it
    send("DELETE", f"/Groups/{temp}", status=204)
    send("GET", f"/Users/{ids['carol']}", status=404)

    lines = trail_lines(trail)
    assert Counter(line["outcome"] for line in lines) == {"applied": 15, "refused": 1}
    mapping = client.app.extensions["scim_gateway"].tenants["tenant_test"].mapping
    written = {kind: m.written_attributes for kind, m in mapping.resource_maps.items()}
    rebuilt = _rebuilt(lines)
    assert rebuilt == _directory_state(directory, written)
    assert rebuilt[sales] == ("cn=sales emea,ou=groups,dc=example,dc=com", {"cn": {"Sales EMEA"}, **rebuilt[sales][1]})
    assert rebuilt[sales][1]["member"] == {ids["alice"]} and len(rebuilt) == 4

    after = _scrape(client)
    for (resource, method, status), count in Counter(sent).items():
        key = ("scim_gateway_requests_total", resource, method, str(status))
        assert after.get(key, 0) - before.get(key, 0) == count, key


PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _scrape(client) -> dict[tuple, float]:
    text = client.flask_client.get("/metrics").get_data(as_text=True)
    found: dict[tuple, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "scim_gateway_requests_total" and sample.labels["tenant"] == "test":
                labels = sample.labels
                found[(sample.name, labels["resource"], labels["method"], labels["status"])] = sample.value
    return found


def _rebuilt(lines: list[dict]) -> dict[str, tuple[str, dict]]:
    """The directory as the applied lines of the trail describe it: {id: (dn, {attribute: values})}."""
    state: dict[str, tuple[str, dict]] = {}
    for line in (line for line in lines if line["outcome"] == "applied"):
        if line["operation"] == "delete":
            state.pop(line["id"])
            for _, attributes in state.values():  # a deleted object leaves every group (documented)
                for values in attributes.values():
                    values.discard(line["id"])
            continue
        _, attributes = state.get(line["id"], (None, {}))
        for change in line["changes"]:
            name, values = change["attribute"].lower(), set(change["values"])
            if change["op"] == "replace":
                attributes[name] = values
            elif change["op"] == "add":
                attributes[name] = attributes.get(name, set()) | values
            else:
                attributes[name] = attributes.get(name, set()) - values
        state[line["id"]] = (line["key"].lower(), {k: v for k, v in attributes.items() if v})
    return state


def _directory_state(directory, written: dict[str, set[str]]) -> dict[str, tuple[str, dict]]:
    connection = directory.connection
    uuids = {}
    entries = []
    for base, kind in ((PEOPLE_DN, "users"), (GROUPS_DN, "groups")):
        connection.search(base, "(objectClass=*)", ldap3.LEVEL, attributes=["*", "entryUUID"])
        for found in connection.response:
            attributes = {k.lower(): v if isinstance(v, list) else [v] for k, v in found["attributes"].items()}
            uuids[found["dn"].lower()] = attributes["entryuuid"][0]
            entries.append((kind, found["dn"], attributes))
    state = {}
    for kind, dn, attributes in entries:
        kept = {}
        for name, values in attributes.items():
            if name not in written[kind]:
                continue
            if name in ("member", "manager"):  # DNs in the directory, SCIM ids in the trail
                values = [uuids[v.lower()] for v in values if v.lower() != PLACEHOLDER]
            kept[name] = {str(v) for v in values}
        state[attributes["entryuuid"][0]] = (dn.lower(), {k: v for k, v in kept.items() if v})
    return state


@pytest.mark.parametrize("status, lines", [(200, ["unknown", "applied"]), (503, ["unknown"])])
def test_a_write_in_doubt_that_the_request_finds_done_is_settled_in_a_second_line(tmp_path, status, lines):
    trail = AuditTrail(str(tmp_path / "audit.log"))
    backend = AuditedBackend(Refusing(Unavailable("no answer", in_doubt=True)), trail, {"users": AuditedKind("User")})
    serving = context.RequestContext("r-42", method="PATCH", tenant="t")
    token = context.begin(serving)
    try:
        with pytest.raises(Unavailable):
            backend.modify("users", Update(Entry("42", {}, "uid=ada"), (Change("title", "replace", ("x",)),)), None)
        settle(serving, status)  # the service read it back: done (200), or still not known (503)
    finally:
        context.end(token)
    written = trail_lines(tmp_path / "audit.log")
    assert [line["outcome"] for line in written] == lines
    assert all(line["request_id"] == "r-42" and line["id"] == "42" for line in written)
    assert written[-1]["reason"].startswith("settled:" if status == 200 else "no answer")
