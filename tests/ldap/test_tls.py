"""TLS to the directory: ldaps:// and StartTLS against a slapd holding a certificate from a CA
made here; the CA file and the host name are checked, and a clear-text bind over the network
needs an explicit opt-in."""

from __future__ import annotations

import logging

import pytest

from gateway.backends.base import Unavailable
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.settings import LdapSettings
from gateway.settings import load_settings
from gateway.yamlfile import ConfigError
from tests.sandbox.pki import make_pki
from tests.sandbox.slapd import SERVICE_DN, Slapd, TlsFiles


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for `localhost` (not 127.0.0.1), and a second CA nobody trusts."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_slapd(pki, tmp_path_factory):
    server = Slapd(
        tmp_path_factory.mktemp("tls-slapd") / "db",
        tls=TlsFiles(pki / "server.pem", pki / "server.key", pki / "ca.pem"),
    )
    server.start()
    yield server
    server.stop()


def _bind(slapd: Slapd, url: str, client: str = "ldap3", **options) -> bool:
    """Bind and read the root DSE with `client`; True when both worked (over TLS: the connection
    is opened with TLS or StartTLS before the bind, or not at all)."""
    pool = ConnectionPool(LdapSettings(url, SERVICE_DN, slapd.service_password, timeout=5, client=client, **options))
    try:
        return pool.run(
            lambda connection: connection.search("", "(objectClass=*)", "BASE", attributes=["1.1"]), idempotent=True
        )
    finally:
        pool.close()


CLIENTS = pytest.mark.parametrize("client", ["ldap3", "python-ldap"])


@CLIENTS
def test_ldaps_with_the_ca_file_binds_over_tls(tls_slapd, pki, client):
    url = tls_slapd.ldaps_url.replace("127.0.0.1", "localhost")
    assert _bind(tls_slapd, url, client, ca_file=str(pki / "ca.pem"))


@CLIENTS
def test_start_tls_with_the_ca_file_binds_over_tls(tls_slapd, pki, client):
    url = tls_slapd.url.replace("127.0.0.1", "localhost")
    assert _bind(tls_slapd, url, client, start_tls=True, ca_file=str(pki / "ca.pem"))


@pytest.mark.parametrize(
    ("host", "ca", "server_name", "reason"),
    [
        ("127.0.0.1", "ca.pem", None, "match"),  # the certificate names localhost only
        ("localhost", "stranger.pem", None, "certificate verify failed"),
        ("127.0.0.1", "ca.pem", "localhost", None),  # a certificate for another name, said so explicitly
    ],
)
@pytest.mark.parametrize("mode", ["ldaps", "start_tls"])
@CLIENTS
def test_the_certificate_and_the_host_name_are_checked(
    tls_slapd, pki, caplog, host, ca, server_name, reason, mode, client
):
    url = (
        (tls_slapd.ldaps_url if mode == "ldaps" else tls_slapd.url)
        .replace("localhost", host)
        .replace("127.0.0.1", host)
    )
    options = {"ca_file": str(pki / ca), "server_name": server_name, "start_tls": mode == "start_tls"}
    if client == "python-ldap" and mode == "ldaps" and server_name:
        reason = "not server_name"  # libldap has no way to check another name on ldaps://: said so
    if reason is None:
        assert _bind(tls_slapd, url, client, **options)
        return
    with caplog.at_level(logging.ERROR), pytest.raises(Unavailable):
        _bind(tls_slapd, url, client, **options)
    assert reason in caplog.text or (client == "python-ldap" and "certificate" in caplog.text), caplog.text
    assert "not server_name" not in caplog.text or reason == "not server_name"
    assert tls_slapd.service_password not in caplog.text


def _settings(tmp_path, ldap_yaml: str):
    path = tmp_path / "settings.yaml"
    path.write_text(
        "tenants:\n  - name: t\n    base_path: /scim/v2\n    mapping: m.yaml\n    tokens_file: tokens.yaml\n"
        "    ldap:\n      bind_dn: cn=gateway,dc=example,dc=com\n      password_env: TLS_TEST_PW\n" + ldap_yaml
    )
    return path


def test_a_clear_text_bind_over_the_network_needs_an_explicit_opt_in(tmp_path, monkeypatch, pki):
    monkeypatch.setenv("TLS_TEST_PW", "x")
    with pytest.raises(ConfigError) as caught:
        load_settings(_settings(tmp_path, "      url: ldap://ldap.example.com\n"))
    assert caught.value.problems[0].line == 6
    assert "clear text" in caught.value.problems[0].message and "allow_plaintext" in caught.value.problems[0].message
    for accepted in (
        "      url: ldap://ldap.example.com\n      allow_plaintext: true\n",
        "      url: ldap://ldap.example.com\n      start_tls: true\n",
        "      url: ldaps://ldap.example.com\n",
        "      url: ldap://127.0.0.1:389\n",
        "      url: ldap://localhost\n",
        f"      url: ldaps://ldap.example.com\n      ca_file: {pki / 'ca.pem'}\n",
    ):
        assert load_settings(_settings(tmp_path, accepted)).tenants[0].backends["ldap"].url


def test_a_missing_ca_file_is_a_settings_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TLS_TEST_PW", "x")
    with pytest.raises(ConfigError, match=r"the CA file .* does not exist"):
        load_settings(_settings(tmp_path, "      url: ldaps://ldap.example.com\n      ca_file: nope.pem\n"))
