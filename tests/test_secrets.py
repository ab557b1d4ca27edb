"""Nothing secret leaks: a full run's log and every answer, searched for every secret it used."""

from __future__ import annotations

import base64
import logging

import pytest

from gateway.auth.passwords import hash_password
from gateway.credentials import CredentialFile, StoredCredential, digest, now
from gateway.settings import load_settings
from gateway.web.app import create_app
from gateway.yamlfile import ConfigError
from tests.conftest import OPENLDAP_MAP, PATCH_OP, write_settings

AUTH = "    auth: {basic: true, oauth: {}}\n    limits: {failed_logins: 1000/minute}\n"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_token_password_or_authorization_header_reaches_a_log_or_an_answer(
    make_client, slapd, caplog, tmp_path, monkeypatch, gateway_log, log_format
):
    gateway_output = gateway_log(log_format, "debug")  # the lines an operator reads, every field
    caplog.set_level(logging.DEBUG)
    client = make_client(tenant_yaml=AUTH)
    tenant = client.app.extensions["scim_gateway"].tenants["tenant_test"]
    password, client_secret = "Basic-password-4-leak-test", "scimgw_client-secret-4-leak-test"
    tenant.authenticator.file.store("basic_users", StoredCredential("entra", hash_password(password), "scim", now()))
    tenant.authenticator.file.store("oauth_clients", StoredCredential("gallery", digest(client_secret), "scim", now()))
    basic = "Basic " + base64.b64encode(f"entra:{password}".encode()).decode()
    wrong_basic = "Basic " + base64.b64encode(b"entra:Wrong-password-4-leak-test").decode()
    secrets = [
        client.token,
        password,
        client_secret,
        basic,
        wrong_basic,
        slapd.service_password,
        "Wrong-password-4-leak-test",
    ]
    answers = []

    def send(method, path, body=None, headers=None, **kwargs):
        response = client.flask_client.open(
            f"/scim/v2{path}", method=method, json=body, headers=headers or {}, **kwargs
        )
        answers.append(response.get_data(as_text=True) + str(response.headers))
        return response

    bearer = {"Authorization": f"Bearer {client.token}"}
    created = send("POST", "/Users", {"userName": "leak", "active": True, "password": password}, bearer).get_json()
    send(
        "PATCH",
        f"/Users/{created['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "password", "value": password}]},
        bearer,
    )
    send("GET", "/Users", headers={"Authorization": basic})
    send("GET", "/Users", headers={"Authorization": wrong_basic})
    send("GET", "/Users", headers={"Authorization": f"Bearer {client.token}x"})
    send("GET", "/Users", headers={"Authorization": client.token})  # a bare token, no scheme
    send("GET", f"/Users?access_token={client.token}&client_secret={client_secret}", headers=bearer)
    send("POST", f"/oauth/token?client_secret={client_secret}", data={"grant_type": "client_credentials"})
    issued = send(
        "POST",
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "gallery", "client_secret": client_secret},
    ).get_json()
    send(
        "POST",
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "gallery", "client_secret": password},
    )
    send("GET", "/Users", headers={"Authorization": f"Bearer {issued['access_token']}"})
    secrets.append(issued["access_token"])
    answers = [a.replace(issued["access_token"], "<issued once>", 1) if '"access_token"' in a else a for a in answers]

    # A directory that refuses the gateway's password, and settings that name a bad one.
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password-4-leak-test\n")
    settings = (
        write_settings(tmp_path, slapd, OPENLDAP_MAP).read_text().replace(str(slapd.service_password_file), str(wrong))
    )
    (tmp_path / "settings.yaml").write_text(settings)
    broken = create_app(tmp_path / "settings.yaml")
    try:
        token = CredentialFile(tmp_path / "tokens.yaml").add("entra")
        answers.append(
            broken.test_client()
            .get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
            .get_data(as_text=True)
        )
    finally:
        broken.extensions["scim_gateway"].close()
    secrets.append("not-the-password-4-leak-test")
    monkeypatch.setenv("LEAK_TEST_PW", "env-password-4-leak-test")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tenants:\n  - {name: t, base_path: /x, mapping: m.yaml, tokens_file: t.yaml, colour: env-password-4-leak-test,\n"
        "     ldap: {url: 'ldap://ldap.example.com', bind_dn: cn=x, password_env: LEAK_TEST_PW, timeout: env-password-4-leak-test}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(bad)
    logging.getLogger("test").error("%s", caught.value)
    secrets.append("env-password-4-leak-test")

    text = caplog.text + gateway_output.text() + gateway_output.stdout + "\n".join(answers)
    assert '"audit":1' in gateway_output.stdout  # the audit trail (stdout by default) was searched too
    assert "refused a request" in caplog.text and "LDAP bind" in caplog.text  # the run did log its failures
    for secret in secrets:
        assert secret not in text, secret
        assert secret[:12] not in caplog.text + gateway_output.text(), secret
