"""A tenant's `rest:` block: where the API is, how the gateway proves who it is, how long it waits.

    rest:
      base_url: https://hr.example.com/api/v1
      auth:
        type: api_key                   # api_key | basic | oauth2 | none
        header: X-Api-Key
        key_file: /etc/scim-gateway/hr.key        # or key_env: HR_API_KEY
      ca_file: /etc/scim-gateway/hr-ca.pem        # TLS is always verified: against this CA file (default: the system's)
      timeout: 4                        # seconds for each call (shorter than retry_budget)
      retry_budget: 10                  # seconds one request may spend retrying the API
      retry_after: 30                   # what Entra is told when the API is down

Secrets come from a file or an environment variable, never from the settings file; their
dataclass repr hides them, so a settings object can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.declared import schema_of, setting
from gateway.privatefiles import read_secret

# Per auth type: the options it requires, and the stem of its secret's _file/_env pair.
AUTH_TYPES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "api_key": ((), "key"),
    "basic": (("username",), "password"),
    "oauth2": (("token_url", "client_id"), "client_secret"),
    "none": ((), None),
}
SECRET_STEMS = ("key", "password", "client_secret")


@dataclass(frozen=True)
class ApiAuthSettings:
    type: str = setting(field=fields.Str(validate=validate.OneOf(list(AUTH_TYPES))))
    secret: str = ""  # the API key, the Basic password or the OAuth client secret, from a file or the environment
    header: str = setting("X-Api-Key", fields.Str(validate=validate.Regexp(r"^[A-Za-z0-9-]+$")))
    # The options an auth type needs (AUTH_TYPES) are in the loaded block only when given.
    username: str = setting("", fields.Str(), given_only=True)
    token_url: str = setting(
        "", fields.Str(validate=validate.Regexp(r"^https?://", error="an http:// or https:// URL")), given_only=True
    )
    client_id: str = setting("", fields.Str(), given_only=True)
    scope: str | None = setting(None, fields.Str())
    # oauth2: client credentials as HTTP Basic, or in the form body
    client_auth: str = setting("basic", fields.Str(validate=validate.OneOf(["basic", "body"])))

    def __repr__(self) -> str:
        shown = {"type": self.type, "header": self.header, "username": self.username, "client_id": self.client_id}
        return f"ApiAuthSettings({', '.join(f'{k}={v!r}' for k, v in shown.items() if v)}, secret=***)"


class _AuthInputs(Schema):
    """The keys of `auth:` that are not settings themselves: where each secret comes from."""

    key_file = fields.Str()
    key_env = fields.Str()
    password_file = fields.Str()
    password_env = fields.Str()
    client_secret_file = fields.Str()
    client_secret_env = fields.Str()

    @validates_schema
    def check_type_options(self, data: dict, **kwargs) -> None:
        required, stem = AUTH_TYPES.get(data.get("type", ""), ((), None))
        missing = [name for name in required if name not in data]
        if missing:
            raise ValidationError(f"auth type {data['type']} needs {', '.join(missing)}")
        for other in SECRET_STEMS:
            given = [f"{other}_{source}" for source in ("file", "env") if f"{other}_{source}" in data]
            if other != stem and given:
                raise ValidationError(f"auth type {data['type']} takes no {given[0]}")
        if stem and (f"{stem}_file" in data) == (f"{stem}_env" in data):
            raise ValidationError(
                f"give exactly one of {stem}_file or {stem}_env (never the {stem.replace('_', ' ')} itself)"
            )


ApiAuthSchema = schema_of(ApiAuthSettings, base=_AuthInputs)


@dataclass(frozen=True)
class RestSettings:
    base_url: str = setting(field=fields.Str(validate=validate.Regexp(r"^https?://[^/]", error="an http(s):// URL")))
    auth: ApiAuthSettings = setting(field=fields.Nested(ApiAuthSchema))
    ca_file: str | None = setting(None, fields.Str())
    timeout: float = setting(4.0, fields.Float(validate=validate.Range(min=0.1, max=300)))
    retry_budget: float = setting(10.0, fields.Float(validate=validate.Range(min=0, max=300)))
    retry_after: int = setting(30, fields.Int(validate=validate.Range(min=1, max=86400)))


class _RetriesFit(Schema):
    @validates_schema
    def check_retries_fit(self, data: dict, **kwargs) -> None:
        timeout, budget = data.get("timeout", 4.0), data.get("retry_budget", 10.0)
        if 0 < budget <= timeout:
            raise ValidationError(
                f"timeout ({timeout:g} s) must be shorter than retry_budget ({budget:g} s), or a call that"
                " timed out is never retried: e.g. timeout: 4, retry_budget: 10 (retry_budget: 0 for no retries)",
                "timeout",
            )


RestSchema = schema_of(RestSettings, base=_RetriesFit)


def rest_settings(raw: dict, folder: Path) -> RestSettings:
    """Typed settings from a validated `rest:` block; secrets read now. ValueError says what is wrong."""
    auth = raw["auth"]
    _, stem = AUTH_TYPES[auth["type"]]
    secret = _secret(auth, stem, folder) if stem else ""
    ca_file = None
    if "ca_file" in raw:
        ca_path = folder / raw["ca_file"]
        if not ca_path.is_file():
            raise ValueError(f"the CA file {ca_path} does not exist")
        ca_file = str(ca_path)
    parts = urlsplit(raw["base_url"])
    if parts.query:
        raise ValueError("base_url takes no ?query; put fixed parameters in the map's list.params")
    if "@" in parts.netloc:
        raise ValueError("base_url holds credentials; give them under auth: (from a file or the environment)")
    return RestSettings(
        base_url=raw["base_url"].rstrip("/"),
        auth=ApiAuthSettings(
            type=auth["type"],
            secret=secret,
            header=auth["header"],
            username=auth.get("username", ""),
            token_url=auth.get("token_url", ""),
            client_id=auth.get("client_id", ""),
            scope=auth.get("scope"),
            client_auth=auth["client_auth"],
        ),
        ca_file=ca_file,
        timeout=raw["timeout"],
        retry_budget=raw["retry_budget"],
        retry_after=raw["retry_after"],
    )


def _secret(auth: dict, stem: str, folder: Path) -> str:
    file = folder / auth[f"{stem}_file"] if f"{stem}_file" in auth else None
    return read_secret(f"the API {stem.replace('_', ' ')}", file, auth.get(f"{stem}_env"))
