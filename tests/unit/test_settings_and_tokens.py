"""Settings files and Secret Tokens."""

import os
import sys

import pytest

from gateway.credentials import CredentialFile, digest, matching, read_tokens
from gateway.settings import load_settings
from gateway.yamlfile import ConfigError


def write(tmp_path, text):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return path


GOOD = """\
tenants:
  - name: t1
    base_path: /scim/v2
    mapping: map.yaml
    tokens_file: tokens.yaml
    ldap:
      url: ldap://127.0.0.1:389
      bind_dn: cn=gateway,dc=example,dc=com
      password_env: TEST_LDAP_PASSWORD
"""
SECOND = """\
  - name: {}
    base_path: /scim/other
    mapping: map.yaml
    tokens_file: tokens.yaml
    ldap: {{url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: TEST_LDAP_PASSWORD}}
"""


def test_settings_resolve_paths_next_to_the_file_and_read_the_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LDAP_PASSWORD", "s3cret")
    settings = load_settings(write(tmp_path, GOOD))
    tenant = settings.tenants[0]
    assert tenant.mapping_path == tmp_path / "map.yaml"
    assert tenant.tokens_file == tmp_path / "tokens.yaml"
    assert tenant.backends["ldap"].password == "s3cret"
    assert "s3cret" not in repr(tenant.backends["ldap"])


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("password_env: TEST_LDAP_PASSWORD", "password: inline"), 9, "tenants.0.ldap.password: Unknown field."),
        (("password_env: TEST_LDAP_PASSWORD", "password_env: UNSET_X"), 6, "the environment variable UNSET_X"),
        (("url: ldap://127.0.0.1:389", "url: http://x"), 7, "tenants.0.ldap.url: an ldap:// or ldaps:// URL"),
        (("base_path: /scim/v2", "base_path: scim/"), 3, "tenants.0.base_path: a URL path such as /scim/v2"),
        (("name: t1", "colour: red"), 2, "tenants.0.colour: Unknown field."),
        (("password_env: TEST_LDAP_PASSWORD", "password_file: empty.password"), 6, "empty.password is empty"),
        (("password_env: TEST_LDAP_PASSWORD", "password_file: none.password"), 6, "cannot read the LDAP password"),
        (("mapping: map.yaml", "mapping: map.yaml\n    tokens_file: tokens.yaml"), 6, "duplicate key 'tokens_file'"),
        (("TEST_LDAP_PASSWORD\n", "TEST_LDAP_PASSWORD\n" + SECOND.format("a_b")), 10, "too close to a-b"),
    ],
)
def test_settings_errors_name_file_line_and_expectation(tmp_path, monkeypatch, change, line, message):
    monkeypatch.setenv("TEST_LDAP_PASSWORD", "x")
    (tmp_path / "empty.password").write_text("\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD.replace(*change).replace("name: t1", "name: a-b")))
    problems = caught.value.problems
    assert any(p.line == line and message in p.message and p.file.endswith("settings.yaml") for p in problems), problems


def test_tokens_are_stored_as_hashes_and_verified_against_the_file(tmp_path):
    tokens = CredentialFile(tmp_path / "tokens.yaml")
    token = tokens.add("entra")
    text = (tmp_path / "tokens.yaml").read_text()
    assert token not in text and digest(token) in text
    assert os.stat(tmp_path / "tokens.yaml").st_mode & 0o077 == 0
    assert matching(token, tokens.tokens()).name == "entra"
    assert matching(token + "x", tokens.tokens()) is None
    assert matching("", tokens.tokens()) is None


def test_a_revoked_token_stops_working_without_a_restart(tmp_path):
    tokens = CredentialFile(tmp_path / "tokens.yaml")
    token = tokens.add("entra")
    assert matching(token, tokens.tokens()) is not None
    other = CredentialFile(tmp_path / "tokens.yaml")
    other.add("entra", replace=True)  # replacing a name revokes the old one
    assert [t.name for t in read_tokens(tmp_path / "tokens.yaml")] == ["entra"]
    assert matching(token, tokens.tokens()) is None


@pytest.mark.parametrize(
    ("ldap_yaml", "line", "message"),
    [
        ("      client: openldap\n", 10, "tenants.0.ldap.client: Must be one of: ldap3, python-ldap."),
        (
            "      client: python-ldap\n      server_name: dc1.example.com\n",
            6,
            "checks an ldaps:// certificate against the URL's host only, not server_name",
        ),
    ],
)
def test_the_ldap_client_setting_says_what_it_takes(tmp_path, monkeypatch, ldap_yaml, line, message):
    monkeypatch.setenv("TEST_LDAP_PASSWORD", "x")
    text = GOOD.replace("ldap://127.0.0.1:389", "ldaps://127.0.0.1:636") + ldap_yaml
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    problems = caught.value.problems
    assert any(p.line == line and message in p.message for p in problems), problems


def test_python_ldap_missing_is_said_with_the_command_that_installs_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LDAP_PASSWORD", "x")
    monkeypatch.setitem(sys.modules, "ldap", None)  # as if python-ldap were not installed
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD + "      client: python-ldap\n"))
    assert "pip install 'scim-gateway[python-ldap]'" in str(caught.value)


def test_python_ldap_is_taken_when_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LDAP_PASSWORD", "x")
    settings = load_settings(write(tmp_path, GOOD + "      client: python-ldap\n"))
    assert settings.tenants[0].backends["ldap"].client == "python-ldap"
