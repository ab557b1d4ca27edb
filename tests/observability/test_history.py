"""`scim-gateway history`: what happened to a user, from the audit trail, newest first."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import pytest

from gateway.cli import main
from gateway.observability import history
from tests.conftest import REPO


@pytest.fixture
def trail(make_client, tmp_path):
    """A gateway that wrote a short story to its audit trail: (settings path, SCIM ids)."""
    path = tmp_path / "audit.log"
    client = make_client(top_yaml=f"audit_log: {path}\n")
    settings = tmp_path / "gateway0" / "settings.yaml"
    ada = client.create_user("ada", displayName="Countess")
    bob = client.create_user("bob")
    # displayName feeds the map's cn default: this PATCH reads the entry, so the trail has the old value
    client.patch(f"/Users/{ada['id']}", [{"op": "replace", "path": "displayName", "value": "Analyst"}])
    client.patch(f"/Users/{ada['id']}", [{"op": "replace", "path": "userName", "value": "ada.lovelace"}])
    client.delete(f"/Users/{ada['id']}")
    return settings, {"ada": ada["id"], "bob": bob["id"]}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["history", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_by_user_name_finds_every_line_of_that_user_newest_first(trail, capsys):
    settings, ids = trail
    code, out, _ = run(capsys, "--config", str(settings), "--json", "ADA")  # case does not matter
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [line["operation"] for line in lines] == ["delete", "patch", "patch", "create"]
    assert {line["id"] for line in lines} == {ids["ada"]}
    assert [line["time"] for line in lines] == sorted((line["time"] for line in lines), reverse=True)


@pytest.mark.parametrize(
    "query", ["id", "uid=ada.lovelace,ou=People,dc=example,dc=com", "uid=ada, ou=people, dc=example, dc=com"]
)
def test_by_id_or_either_dn(trail, capsys, query):
    settings, ids = trail
    code, out, _ = run(capsys, "--config", str(settings), "--json", ids["ada"] if query == "id" else query)
    assert code == 0 and len(out.splitlines()) == 4


def test_text_answers_who_changed_what_from_what(trail, capsys):
    settings, ids = trail
    code, out, _ = run(capsys, "--config", str(settings), "ada.lovelace")
    assert code == 0
    patch = out.split("\n\n")[2]
    assert " patch User ada  applied" in patch.splitlines()[0]
    assert f"id {ids['ada']}" in patch and "by entra from 127.0.0.1; tenant test, request " in patch
    assert "displayName: Countess → Analyst" in patch
    assert "uid=ada,ou=People,dc=example,dc=com → uid=ada.lovelace,ou=People,dc=example,dc=com" in out
    assert " delete User ada.lovelace  applied" in out.split("\n\n")[0]  # its name, from the lines before


def test_a_time_range_and_a_tenant(trail, capsys):
    settings, _ = trail
    code, out, _ = run(capsys, "--config", str(settings), "--json", "--since", "2000-01-01", "--tenant", "test")
    assert code == 0 and len(out.splitlines()) == 5
    code, out, err = run(capsys, "--config", str(settings), "--until", "2000-01-01T00:00Z")
    assert code == 1 and out == "" and "no line" in err
    code, _, err = run(capsys, "--config", str(settings), "--tenant", "other", "ada")
    assert code == 2 and "no tenant 'other'" in err


def test_rotated_and_compressed_files_are_read_too(trail, capsys):
    settings, _ = trail
    current = settings.parent.parent / "audit.log"
    lines = current.read_text().splitlines(keepends=True)
    (current.parent / "audit.log.2.gz").write_bytes(gzip.compress("".join(lines[:2]).encode()))
    (current.parent / "audit.log.1").write_text("".join(lines[2:4]))
    current.write_text("".join(lines[4:]))
    code, out, _ = run(capsys, "--config", str(settings), "--json", "--since", "2000-01-01")
    assert code == 0 and len(out.splitlines()) == 5


def test_a_journal_on_standard_input(trail, capsys, monkeypatch):
    settings, ids = trail
    current = settings.parent.parent / "audit.log"
    journal = "".join(f"Dec 02 17:40:00 host scim-gateway[42]: {line}\n" for line in current.read_text().splitlines())
    monkeypatch.setattr("sys.stdin", io.StringIO("a log line, not audit\n" + journal))
    code, out, _ = run(capsys, "--config", str(settings), "--file", "-", "--json", "bob")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [ids["bob"]]


def test_a_trail_on_stdout_is_read_back_with_file(tmp_path, capsys):
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "tenants: [{name: t, base_path: /scim, mapping: m.yaml, tokens_file: t.yaml,"
        " ldap: {url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: HOME}}]\n"
    )
    code, _, err = run(capsys, "--config", str(settings), "ada")
    assert code == 2 and "--file -" in err and "journalctl" in err


def test_the_command_line_does_not_import_the_metrics_library_before_serve_sets_it_up():
    probe = "import sys, gateway.cli; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], cwd=REPO).returncode == 0


def test_parse_time_reads_dates_and_zones():
    assert history.parse_time("2026-12-02").isoformat() == "2026-12-02T00:00:00+00:00"
    assert history.parse_time("2026-12-02 10:00:00+01:00").isoformat() == "2026-12-02T10:00:00+01:00"
    assert history.parse_time("2026-12-02T10:00Z").isoformat() == "2026-12-02T10:00:00+00:00"


def test_piped_into_head_it_ends_quietly(trail):
    """`scim-gateway history USER | head -2`: the reader stops early; found by hand, a traceback."""
    settings, _ = trail
    audit = settings.parent.parent / "audit.log"
    line = next(json.loads(text) for text in audit.read_text().splitlines() if '"patch"' in text)
    with audit.open("a") as trail_file:  # far more than a pipe holds, so the writer meets the closed end
        for second in range(3000):
            trail_file.write(
                json.dumps({**line, "time": f"2026-01-01T00:{second // 60 % 60:02d}:{second % 60:02d}Z"}) + "\n"
            )
    command = f"{sys.executable} -m gateway.cli history --config {settings} ada | head -2"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)
