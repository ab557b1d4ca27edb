"""A tenant's auth:, allow_from: and limits: settings: typed, with file:line errors."""

import ipaddress

import pytest

from gateway.settings import load_settings
from gateway.yamlfile import ConfigError

BASE = """\
tenants:
  - name: t1
    base_path: /scim/v2
    mapping: map.yaml
    tokens_file: tokens.yaml
    ldap: {url: 'ldap://127.0.0.1:389', bind_dn: cn=x, password_env: POLICY_PW}
"""


def _load(tmp_path, monkeypatch, extra: str):
    monkeypatch.setenv("POLICY_PW", "x")
    path = tmp_path / "settings.yaml"
    path.write_text(BASE + extra)
    return load_settings(path).tenants[0].policy


def test_defaults_admit_secret_tokens_from_anywhere_at_a_rate(tmp_path, monkeypatch):
    policy = _load(tmp_path, monkeypatch, "")
    assert policy.auth.tokens and not policy.auth.basic and policy.auth.oauth is None
    assert policy.allow_from == () and policy.admits("198.51.100.1")
    assert policy.rate == "50/second" and policy.limits.filter_length == 4096


def test_every_option_reads_into_the_policy(tmp_path, monkeypatch):
    (tmp_path / "keys.json").write_text('{"keys": []}')
    policy = _load(
        tmp_path,
        monkeypatch,
        "    auth:\n      basic: true\n      oauth: {token_lifetime: 21600}\n"
        "      entra_jwt: {tenant_id: 11111111-2222-3333-4444-555555555555, jwks_file: keys.json, scope: read-only}\n"
        "    allow_from: [203.0.113.0/24]\n"
        "    limits: {rate: 100 per minute, failed_logins: null, json_depth: 8, filter_depth: 4, patch_operations: 50}\n",
    )
    assert (
        policy.auth.oauth.token_lifetime == 21600
        and policy.auth.oauth.signing_key_file == tmp_path / "tokens.oauth-key"
    )
    assert policy.auth.entra_jwt.issuer == "https://sts.windows.net/11111111-2222-3333-4444-555555555555/"
    assert policy.auth.entra_jwt.jwks_file == tmp_path / "keys.json"
    assert policy.allow_from == (ipaddress.ip_network("203.0.113.0/24"),)
    assert (policy.rate, policy.failed_logins, policy.limits.json_depth, policy.limits.patch_operations) == (
        "100 per minute",
        None,
        8,
        50,
    )


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        ("    allow_from: [10.0.0.0/33]\n", 7, "is not an address or network"),
        ("    allow_from: []\n", 7, "list at least one network"),
        ("    allow_from_file: nowhere.txt\n", 7, "cannot read"),
        ("    limits: {rate: lots}\n", 7, "a rate such as 50/second"),
        ("    limits: {filter_length: 10}\n", 7, "filter_length"),
        (
            "    auth: {entra_jwt: {tenant_id: 11111111-2222-3333-4444-555555555555}}\n",
            7,
            "exactly one of jwks_url or jwks_file",
        ),
        ("    auth: {entra_jwt: {tenant_id: contoso, jwks_file: k.json}}\n", 7, "a GUID"),
        ("    auth: {magic: true}\n", 7, "Unknown field"),
    ],
)
def test_policy_errors_name_file_line_and_expectation(tmp_path, monkeypatch, extra, line, message):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, monkeypatch, extra)
    assert any(p.line == line and message in p.message for p in caught.value.problems), caught.value.problems


def test_a_keys_file_that_is_missing_or_a_key_folder_that_is_not_writable_is_refused_at_load(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"settings.yaml:\d+: Entra's signing keys file .*keys.json does not exist"):
        _load(
            tmp_path,
            monkeypatch,
            "    auth: {entra_jwt: {tenant_id: 11111111-2222-3333-4444-555555555555, jwks_file: keys.json}}\n",
        )
    with pytest.raises(ConfigError, match=r"the OAuth signing key file .* is made on first use, but user"):
        _load(tmp_path, monkeypatch, "    auth: {oauth: {signing_key_file: /proc/no/such.key}}\n")
