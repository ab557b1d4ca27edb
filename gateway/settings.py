"""The settings file: which tenants this gateway serves, with which map, token and directory.

    tenants:
      - name: default
        base_path: /scim/v2                 # the Tenant URL is http(s)://<host><base_path>
        mapping: ../mappings/openldap.yaml  # relative paths are relative to this file
        tokens_file: tokens.yaml            # hashes only, written by `scim-gateway token create`
        ldap:
          url: ldaps://ldap.example.com           # or ldap:// with start_tls: true
          ca_file: /etc/scim-gateway/ldap-ca.pem  # default: the system's CAs
          bind_dn: cn=gateway,dc=example,dc=com
          password_file: /etc/scim-gateway/ldap.password   # or password_env: LDAP_PASSWORD
        # or, for a map with `backend: rest` (see gateway/backends/rest/settings.py):
        # rest: {base_url: https://hr.example.com/api/v1, auth: {type: api_key, key_file: hr.key}}
        # auth:, allow_from:, limits: -- see gateway/policy.py

Secrets never sit in this file: the bind password comes from a file or an environment
variable, and tokens are stored as hashes. A bind in clear text is allowed only to a
directory on the loopback interface, unless `allow_plaintext: true` says otherwise.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from gateway import yamlfile
from gateway.backends.ldap.capabilities import Capabilities
from gateway.backends.ldap.connection import LdapSettings
from gateway.backends.rest.settings import RestSchema, RestSettings, rest_settings
from gateway.policy import Policy, PolicyFields, PolicyProblem, load_policy
from gateway.yamlfile import ConfigError, Problem, line_of


@dataclass(frozen=True)
class TenantSettings:
    name: str
    base_path: str
    mapping_path: Path
    tokens_file: Path
    ldap: LdapSettings | None = None
    rest: RestSettings | None = None
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True)
class Settings:
    source: Path
    tenants: tuple[TenantSettings, ...]
    listen: str = "127.0.0.1:8080"
    workers: int = 2
    threads: int = 4
    max_body_bytes: int = 1024 * 1024
    log_level: str = "info"
    trusted_proxies: int = 0  # reverse proxies whose X-Forwarded-For is believed


class LdapSchema(Schema):
    class Meta:
        unknown = RAISE

    url = fields.Str(required=True, validate=validate.Regexp(r"^ldaps?://", error="an ldap:// or ldaps:// URL"))
    bind_dn = fields.Str(required=True)
    password_file = fields.Str()
    password_env = fields.Str()
    timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=300))
    retry_after = fields.Int(load_default=30, validate=validate.Range(min=1, max=86400))
    start_tls = fields.Bool(load_default=False)
    ca_file = fields.Str()
    server_name = fields.Str()  # the name the certificate must carry, if not the URL's host
    allow_plaintext = fields.Bool(load_default=False)
    # What the root DSE says, overridden (gateway/backends/ldap/capabilities.py): {assertion: false}
    capabilities = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(Capabilities.overridable())),
        values=fields.Raw(),
        load_default=dict,
    )

    @validates("capabilities")
    def check_capabilities(self, value: dict, **kwargs) -> None:
        for name, setting in value.items():
            wanted = int if name == "max_page_size" else bool
            if type(setting) is not wanted or (wanted is int and setting < 1):
                raise ValidationError(f"{name} is {'a page size (1 or more)' if wanted is int else 'true or false'}")

    @validates_schema
    def one_password_source(self, data: dict, **kwargs) -> None:
        if ("password_file" in data) == ("password_env" in data):
            raise ValidationError("give exactly one of password_file or password_env (never the password itself)")


class TenantSchema(PolicyFields):
    class Meta:
        unknown = RAISE

    name = fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]+$", error="letters, digits, . _ -"))
    base_path = fields.Str(required=True)
    mapping = fields.Str(required=True)
    tokens_file = fields.Str(required=True)
    ldap = fields.Nested(LdapSchema)
    rest = fields.Nested(RestSchema)

    @validates("base_path")
    def check_base_path(self, value: str, **kwargs) -> None:
        if not re.match(r"^(/[A-Za-z0-9._~-]+)+$", value):
            raise ValidationError("a URL path such as /scim/v2 (starts with /, no trailing /)")


class SettingsSchema(Schema):
    class Meta:
        unknown = RAISE

    listen = fields.Str(load_default="127.0.0.1:8080")
    workers = fields.Int(load_default=2, validate=validate.Range(min=1, max=64))
    threads = fields.Int(load_default=4, validate=validate.Range(min=1, max=64))
    max_body_bytes = fields.Int(load_default=1024 * 1024, validate=validate.Range(min=1024))
    trusted_proxies = fields.Int(load_default=0, validate=validate.Range(min=0, max=10))
    log_level = fields.Str(load_default="info", validate=validate.OneOf(["debug", "info", "warning", "error"]))
    tenants = fields.List(fields.Nested(TenantSchema), required=True, validate=validate.Length(min=1))


def load_settings(path: Path | str) -> Settings:
    path = Path(path).resolve()
    document = yamlfile.load(path)
    try:
        data = SettingsSchema().load(document or {})
    except ValidationError as error:
        raise ConfigError(yamlfile.problems_from_marshmallow(error.messages, document, str(path))) from None
    problems: list[Problem] = []
    tenants = []
    seen_paths: dict[str, str] = {}
    for index, raw in enumerate(data["tenants"]):
        where = ("tenants", index)
        base_path = raw["base_path"]
        if base_path.lower() in seen_paths:
            problems.append(
                Problem(
                    str(path),
                    line_of(document, (*where, "base_path")),
                    f"base_path {base_path} is already used by tenant {seen_paths[base_path.lower()]}",
                )
            )
        seen_paths[base_path.lower()] = raw["name"]
        nested = next((p for p in seen_paths if p != base_path.lower() and _under(p, base_path.lower())), None)
        if nested is not None:
            problems.append(
                Problem(
                    str(path),
                    line_of(document, (*where, "base_path")),
                    f"base_path {base_path} and tenant {seen_paths[nested]}'s {nested} lie one inside the other;"
                    " give each tenant a path of its own (/scim/a, /scim/b)",
                )
            )
        ldap = None
        if "ldap" in raw:
            try:
                ldap = _ldap_settings(raw["ldap"], path.parent)
            except ValueError as error:
                problems.append(Problem(str(path), line_of(document, (*where, "ldap")), str(error)))
        rest = None
        if "rest" in raw:
            try:
                rest = rest_settings(raw["rest"], path.parent)
            except ValueError as error:
                problems.append(Problem(str(path), line_of(document, (*where, "rest")), str(error)))
        tokens_file = (path.parent / raw["tokens_file"]).resolve()
        policy = Policy()
        try:
            policy = load_policy(raw, path.parent, tokens_file)
        except PolicyProblem as problem:
            problems.append(Problem(str(path), line_of(document, (*where, *problem.key)), str(problem)))
        tenants.append(
            TenantSettings(
                name=raw["name"],
                base_path=base_path,
                mapping_path=(path.parent / raw["mapping"]).resolve(),
                tokens_file=tokens_file,
                ldap=ldap,
                rest=rest,
                policy=policy,
            )
        )
    if problems:
        raise ConfigError(problems)
    options = {k: v for k, v in data.items() if k != "tenants"}
    return Settings(source=path, tenants=tuple(tenants), **options)


def _under(one: str, other: str) -> bool:
    return one.startswith(other + "/") or other.startswith(one + "/")


def _ldap_settings(raw: dict, folder: Path) -> LdapSettings:
    if "password_file" in raw:
        secret_path = folder / raw["password_file"]
        try:
            password = secret_path.read_text().strip()
        except OSError as error:
            raise ValueError(f"cannot read the LDAP password file {secret_path}: {error.strerror}") from None
    else:
        password = os.environ.get(raw["password_env"], "")
        if not password:
            raise ValueError(f"the environment variable {raw['password_env']} (the LDAP password) is not set")
    ca_file = (folder / raw["ca_file"]).resolve() if "ca_file" in raw else None
    if ca_file is not None and not ca_file.is_file():
        raise ValueError(f"the CA file {ca_file} does not exist")
    settings = LdapSettings(
        raw["url"],
        raw["bind_dn"],
        password,
        raw["timeout"],
        raw["retry_after"],
        start_tls=raw["start_tls"],
        ca_file=str(ca_file) if ca_file else None,
        server_name=raw.get("server_name"),
        capabilities=raw["capabilities"],
    )
    if settings.start_tls and settings.url.lower().startswith("ldaps:"):
        raise ValueError("start_tls is for ldap:// URLs; an ldaps:// connection is encrypted from the start")
    if not settings.encrypted and not raw["allow_plaintext"] and not _loopback(settings.host):
        raise ValueError(
            f"{settings.url} would send the bind password in clear text over the network: use ldaps://"
            " or start_tls: true (or, knowing the risk, allow_plaintext: true)"
        )
    return settings


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
