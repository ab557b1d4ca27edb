"""Ways in: Secret Tokens with scopes, HTTP Basic, OAuth client credentials, Entra's own JWTs."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.auth.passwords import check_password, hash_password
from gateway.credentials import CredentialFile, StoredCredential, now
from gateway.policy import ENTRA_AUDIENCE

ENTRA_TENANT = "11111111-2222-3333-4444-555555555555"
USER = {"userName": "reader-test", "active": True}


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _tokens(client) -> CredentialFile:
    return client.app.extensions["scim_gateway"].tenants["tenant_test"].authenticator.file


def test_a_read_only_token_reads_and_gets_403_on_every_write(client):
    reader = _tokens(client).add("auditor", "read-only")
    assert client.get("/Users", token=reader).status_code == 200
    created = client.create_user("written-by-entra")
    for response in (
        client.post("/Users", USER, token=reader),
        client.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "title", "value": "x"}], token=reader),
        client.put(f"/Users/{created['id']}", USER, token=reader),
        client.delete(f"/Users/{created['id']}", token=reader),
    ):
        assert response.status_code == 403
        body = response.get_json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and "read" in body["detail"]
    assert client.get(f"/Users/{created['id']}").get_json()["userName"] == "written-by-entra"


def test_a_revoked_token_is_refused_by_the_running_gateway(client):
    spare = _tokens(client).add("spare")
    assert client.get("/Users", token=spare).status_code == 200
    assert _tokens(client).revoke("tokens", "spare")
    response = client.get("/Users", token=spare)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/Users").status_code == 200  # the other token still works


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer scimgw_wrong", "Token abc", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "scimgw_bare"],
)
def test_anything_but_a_valid_credential_is_401_scim_json(client, header):
    response = client.flask_client.get("/scim/v2/Users", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.get_json()["status"] == "401"


def test_basic_users_log_in_with_a_hashed_password(make_client):
    client = make_client(tenant_yaml="    auth: {basic: true}\n")
    password = "correct horse battery staple"
    _tokens(client).store("basic_users", StoredCredential("entra", hash_password(password), "scim", now()))
    assert password not in client.app.extensions["scim_gateway"].tenants["tenant_test"].settings.tokens_file.read_text()
    ok = client.flask_client.get("/scim/v2/Users", headers=_basic("entra", password))
    assert ok.status_code == 200
    assert client.flask_client.get("/scim/v2/Users", headers=_basic("entra", password)).status_code == 200  # remembered
    for user, attempt in (("entra", "wrong password"), ("nobody", password), ("entra", "")):
        assert client.flask_client.get("/scim/v2/Users", headers=_basic(user, attempt)).status_code == 401
    assert "Basic" in client.get("/Users", token="nope").headers["WWW-Authenticate"]


def test_basic_is_refused_where_the_tenant_does_not_enable_it(client):
    _tokens(client).store(
        "basic_users", StoredCredential("entra", hash_password("a long enough password"), "scim", now())
    )
    assert (
        client.flask_client.get("/scim/v2/Users", headers=_basic("entra", "a long enough password")).status_code == 401
    )


def test_password_hashes_are_salted_and_checked():
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second and first.startswith("scrypt$")
    assert check_password("same password", first) and not check_password("other", first)
    assert not check_password("same password", "garbage")


OAUTH = "    auth: {oauth: {token_lifetime: 7200}}\n"


def _oauth_client(client, name="gallery", scope="scim") -> str:
    secret = "scimgw_" + "s" * 43
    from gateway.credentials import digest

    _tokens(client).store("oauth_clients", StoredCredential(name, digest(secret), scope, now()))
    return secret


def test_oauth_client_credentials_issue_short_lived_tokens_that_open_the_tenant(make_client):
    client = make_client(tenant_yaml=OAUTH)
    secret = _oauth_client(client)
    response = client.flask_client.post(
        "/scim/v2/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "gallery", "client_secret": secret},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    assert response.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7200
    assert client.get("/Users", token=body["access_token"]).status_code == 200
    # In a Basic header, as RFC 6749 prefers, too.
    in_header = client.flask_client.post(
        "/scim/v2/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic("gallery", secret)
    )
    assert in_header.status_code == 200
    # Revoking the client ends its access tokens at once.
    _tokens(client).revoke("oauth_clients", "gallery")
    assert client.get("/Users", token=body["access_token"]).status_code == 401


@pytest.mark.parametrize(
    ("form", "query", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "gallery", "client_secret": "wrong"},
            "",
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, "", 401, "invalid_client"),
        ({"grant_type": "password", "client_id": "gallery", "client_secret": "x"}, "", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "", 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, "?client_id=gallery&client_secret=x", 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_answers_oauth_errors(make_client, form, query, status, error):
    client = make_client(tenant_yaml=OAUTH)
    _oauth_client(client)
    response = client.flask_client.post("/scim/v2/oauth/token" + query, data=form)
    assert (response.status_code, response.get_json()["error"]) == (status, error)


def test_a_forged_or_expired_access_token_is_refused(make_client):
    client = make_client(tenant_yaml=OAUTH)
    _oauth_client(client)
    claims = {
        "iss": "scim-gateway",
        "aud": "test",
        "sub": "gallery",
        "scope": "scim",
        "iat": 0,
        "exp": int(time.time()) + 60,
    }
    forged = jwt.encode(claims, b"not the key" * 4, algorithm="HS256")
    assert client.get("/Users", token=forged).status_code == 401
    key = client.app.extensions["scim_gateway"].tenants["tenant_test"].authenticator.access_tokens.key()
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="HS256")
    assert client.get("/Users", token=expired).status_code == 401
    assert client.get("/Users", token=jwt.encode(claims, key, algorithm="HS256")).status_code == 200


@pytest.mark.parametrize("lifetime", [60, 3599, 21601])
def test_oauth_token_lifetimes_outside_60_minutes_to_6_hours_are_refused(make_client, lifetime):
    from gateway.yamlfile import ConfigError

    with pytest.raises(ConfigError, match="between 3600 and 21600"):
        make_client(tenant_yaml=f"    auth: {{oauth: {{token_lifetime: {lifetime}}}}}\n")


# --- Entra-issued JWTs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def entra_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key, kid="k1") -> str:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return json.dumps({"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]})


def _entra_token(key, kid="k1", **overrides) -> str:
    claims = {
        "iss": f"https://sts.windows.net/{ENTRA_TENANT}/",
        "aud": ENTRA_AUDIENCE,
        "appid": "00000014-0000-0000-c000-000000000000",
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_entra_jwts_are_checked_against_a_jwks_file(make_client, entra_key, tmp_path):
    (tmp_path / "keys.json").write_text(_jwks(entra_key))
    client = make_client(
        tenant_yaml=f"    auth: {{tokens: false, entra_jwt: {{tenant_id: {ENTRA_TENANT}, jwks_file: {tmp_path / 'keys.json'}}}}}\n"
    )
    assert client.get("/Users", token=_entra_token(entra_key)).status_code == 200
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        _entra_token(entra_key, iss="https://sts.windows.net/99999999-2222-3333-4444-555555555555/"),
        _entra_token(entra_key, aud="api://someone-else"),
        _entra_token(entra_key, exp=int(time.time()) - 3600),
        _entra_token(other_key),
        _entra_token(entra_key, kid="unknown"),
        client.token,  # tokens: false
    ):
        assert client.get("/Users", token=bad).status_code == 401


def test_entra_jwks_from_a_url_is_fetched_once_and_cached(make_client, entra_key):
    fetched = []
    body = _jwks(entra_key).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/keys"
        client = make_client(tenant_yaml=f"    auth: {{entra_jwt: {{tenant_id: {ENTRA_TENANT}, jwks_url: '{url}'}}}}\n")
        token = _entra_token(entra_key)
        assert [client.get("/Users", token=token).status_code for _ in range(3)] == [200, 200, 200]
        assert fetched == ["/keys"]
    finally:
        server.shutdown()
        server.server_close()


def test_entra_keys_that_cannot_be_read_are_503_with_the_tenant_retry_after(make_client, entra_key, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(_jwks(entra_key))
    client = make_client(tenant_yaml=f"    auth: {{entra_jwt: {{tenant_id: {ENTRA_TENANT}, jwks_file: {keys}}}}}\n")
    keys.unlink()
    response = client.get("/Users", token=_entra_token(entra_key))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "17")  # conftest's ldap retry_after
    assert response.get_json()["detail"] == "the gateway cannot check this token right now; retry later"
    assert "scimType" not in response.get_json()


def test_the_service_provider_config_lists_only_the_secret_token_by_default(client):
    schemes = client.get("/ServiceProviderConfig").get_json()["authenticationSchemes"]
    assert [(s["type"], s["name"], s["primary"]) for s in schemes] == [("oauthbearertoken", "Secret Token", True)]


def test_the_service_provider_config_lists_every_way_in_the_tenant_accepts(make_client, tmp_path):
    (tmp_path / "keys.json").write_text("{}")
    client = make_client(
        tenant_yaml="    auth:\n"
        "      tokens: false\n"
        "      basic: true\n"
        "      oauth: {token_lifetime: 3600}\n"
        f"      entra_jwt: {{tenant_id: {ENTRA_TENANT}, jwks_file: {tmp_path / 'keys.json'}}}\n"
    )
    secret = _oauth_client(client)
    token = client.flask_client.post(
        "/scim/v2/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "gallery", "client_secret": secret},
    ).get_json()["access_token"]
    schemes = client.get("/ServiceProviderConfig", token=token).get_json()["authenticationSchemes"]
    assert [(s["type"], s["name"], s["primary"]) for s in schemes] == [
        ("oauth2", "OAuth 2.0 client credentials", True),
        ("oauthbearertoken", "Entra ID JWT", False),
        ("httpbasic", "HTTP Basic", False),
    ]
    assert "http://localhost/scim/v2/oauth/token" in schemes[0]["description"]
    assert ENTRA_TENANT in schemes[1]["description"]
    assert all(s["specUri"].startswith("https://www.rfc-editor.org/rfc/rfc") for s in schemes)


def test_a_credentials_file_that_turns_unreadable_is_a_503_naming_it_never_a_500(client, caplog):
    path = client.app.extensions["scim_gateway"].tenants["tenant_test"].settings.tokens_file
    path.write_text("tokens: [this is not a credentials file\n")  # what a half-edited file looks like
    with caplog.at_level(logging.ERROR, logger="gateway.web.auth"):
        answer = client.get("/Users")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "17"
    assert f"cannot read the credentials file {path}" in caplog.text
