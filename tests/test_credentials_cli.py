"""`scim-gateway token|basic|client`: secrets printed once, hashes stored, per tenant."""

from __future__ import annotations

import io

from gateway.auth.passwords import check_password
from gateway.cli import main
from gateway.tokens import digest, read_credentials

SETTINGS = """\
tenants:
  - {name: hr, base_path: /scim/hr, mapping: m.yaml, tokens_file: hr.yaml, auth: {basic: true, oauth: {}},
     ldap: {url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: PW}}
  - {name: lab, base_path: /scim/lab, mapping: m.yaml, tokens_file: lab.yaml,
     ldap: {url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: PW}}
"""


def _settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PW", "x")
    path = tmp_path / "settings.yaml"
    path.write_text(SETTINGS)
    return str(path)


def test_token_create_with_a_scope_for_one_of_several_tenants(tmp_path, monkeypatch, capsys):
    settings = _settings(tmp_path, monkeypatch)
    assert main(["token", "create", "--config", settings, "--name", "audit"]) == 2
    assert "choose one with --tenant" in capsys.readouterr().err
    assert (
        main(["token", "create", "--config", settings, "--tenant", "lab", "--scope", "read-only", "--name", "audit"])
        == 0
    )
    token = capsys.readouterr().out.split("Secret Token: ")[1].strip()
    stored = read_credentials(tmp_path / "lab.yaml").tokens
    assert [(t.name, t.scope, t.sha256) for t in stored] == [("audit", "read-only", digest(token))]
    assert not (tmp_path / "hr.yaml").exists()
    assert main(["token", "list", "--config", settings, "--tenant", "lab"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("audit\tread-only\t") and token not in listing


def test_basic_users_get_a_minted_or_a_piped_password_stored_as_scrypt(tmp_path, monkeypatch, capsys):
    settings = _settings(tmp_path, monkeypatch)
    assert main(["basic", "create", "--config", settings, "--tenant", "hr", "--name", "entra"]) == 0
    password = capsys.readouterr().out.split("Password: ")[1].strip()
    user = read_credentials(tmp_path / "hr.yaml").basic_users[0]
    assert check_password(password, user.sha256) and password not in (tmp_path / "hr.yaml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("chosen by a person, long enough\n"))
    assert main(["basic", "create", "--config", settings, "--tenant", "hr", "--name", "entra", "--password-stdin"]) == 0
    assert "Password:" not in capsys.readouterr().out
    assert check_password(
        "chosen by a person, long enough", read_credentials(tmp_path / "hr.yaml").basic_users[0].sha256
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["basic", "create", "--config", settings, "--tenant", "hr", "--password-stdin"]) == 2


def test_oauth_clients_print_the_portal_values_once(tmp_path, monkeypatch, capsys):
    settings = _settings(tmp_path, monkeypatch)
    assert main(["client", "create", "--config", settings, "--tenant", "hr", "--name", "gallery"]) == 0
    output = capsys.readouterr().out
    secret = output.split("Client Secret: ")[1].split("\n")[0]
    assert "Client Identifier: gallery" in output and "/scim/hr/oauth/token" in output
    assert read_credentials(tmp_path / "hr.yaml").oauth_clients[0].sha256 == digest(secret)
    assert main(["client", "revoke", "--config", settings, "--tenant", "hr", "--name", "gallery"]) == 0
    assert read_credentials(tmp_path / "hr.yaml").oauth_clients == []
    assert main(["client", "create", "--config", settings, "--tenant", "lab"]) == 0
    assert "does not accept it until" in capsys.readouterr().err
