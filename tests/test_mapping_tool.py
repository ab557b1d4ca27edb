"""`scim-gateway mapping check` and `mapping preview`, run as a user runs them."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from gateway.backends.base import BackendError, NotFound, Unavailable, UnknownReference, UnsupportedQuery
from gateway.backends.ldap.kind import LDAP
from gateway.backends.ldap.preview import LdapPreview
from gateway.backends.registry import KINDS
from gateway.cli import main
from gateway.mapping.loader import load_mapping
from gateway.request_preview import preview_request, run_examples
from gateway.scim.errors import ScimError

REPO = Path(__file__).resolve().parents[1]
OPENLDAP = REPO / "mappings" / "openldap.yaml"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

SMALL = """\
version: 1
users:
  ldap:
    base: ou=People,dc=example,dc=com
    dn: uid={uid},ou={ou},ou=People,dc=example,dc=com
    object_classes: [inetOrgPerson]
    indexes: [uid, entryUUID]
  entra_attributes: [userName, title]
  attributes:
    userName: uid
    title: {attribute: title, case: lower}
  computed:
    ou: {template: "{title}", values: {engineer: Engineering}, default: Staff}
    sn: "{userName}"
    cn: "{userName}"
"""


def _run(argv: list[str], capsys, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_accepts_the_shipped_map_and_runs_its_examples(capsys):
    code, out, err = _run(["mapping", "check", str(OPENLDAP)], capsys)
    assert code == 0, err
    assert "ok: users (23 attributes), groups (3 attributes); 3 of 3 examples pass" in out
    assert err == ""


def test_check_warns_with_the_line_and_strict_turns_warnings_into_failure(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(SMALL)
    code, out, err = _run(["mapping", "check", str(path)], capsys)
    assert code == 0
    assert out.strip() == f"{path}: ok: users (2 attributes); 1 warning"
    assert err.strip() == (
        f"{path}:11: warning: title: case: lower writes 'Alice@Contoso.com' as 'alice@contoso.com', and that is "
        "what reads back, so Entra will see a change every cycle; if Entra only ever sends values that survive "
        "it, say read: stored"
    )
    assert _run(["mapping", "check", "--strict", str(path)], capsys)[0] == 1


def test_check_fails_when_an_example_writes_something_else(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(
        SMALL.replace("case: lower}", "case: lower, read: stored}")
        + "examples:\n"
        + "  - name: an engineer\n"
        + "    request: {userName: ann, title: Engineer}\n"
        + "    expect: {dn: 'uid=ann,ou=Engineering,ou=People,dc=example,dc=com', title: Engineer}\n"
        + "  - name: no user name\n"
        + "    request: {title: x}\n"
        + "    error: userName is required\n"
    )
    code, out, err = _run(["mapping", "check", str(path)], capsys)
    assert code == 1
    assert "FAILED" in out and "1 of 2 examples pass" in out
    assert f"{path}:17: example 'an engineer': expected title: ['Engineer'], the gateway writes ['engineer']" in err


def test_preview_prints_the_ldif_of_a_post_without_touching_a_directory(capsys, monkeypatch):
    body = {"userName": "ann", "title": "Engineer", "displayName": "Ann Été"}
    code, out, err = _run(["mapping", "preview", str(OPENLDAP)], capsys, json.dumps(body), monkeypatch)
    assert code == 0, err
    assert out.splitlines()[2:9] == [
        "dn: uid=ann,ou=People,dc=example,dc=com",
        "changetype: add",
        "objectClass: inetOrgPerson",
        "objectClass: scimGatewayPerson",
        "uid: ann",
        "displayName:: QW5uIMOJdMOp",
        "title: Engineer",
    ]
    assert out.startswith(
        "# first: a search below ou=People,dc=example,dc=com for (&(objectClass=inetOrgPerson)(uid=ann))"
    )


def test_preview_of_a_patch_starts_from_the_current_user_and_shows_the_move(tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.yaml"
    path.write_text(SMALL)
    current = tmp_path / "ann.json"
    current.write_text(json.dumps({"userName": "ann", "title": "engineer"}))
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "title", "value": "Cook"}]}
    argv = ["mapping", "preview", str(path), "--current", str(current), "--response"]
    code, out, err = _run(argv, capsys, json.dumps(patch), monkeypatch)
    assert code == 0, err
    assert out.split("# the gateway would answer:")[0].strip() == "\n".join(
        [
            "dn: uid=ann,ou=Engineering,ou=People,dc=example,dc=com",
            "changetype: modrdn",
            "newrdn: uid=ann",
            "deleteoldrdn: 1",
            "newsuperior: ou=Staff,ou=People,dc=example,dc=com",
            "",
            "dn: uid=ann,ou=Staff,ou=People,dc=example,dc=com",
            "changetype: modify",
            "replace: ou",
            "ou: Staff",
            "-",
            "replace: title",
            "title: cook",
            "-",
        ]
    )
    assert '#   "title": "cook"' in out


@pytest.mark.parametrize(
    ("current", "modify"),
    [
        # read with a number: delete exactly that one, add the new one (refused if it changed meanwhile)
        (
            {"userName": "jdoe@contoso.com", "active": True},
            ["delete: userAccountControl", "userAccountControl: 512", "-", "add: userAccountControl"],
        ),
        ({"userName": "jdoe@contoso.com"}, ["replace: userAccountControl"]),  # read without one: as for a new entry
    ],
)
def test_preview_of_a_disable_on_ad_shows_the_bit_flag_write_guarded_by_the_number_read(
    current, modify, tmp_path, capsys, monkeypatch
):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(current))
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    argv = ["mapping", "preview", str(REPO / "mappings" / "active-directory.yaml"), "--current", str(path)]
    code, out, err = _run(argv, capsys, json.dumps(patch), monkeypatch)
    assert code == 0, err
    assert out.strip().splitlines() == [
        "dn: CN=jdoe@contoso.com,OU=People,DC=example,DC=com",
        "changetype: modify",
        *modify,
        "userAccountControl: 514",
        "-",
    ]


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ({"displayName": "no name"}, "400 invalidValue: userName is required"),
        ({"userName": "x", "active": "perhaps"}, "400 invalidValue: active must be true or false"),
    ],
)
def test_preview_says_when_the_gateway_would_refuse_the_request(body, refusal, capsys, monkeypatch):
    code, out, err = _run(["mapping", "preview", str(OPENLDAP)], capsys, json.dumps(body), monkeypatch)
    assert code == 1 and out == ""
    assert f"the gateway would refuse this request with {refusal}" in err


def test_preview_refuses_a_value_the_backend_refuses_as_the_server_does(capsys, monkeypatch):
    body = {"userName": "a@example.com", "name": {"givenName": "A", "familyName": "B"}, ENTERPRISE: {"manager": "x"}}
    code, out, err = _run(["mapping", "preview", str(HR_REST)], capsys, json.dumps(body), monkeypatch)
    assert (code, out) == (1, "")
    assert "would refuse this request with 400 invalidValue: manager_id is 'x', and the API wants an integer" in err


@pytest.mark.parametrize(
    ("error", "summary"),
    [
        (NotFound("no user with id '7'"), "404: no user with id '7'"),
        (BackendError("the directory refused the operation"), "500: the directory refused the operation"),
        (UnknownReference("users", ["7"]), "400 invalidValue: no user with id '7'"),
        (UnsupportedQuery("only by login"), "400 invalidFilter: only by login"),
        (Unavailable("the API is down"), "503: the API is down; retry later"),
    ],
)
def test_preview_refuses_with_the_status_the_server_would_answer_not_always_400(error, summary, monkeypatch):
    class Refusing(LdapPreview):
        def create(self, *args, **kwargs):
            raise error

    monkeypatch.setitem(KINDS, "ldap", dataclasses.replace(LDAP, preview=Refusing))
    with pytest.raises(ScimError) as refused:
        preview_request(load_mapping(OPENLDAP), "users", {"userName": "someone"})
    assert refused.value.summary().startswith(summary)


HR_REST = REPO / "mappings" / "hr-rest-example.yaml"


def test_preview_of_a_rest_map_prints_the_http_calls_without_an_api(capsys, monkeypatch):
    body = {"userName": "jdoe@contoso.com", "active": "False", "name": {"givenName": "John", "familyName": "Doe"}}
    code, out, err = _run(["mapping", "preview", str(HR_REST)], capsys, json.dumps(body), monkeypatch)
    assert code == 0, err
    post, terminate = out.split("\n\nPOST ")
    assert post.startswith("POST /employees\nContent-Type: application/json\n\n")
    assert json.loads(post.split("\n\n", 1)[1]) == {
        "login": "jdoe@contoso.com",
        "names": {"first": "John", "last": "Doe"},
    }
    assert terminate.startswith("/employees/%28new%29/terminate")  # created disabled: the API's own call


def test_preview_of_a_rest_patch_sends_what_the_update_call_sends(tmp_path, capsys, monkeypatch):
    current = tmp_path / "current.json"
    current.write_text(json.dumps({"userName": "jdoe@contoso.com", "displayName": "John", "active": True}))
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Johnny"}]}
    code, out, err = _run(
        ["mapping", "preview", str(HR_REST), "--current", str(current)], capsys, json.dumps(body), monkeypatch
    )
    assert code == 0, err
    assert out.startswith("PUT /employees/1001\n")  # the map's update is a PUT of the whole record
    sent = json.loads(out.split("\n\n", 1)[1])
    assert sent["names"]["display"] == "Johnny" and sent["login"] == "jdoe@contoso.com"
    assert "terminate" not in out and "reinstate" not in out


def test_examples_of_a_rest_map_run_on_its_dry_run(tmp_path):
    assert run_examples(load_mapping(HR_REST)) == ([], [])
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(HR_REST.read_text().replace("      status: T\n", "      status: A\n"))
    errors, _ = run_examples(load_mapping(wrong))
    assert [e.message for e in errors] == [
        'example "unassigning the user terminates the employee (the API\'s own call)": '
        "expected status: ['A'], the gateway writes ['T']"
    ]


def test_preview_of_a_patch_keeps_the_id_of_the_user_it_was_given(tmp_path, capsys, monkeypatch):
    """An admin previews against a user as the gateway answered it: the answer and the API call
    name that user's id, not a placeholder (a bare user still gets one)."""
    current = tmp_path / "current.json"
    current.write_text(json.dumps({"id": "4711", "userName": "jdoe@contoso.com", "displayName": "John"}))
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Johnny"}]}
    argv = ["mapping", "preview", str(HR_REST), "--current", str(current), "--response"]
    code, out, err = _run(argv, capsys, json.dumps(body), monkeypatch)
    assert code == 0, err
    assert out.startswith("PUT /employees/4711\n")
    assert '#   "id": "4711",' in out

    current.write_text(json.dumps({"id": "66db94b8-8356-1041-8249-5d03487c91a1", "userName": "ann"}))
    argv = ["mapping", "preview", str(REPO / "mappings" / "openldap.yaml"), "--current", str(current), "--response"]
    code, out, err = _run(argv, capsys, json.dumps(body), monkeypatch)
    assert code == 0, err
    assert '#   "id": "66db94b8-8356-1041-8249-5d03487c91a1",' in out
    assert "dn: uid=ann,ou=People,dc=example,dc=com\nchangetype: modify\nreplace: displayName" in out
