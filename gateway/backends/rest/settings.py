"""A tenant's `rest:` block: where the API is, how the gateway proves who it is, how long it waits.

    rest:
      base_url: https://hr.example.com/api/v1
      auth:
        type: api_key                   # api_key | basic | oauth2 | none
        header: X-Api-Key
        key_file: /etc/scim-gateway/hr.key        # or key_env: HR_API_KEY
      ca_file: /etc/scim-gateway/hr-ca.pem        # TLS is always verified; this adds a private CA
      timeout: 10                       # seconds for each call
      retry_budget: 10                  # seconds one request may spend retrying the API
      retry_after: 30                   # what Entra is told when the API is down

Secrets come from a file or an environment variable, never from the settings file; their
dataclass repr hides them, so a settings object can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

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
class AuthSettings:
    type: str
    secret: str = ""  # the API key, the Basic password or the OAuth client secret
    header: str = "X-Api-Key"
    username: str = ""
    token_url: str = ""
    client_id: str = ""
    scope: str | None = None
    client_auth: str = "basic"  # oauth2: client credentials as HTTP Basic, or in the form body

    def __repr__(self) -> str:
        shown = {"type": self.type, "header": self.header, "username": self.username, "client_id": self.client_id}
        return f"AuthSettings({', '.join(f'{k}={v!r}' for k, v in shown.items() if v)}, secret=***)"


@dataclass(frozen=True)
class RestSettings:
    base_url: str
    auth: AuthSettings
    ca_file: str | None = None
    timeout: float = 10.0
    retry_budget: float = 10.0
    retry_after: int = 30

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.auth.secret,) if s)


class AuthSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.Str(required=True, validate=validate.OneOf(list(AUTH_TYPES)))
    header = fields.Str(load_default="X-Api-Key", validate=validate.Regexp(r"^[A-Za-z0-9-]+$"))
    username = fields.Str()
    token_url = fields.Str(validate=validate.Regexp(r"^https?://", error="an http:// or https:// URL"))
    client_id = fields.Str()
    scope = fields.Str()
    client_auth = fields.Str(load_default="basic", validate=validate.OneOf(["basic", "body"]))
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


class RestSchema(Schema):
    class Meta:
        unknown = RAISE

    base_url = fields.Str(required=True, validate=validate.Regexp(r"^https?://[^/]", error="an http(s):// URL"))
    auth = fields.Nested(AuthSchema, required=True)
    ca_file = fields.Str()
    timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=300))
    retry_budget = fields.Float(load_default=10.0, validate=validate.Range(min=0, max=300))
    retry_after = fields.Int(load_default=30, validate=validate.Range(min=1, max=86400))


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
        auth=AuthSettings(
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
