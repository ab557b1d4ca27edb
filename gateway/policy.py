"""What a tenant lets in: which credentials, from which networks, how much at a time.

The tenant's `auth:`, `allow_from:` and `limits:` settings, validated with the rest of the
settings file (marshmallow, file:line errors) into one frozen `Policy`:

    auth:
      tokens: true                 # Secret Tokens (`scim-gateway token create`); the default
      basic: false                 # HTTP Basic users (`scim-gateway basic create`)
      oauth:                       # OAuth2 client credentials at <base_path>/oauth/token
        token_lifetime: 3600       # seconds; Entra's gallery checklist: 60 min to 6 h
      entra_jwt:                   # bearer JWTs Entra issues itself (Microsoft: testing only)
        tenant_id: 00000000-0000-0000-0000-000000000000
        jwks_url: https://login.microsoftonline.com/common/discovery/keys   # or jwks_file: keys.json
    allow_from: [203.0.113.0/24]   # or allow_from_file: entra-ranges.txt; default: any address
    limits:
      rate: 50/second              # per worker process; over it: 429 with Retry-After
      failed_logins: 20/minute     # per client address and per credential tried; over it, a failed
                                   # login is 429 instead of 401. A correct credential always gets in.
      json_depth: 32
      filter_length: 4096
      filter_depth: 32
      patch_operations: 1000
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import limits as ratelimits
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from gateway.privatefiles import service_user
from gateway.scim.limits import DEFAULT_LIMITS, Limits

# The application id of Entra's provisioning service: the audience of the JWTs it issues
# (docs/entra-wire.md#transport-and-authentication).
ENTRA_AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
SCOPES = ("scim", "read-only")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class OAuthSettings:
    signing_key_file: Path  # created on first use; holds the key that signs access tokens
    token_lifetime: int = 3600


@dataclass(frozen=True)
class EntraJwtSettings:
    tenant_id: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    audience: str = ENTRA_AUDIENCE
    scope: str = "scim"
    cache_seconds: int = 3600

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"


@dataclass(frozen=True)
class TenantAuthSettings:
    tokens: bool = True
    basic: bool = False
    oauth: OAuthSettings | None = None
    entra_jwt: EntraJwtSettings | None = None


@dataclass(frozen=True)
class Policy:
    auth: TenantAuthSettings = field(default_factory=TenantAuthSettings)
    allow_from: tuple[Network, ...] = ()  # empty: any address
    rate: str | None = "50/second"
    failed_logins: str | None = "20/minute"
    limits: Limits = DEFAULT_LIMITS

    def admits(self, address: str | None) -> bool:
        if not self.allow_from:
            return True
        try:
            client = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped:
            client = client.ipv4_mapped  # ::ffff:203.0.113.9 is 203.0.113.9
        return any(client in network for network in self.allow_from)


class PolicyProblem(ValueError):
    """A problem marshmallow cannot see (a file to read); `key` is where in the tenant it is."""

    def __init__(self, key: tuple, message: str):
        super().__init__(message)
        self.key = key


# --- schemas ---------------------------------------------------------------------------------


def _rate(text: str) -> None:
    try:
        ratelimits.parse(text)
    except ValueError:
        raise ValidationError("a rate such as 50/second, 1000/minute or 20 per minute") from None


def _network(text: str) -> None:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationError(f"{text!r} is not an address or network (203.0.113.0/24, 2001:db8::/32)") from None


class OAuthSchema(Schema):
    class Meta:
        unknown = RAISE

    token_lifetime = fields.Int(
        load_default=OAuthSettings.token_lifetime,
        validate=validate.Range(min=3600, max=21600, error="between 3600 and 21600 seconds (60 min to 6 h)"),
    )
    signing_key_file = fields.Str()


class EntraJwtSchema(Schema):
    class Meta:
        unknown = RAISE

    tenant_id = fields.Str(
        required=True,
        validate=validate.Regexp(r"^[0-9a-fA-F-]{36}$", error="the Entra tenant (directory) id, a GUID"),
    )
    jwks_url = fields.Url(schemes={"https", "http"})
    jwks_file = fields.Str()
    audience = fields.Str(load_default=EntraJwtSettings.audience)
    scope = fields.Str(load_default=EntraJwtSettings.scope, validate=validate.OneOf(SCOPES))
    cache_seconds = fields.Int(load_default=EntraJwtSettings.cache_seconds, validate=validate.Range(min=60, max=86400))

    @validates_schema
    def one_key_source(self, data: dict, **kwargs) -> None:
        if ("jwks_url" in data) == ("jwks_file" in data):
            raise ValidationError("give exactly one of jwks_url or jwks_file (Entra's signing keys)")


class TenantAuthSchema(Schema):
    class Meta:
        unknown = RAISE

    tokens = fields.Bool(load_default=TenantAuthSettings.tokens)
    basic = fields.Bool(load_default=TenantAuthSettings.basic)
    oauth = fields.Nested(OAuthSchema)
    entra_jwt = fields.Nested(EntraJwtSchema)


class LimitsSchema(Schema):
    """`limits:`: the Policy's two rates and the request bounds (scim/limits.py); each default
    is the one its dataclass declares."""

    class Meta:
        unknown = RAISE

    rate = fields.Str(load_default=Policy.rate, allow_none=True, validate=_rate)
    failed_logins = fields.Str(load_default=Policy.failed_logins, allow_none=True, validate=_rate)
    json_depth = fields.Int(load_default=DEFAULT_LIMITS.json_depth, validate=validate.Range(min=4, max=256))
    filter_length = fields.Int(load_default=DEFAULT_LIMITS.filter_length, validate=validate.Range(min=64, max=65536))
    filter_depth = fields.Int(load_default=DEFAULT_LIMITS.filter_depth, validate=validate.Range(min=2, max=128))
    patch_operations = fields.Int(
        load_default=DEFAULT_LIMITS.patch_operations, validate=validate.Range(min=1, max=100000)
    )


class PolicyFields(Schema):
    """The tenant keys this module owns; settings.TenantSchema includes them."""

    auth = fields.Nested(TenantAuthSchema)
    allow_from = fields.List(fields.Str(validate=_network))
    allow_from_file = fields.Str()
    limits = fields.Nested(LimitsSchema)

    @validates("allow_from")
    def not_empty(self, value: list, **kwargs) -> None:
        if not value:
            raise ValidationError("list at least one network, or leave allow_from out to admit any address")


def load_policy(raw: dict, folder: Path, tokens_file: Path) -> Policy:
    """The policy of one tenant from its loaded settings; relative paths are relative to `folder`."""
    auth = raw.get("auth") or {}
    oauth = None
    if "oauth" in auth:
        key_file = auth["oauth"].get("signing_key_file")
        oauth = OAuthSettings(
            signing_key_file=(folder / key_file) if key_file else tokens_file.with_suffix(".oauth-key"),
            token_lifetime=auth["oauth"]["token_lifetime"],
        )
        _usable(oauth.signing_key_file, ("auth", "oauth"), "the OAuth signing key", may_create=True)
    entra = None
    if "entra_jwt" in auth:
        options = dict(auth["entra_jwt"])
        if "jwks_file" in options:
            options["jwks_file"] = folder / options["jwks_file"]
            _usable(options["jwks_file"], ("auth", "entra_jwt", "jwks_file"), "Entra's signing keys")
        entra = EntraJwtSettings(**options)
    networks = [ipaddress.ip_network(text, strict=False) for text in raw.get("allow_from") or []]
    if "allow_from_file" in raw:
        networks.extend(_networks_from_file(folder / raw["allow_from_file"]))
    limits = dict(raw.get("limits") or LimitsSchema().load({}))
    rate, failed_logins = limits.pop("rate"), limits.pop("failed_logins")
    return Policy(
        auth=TenantAuthSettings(
            auth.get("tokens", TenantAuthSettings.tokens), auth.get("basic", TenantAuthSettings.basic), oauth, entra
        ),
        allow_from=tuple(networks),
        rate=rate,
        failed_logins=failed_logins,
        limits=Limits(**limits),
    )


def _usable(path: Path, key: tuple, what: str, may_create: bool = False) -> None:
    """Refuse at load a file the service cannot read (or, for one made on first use, cannot make):
    found later, it would fail requests instead of the start."""
    user = service_user()
    if path.exists():
        if not os.access(path, os.R_OK):
            raise PolicyProblem(key, f"cannot read {what} file {path} as user {user}")
    elif not may_create:
        raise PolicyProblem(key, f"{what} file {path} does not exist")
    elif not os.access(path.parent, os.W_OK | os.X_OK):
        raise PolicyProblem(
            key, f"{what} file {path} is made on first use, but user {user} cannot write to {path.parent}"
        )


def _networks_from_file(path: Path) -> list[Network]:
    """One address or network per line; `#` starts a comment (Azure's service tag list, saved)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise PolicyProblem(("allow_from_file",), f"cannot read {path}: {error.strerror}") from None
    networks = []
    for number, line in enumerate(lines, start=1):
        text = re.sub(r"#.*", "", line).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise PolicyProblem(
                ("allow_from_file",), f"{path}:{number}: {text!r} is not an address or network"
            ) from None
    if not networks:
        raise PolicyProblem(("allow_from_file",), f"{path} lists no network: it would shut every client out")
    return networks
