"""The OAuth2 token endpoint of a tenant: `POST <base_path>/oauth/token`, client credentials only.

Registered only for tenants whose `auth:` has `oauth:`. Its answers follow RFC 6749 section 5
(`{"access_token", "token_type", "expires_in"}`, errors as `{"error": ...}`), because that is
what an OAuth client parses; the SCIM errors of the door (403 for an address outside the
allowlist, 429) come first, as on every other path of the tenant.
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote_plus

from flask import Blueprint, current_app, g, jsonify, request

from gateway.auth.authenticator import AuthFailure
from gateway.credentials import CredentialsUnreadable
from gateway.observability import context
from gateway.web.auth import admit_address, count_request, failed_login

log = logging.getLogger("gateway.web.token")
token_endpoint = Blueprint("oauth", __name__)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str, challenge: bool = False):
        super().__init__(description)
        self.status, self.error, self.description, self.challenge = status, error, description, challenge


@token_endpoint.errorhandler(OAuthError)
def on_oauth_error(error: OAuthError):
    context.note(detail=error.description)  # for the request's log line
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    if error.challenge:
        response.headers["WWW-Authenticate"] = 'Basic realm="scim-gateway"'
    return response


@token_endpoint.before_request
def door() -> None:
    g.tenant = current_app.extensions["scim_gateway"].tenant_for(request.blueprint)
    g.address = admit_address()
    count_request()


@token_endpoint.post("/token")
def issue_token():
    if any(key in request.args for key in ("client_secret", "client_id", "grant_type")):
        # RFC 6749 2.3.1: never in the URL, where access logs and proxies keep it.
        raise OAuthError(
            400, "invalid_request", "send the client credentials in the body or a Basic header, not the URL"
        )
    if request.form.get("grant_type") != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    client_id, client_secret, from_header = _client_credentials()
    try:
        access_token, client = g.tenant.authenticator.issue(client_id, client_secret)
    except CredentialsUnreadable as error:
        log.error("tenant %s: %s", g.tenant.name, error)
        raise OAuthError(503, "temporarily_unavailable", "the gateway cannot check clients right now") from None
    except AuthFailure as failure:
        over = failed_login(g.address, failure)
        if over is not None:
            raise OAuthError(
                429, "invalid_client", f"too many failed logins {over.what}; retry in {over.wait} s"
            ) from None
        raise OAuthError(401, "invalid_client", "unknown client or wrong secret", challenge=from_header) from None
    lifetime = g.tenant.authenticator.access_tokens.lifetime
    response = jsonify(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime, "scope": client.scope}
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _client_credentials() -> tuple[str, str, bool]:
    """From the Basic header (RFC 6749 2.3.1, preferred) or the form body."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(400, "invalid_request", "the Basic header is not base64 of id:secret") from None
        if not colon:
            raise OAuthError(400, "invalid_request", "the Basic header has no secret")
        return unquote_plus(client_id), unquote_plus(secret), True
    form_id, form_secret = request.form.get("client_id"), request.form.get("client_secret")
    if not form_id or not form_secret:
        raise OAuthError(400, "invalid_request", "client_id and client_secret are required")
    return form_id, form_secret, False
