"""The door before the credential check and after it: networks, rates, sizes, several tenants."""

from __future__ import annotations

import base64
import logging

import pytest

from gateway.credentials import CredentialFile
from gateway.web.app import create_app
from gateway.yamlfile import ConfigError
from tests.conftest import OPENLDAP_MAP, PATCH_OP, Client
from tests.sandbox.slapd import SERVICE_DN


def _from(client, address: str, forwarded: str | None = None, token: str | None = None):
    headers = {"Authorization": f"Bearer {token or client.token}"}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return client.flask_client.get("/scim/v2/Users", headers=headers, environ_base={"REMOTE_ADDR": address})


def test_the_allowlist_admits_its_networks_and_refuses_the_rest_with_403(make_client, caplog):
    client = make_client(tenant_yaml="    allow_from: [203.0.113.0/24, '2001:db8::/32']\n")
    assert _from(client, "203.0.113.9").status_code == 200
    assert _from(client, "2001:db8::1").status_code == 200
    assert _from(client, "::ffff:203.0.113.9").status_code == 200
    with caplog.at_level(logging.WARNING, logger="gateway.web.auth"):
        refused = _from(client, "198.51.100.7")
    assert refused.status_code == 403
    assert refused.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "198.51.100.7" in caplog.text and "not in allow_from" in caplog.text


def test_the_allowlist_reads_a_file_of_networks(make_client, tmp_path):
    ranges = tmp_path / "entra-ranges.txt"
    ranges.write_text("# AzureActiveDirectory\n203.0.113.0/24\n\n2001:db8::/32  # v6\n")
    client = make_client(tenant_yaml=f"    allow_from_file: {ranges}\n")
    assert _from(client, "203.0.113.1").status_code == 200
    assert _from(client, "192.0.2.1").status_code == 403


def test_x_forwarded_for_is_ignored_without_trusted_proxies(make_client):
    client = make_client(tenant_yaml="    allow_from: [203.0.113.0/24]\n")
    assert _from(client, "192.0.2.1", forwarded="203.0.113.9").status_code == 403


def test_x_forwarded_for_is_believed_through_the_trusted_hops_only(slapd, directory, tmp_path):
    settings = _settings(
        tmp_path, slapd, [("a", "/scim/v2", "    allow_from: [203.0.113.0/24]\n")], "trusted_proxies: 1\n"
    )
    app = create_app(settings)
    try:
        client = Client(app.test_client(), CredentialFile(tmp_path / "a.tokens.yaml").add("entra"), app=app)
        assert _from(client, "127.0.0.1", forwarded="203.0.113.9").status_code == 200
        # A client that forges its own X-Forwarded-For only adds a hop the proxy then appends after.
        assert _from(client, "127.0.0.1", forwarded="203.0.113.9, 192.0.2.66").status_code == 403
        assert _from(client, "127.0.0.1").status_code == 403  # no header: the proxy's own address
    finally:
        app.extensions["scim_gateway"].close()


def test_over_the_rate_a_tenant_gets_429_with_retry_after(make_client):
    client = make_client(tenant_yaml="    limits: {rate: 3/minute}\n")
    statuses = [client.get("/Users").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/Users")
    assert refused.get_json()["status"] == "429"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_failed_logins_from_one_address_turn_401_into_429_but_never_lock_out_a_good_token(make_client, caplog):
    client = make_client(tenant_yaml="    limits: {failed_logins: 2/minute}\n")
    with caplog.at_level(logging.WARNING, logger="gateway.web.auth"):
        statuses = [_from(client, "127.0.0.1", token=f"scimgw_guess{n}").status_code for n in range(4)]
    assert statuses == [401, 401, 429, 429]
    assert "too many failed logins from 127.0.0.1" in caplog.text and "scimgw_guess" not in caplog.text
    assert _from(client, "127.0.0.1").status_code == 200  # Entra, behind the same proxy, still gets in
    assert _from(client, "192.0.2.6", token="scimgw_other").status_code == 401  # another address: its own count


def test_failed_logins_count_per_credential_tried_from_any_address(make_client):
    client = make_client(tenant_yaml="    auth: {basic: true}\n    limits: {failed_logins: 2/minute}\n")
    wrong = {"Authorization": "Basic " + base64.b64encode(b"entra:wrong password").decode()}
    statuses = [
        client.flask_client.get("/scim/v2/Users", headers=wrong, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        for n in range(1, 4)
    ]
    assert [r.status_code for r in statuses] == [401, 401, 429]
    assert "for Basic user 'entra'" in statuses[-1].get_json()["detail"]


@pytest.mark.parametrize(
    ("limits", "request_args", "scim_type", "detail"),
    [
        (
            "{json_depth: 4}",
            ("POST", "/Users", {"userName": "a", "name": {"x": [[{}]]}}),
            "invalidSyntax",
            "deeper than 4",
        ),
        (
            "{filter_length: 64}",
            ("GET", '/Users?filter=userName eq "' + "a" * 70 + '"', None),
            "invalidFilter",
            "longer than 64",
        ),
        (
            "{filter_depth: 2}",
            ("GET", "/Users?filter=not (not (not (userName pr)))", None),
            "invalidFilter",
            "deeper than 2",
        ),
        (
            "{patch_operations: 1}",
            ("PATCH", "/Users/x", {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "title"}] * 2}),
            "invalidSyntax",
            "at most 1",
        ),
    ],
)
def test_the_request_limits_are_settings_answered_with_scim_errors(
    make_client, limits, request_args, scim_type, detail
):
    client = make_client(tenant_yaml=f"    limits: {limits}\n")
    method, path, body = request_args
    response = client.request(method, path, body)
    assert response.status_code == 400
    assert response.get_json()["scimType"] == scim_type and detail in response.get_json()["detail"]


def test_the_body_limit_is_a_setting_answered_413(slapd, directory, tmp_path):
    settings = _settings(tmp_path, slapd, [("a", "/scim/v2", "")], "max_body_bytes: 2048\n")
    app = create_app(settings)
    try:
        client = Client(app.test_client(), CredentialFile(tmp_path / "a.tokens.yaml").add("entra"), app=app)
        response = client.post("/Users", {"userName": "big", "displayName": "x" * 3000})
        assert response.status_code == 413 and "2048 bytes" in response.get_json()["detail"]
        assert client.post("/Users", {"userName": "small"}).status_code == 201
    finally:
        app.extensions["scim_gateway"].close()


# --- several tenants --------------------------------------------------------------------------


def _settings(folder, slapd, tenants: list[tuple[str, str, str]], top: str = "") -> str:
    """A settings file with these tenants (name, base_path, extra YAML), all on the test slapd."""
    lines = [top, "tenants:\n"]
    for name, base_path, extra in tenants:
        lines.append(
            f"  - name: {name}\n    base_path: {base_path}\n    mapping: {OPENLDAP_MAP}\n"
            f"    tokens_file: {name}.tokens.yaml\n    ldap:\n      url: {slapd.url}\n"
            f"      bind_dn: {SERVICE_DN}\n      password_file: {slapd.service_password_file}\n{extra}"
        )
    path = folder / "settings.yaml"
    path.write_text("".join(lines))
    return str(path)


def test_a_credential_of_one_tenant_never_opens_another(slapd, directory, tmp_path):
    settings = _settings(
        tmp_path,
        slapd,
        [
            ("hr", "/scim/hr", "    auth: {basic: true}\n"),
            ("lab", "/scim/lab", "    allow_from: [127.0.0.0/8]\n    limits: {rate: 1000/minute}\n"),
        ],
    )
    app = create_app(settings)
    try:
        hr_token = CredentialFile(tmp_path / "hr.tokens.yaml").add("entra")
        lab_token = CredentialFile(tmp_path / "lab.tokens.yaml").add("entra")
        http = app.test_client()

        def status(base, token):
            return http.get(f"{base}/Users", headers={"Authorization": f"Bearer {token}"}).status_code

        assert status("/scim/hr", hr_token) == 200 and status("/scim/lab", lab_token) == 200
        assert status("/scim/hr", lab_token) == 401 and status("/scim/lab", hr_token) == 401
        tenants = app.extensions["scim_gateway"].tenants
        assert tenants["tenant_hr"].backend is not tenants["tenant_lab"].backend
        assert tenants["tenant_hr"].settings.policy.auth.basic and not tenants["tenant_lab"].settings.policy.auth.basic
    finally:
        app.extensions["scim_gateway"].close()


def test_tenant_paths_may_not_lie_inside_each_other(slapd, tmp_path):
    settings = _settings(tmp_path, slapd, [("a", "/scim", ""), ("b", "/scim/b", "")])
    with pytest.raises(ConfigError, match="lie one inside the other"):
        create_app(settings)
