"""`scim-gateway token|basic|client`: secrets printed once, hashes stored, per tenant."""

from __future__ import annotations

import io
import os
import stat

import pytest

from gateway.auth.passwords import check_password
from gateway.cli import main
from gateway.credentials import digest, read_credentials

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
    assert [(t.name, t.scope, t.hash) for t in stored] == [("audit", "read-only", digest(token))]
    assert not (tmp_path / "hr.yaml").exists()
    assert main(["token", "list", "--config", settings, "--tenant", "lab"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("audit\tread-only\t") and token not in listing


def test_basic_users_get_a_minted_or_a_piped_password_stored_as_scrypt(tmp_path, monkeypatch, capsys):
    settings = _settings(tmp_path, monkeypatch)
    assert main(["basic", "create", "--config", settings, "--tenant", "hr", "--name", "entra"]) == 0
    password = capsys.readouterr().out.split("Password: ")[1].strip()
    user = read_credentials(tmp_path / "hr.yaml").basic_users[0]
    assert check_password(password, user.hash) and password not in (tmp_path / "hr.yaml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("chosen by a person, long enough\n"))
    assert (
        main(
            [
                "basic",
                "create",
                "--config",
                settings,
                "--tenant",
                "hr",
                "--name",
                "entra",
                "--password-stdin",
                "--replace",
            ]
        )
        == 0
    )
    assert "Password:" not in capsys.readouterr().out
    assert check_password("chosen by a person, long enough", read_credentials(tmp_path / "hr.yaml").basic_users[0].hash)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["basic", "create", "--config", settings, "--tenant", "hr", "--password-stdin"]) == 2


def test_oauth_clients_print_the_portal_values_once(tmp_path, monkeypatch, capsys):
    settings = _settings(tmp_path, monkeypatch)
    assert main(["client", "create", "--config", settings, "--tenant", "hr", "--name", "gallery"]) == 0
    output = capsys.readouterr().out
    secret = output.split("Client Secret: ")[1].split("\n")[0]
    assert "Client Identifier: gallery" in output and "/scim/hr/oauth/token" in output
    assert read_credentials(tmp_path / "hr.yaml").oauth_clients[0].hash == digest(secret)
    assert main(["client", "revoke", "--config", settings, "--tenant", "hr", "--name", "gallery"]) == 0
    assert read_credentials(tmp_path / "hr.yaml").oauth_clients == []
    assert main(["client", "create", "--config", settings, "--tenant", "lab"]) == 0
    assert "does not accept it until" in capsys.readouterr().err


def _one_tenant(tmp_path, monkeypatch, tokens_file: str) -> str:
    monkeypatch.setenv("PW", "x")
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"tenants:\n  - {{name: hr, base_path: /scim/hr, mapping: m.yaml, tokens_file: {tokens_file},\n"
        "     ldap: {url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: PW}}\n"
    )
    return str(path)


def test_a_second_create_with_the_same_name_is_refused_unless_replace_says_so(tmp_path, monkeypatch, capsys):
    settings = _one_tenant(tmp_path, monkeypatch, "tokens.yaml")
    assert main(["token", "create", "--config", settings]) == 0
    first = read_credentials(tmp_path / "tokens.yaml").tokens
    assert main(["token", "create", "--config", settings]) == 1
    assert "already holds a token named 'entra'" in capsys.readouterr().err
    assert read_credentials(tmp_path / "tokens.yaml").tokens == first  # the live token still works
    assert main(["token", "create", "--config", settings, "--name", "spare"]) == 0
    assert main(["token", "create", "--config", settings, "--replace"]) == 0
    names = [t.name for t in read_credentials(tmp_path / "tokens.yaml").tokens]
    assert sorted(names) == ["entra", "spare"] and first[0] not in read_credentials(tmp_path / "tokens.yaml").tokens


def test_revoke_names_what_it_revokes(tmp_path, monkeypatch, capsys):
    settings = _one_tenant(tmp_path, monkeypatch, "tokens.yaml")
    assert main(["token", "create", "--config", settings]) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["token", "revoke", "--config", settings])
    assert exit_.value.code == 2 and "--name" in capsys.readouterr().err
    assert [t.name for t in read_credentials(tmp_path / "tokens.yaml").tokens] == ["entra"]


def test_create_makes_the_missing_folders(tmp_path, monkeypatch, capsys):
    settings = _one_tenant(tmp_path, monkeypatch, "var/lib/scim-gateway/tokens.yaml")
    assert main(["token", "create", "--config", settings]) == 0
    made = tmp_path / "var" / "lib" / "scim-gateway" / "tokens.yaml"
    assert [t.name for t in read_credentials(made).tokens] == ["entra"]
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert "mode 0600" in capsys.readouterr().err


root_only = pytest.mark.skipif(os.getuid() != 0, reason="changing a file's owner needs root")


@root_only
def test_create_as_root_keeps_the_owner_and_mode_of_an_existing_file(tmp_path, monkeypatch):
    settings = _one_tenant(tmp_path, monkeypatch, "tokens.yaml")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens: []\n")
    os.chown(tokens, 65534, 65534)
    tokens.chmod(0o640)
    assert main(["token", "create", "--config", settings]) == 0
    info = tokens.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o640)
    assert main(["token", "revoke", "--config", settings, "--name", "entra"]) == 0
    assert (tokens.stat().st_uid, stat.S_IMODE(tokens.stat().st_mode)) == (65534, 0o640)


@root_only
def test_a_new_file_belongs_to_its_folders_owner_or_to_owner(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)
    settings = _one_tenant(tmp_path, monkeypatch, "state/tokens.yaml")
    assert main(["token", "create", "--config", settings]) == 0
    assert (state / "tokens.yaml").stat().st_uid == 65534
    settings = _one_tenant(tmp_path, monkeypatch, "new/tokens.yaml")
    assert main(["token", "create", "--config", settings, "--owner", "nobody:nogroup"]) == 0
    made = tmp_path / "new" / "tokens.yaml"
    assert (made.stat().st_uid, made.stat().st_gid, made.parent.stat().st_uid) == (65534, 65534, 65534)
    assert main(["token", "create", "--config", settings, "--name", "x", "--owner", "no-such-user"]) == 2
    assert "no user named 'no-such-user'" in capsys.readouterr().err
