"""The settings file: which tenants this gateway serves, with which map, token and directory.

    tenants:
      - name: default
        base_path: /scim/v2                 # the Tenant URL is http(s)://<host><base_path>
        mapping: ../mappings/openldap.yaml  # relative paths are relative to this file
        tokens_file: tokens.yaml            # hashes only, written by `scim-gateway token create`
        ldap:                               # the block of the map's backend kind, by its name
          url: ldaps://ldap.example.com     # (gateway/backends/ldap/settings.py)
          bind_dn: cn=gateway,dc=example,dc=com
          password_file: /etc/scim-gateway/ldap.password   # or password_env: LDAP_PASSWORD
        # or, for a map with `backend: rest` (see gateway/backends/rest/settings.py):
        # rest: {base_url: https://hr.example.com/api/v1, auth: {type: api_key, key_file: hr.key}}
        # auth:, allow_from:, limits: -- see gateway/policy.py

Secrets never sit in this file: a backend's password or key comes from a file or an
environment variable, and tokens are stored as hashes.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from gateway import yamlfile
from gateway.backends.base import BackendSettings
from gateway.backends.registry import KINDS
from gateway.policy import Network, Policy, PolicyFields, PolicyProblem, _network, load_policy
from gateway.privatefiles import service_user
from gateway.yamlfile import ConfigError, Problem, line_of


@dataclass(frozen=True)
class TenantSettings:
    name: str
    base_path: str
    mapping_path: Path
    tokens_file: Path
    # The settings of each backend kind the tenant has a block for ({"ldap": LdapSettings});
    # the map's `backend:` picks one.
    backends: dict[str, BackendSettings] = field(default_factory=dict)
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
    given: frozenset[str] = frozenset()  # the top-level keys the file sets (they beat a gunicorn file)
    log_format: str = "text"  # or "json": one object per line
    audit_log: str = "stdout"  # a file path, or "stdout" (journald, containers); see gateway/observability/trail.py
    metrics_listen: str | None = None  # HOST:PORT answering /metrics, no credential (keep it on loopback)
    metrics_allow_from: tuple[Network, ...] = ()  # addresses that may read /metrics on the main port


class _TenantFields(PolicyFields):
    class Meta:
        unknown = RAISE

    name = fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]+$", error="letters, digits, . _ -"))
    base_path = fields.Str(required=True)
    mapping = fields.Str(required=True)
    tokens_file = fields.Str(required=True)

    @validates("base_path")
    def check_base_path(self, value: str, **kwargs) -> None:
        if not re.match(r"^(/[A-Za-z0-9._~-]+)+$", value):
            raise ValidationError("a URL path such as /scim/v2 (starts with /, no trailing /)")
        if value.lower().split("/")[1] in ("healthz", "readyz"):
            raise ValidationError("/healthz and /readyz are the gateway's own; choose another path")


# A block per backend kind, named as the kind (`ldap:`, `rest:`), each checked by its own schema.
TenantSchema = _TenantFields.from_dict(
    {name: fields.Nested(kind.settings_schema) for name, kind in KINDS.items()}, name="TenantSchema"
)


class SettingsSchema(Schema):
    class Meta:
        unknown = RAISE

    listen = fields.Str(load_default="127.0.0.1:8080")
    workers = fields.Int(load_default=2, validate=validate.Range(min=1, max=64))
    threads = fields.Int(load_default=4, validate=validate.Range(min=1, max=64))
    max_body_bytes = fields.Int(load_default=1024 * 1024, validate=validate.Range(min=1024))
    trusted_proxies = fields.Int(load_default=0, validate=validate.Range(min=0, max=10))
    log_level = fields.Str(load_default="info", validate=validate.OneOf(["debug", "info", "warning", "error"]))
    log_format = fields.Str(load_default="text", validate=validate.OneOf(["text", "json"]))
    audit_log = fields.Str(load_default="stdout", validate=validate.Length(min=1))
    metrics_listen = fields.Str(
        validate=validate.Regexp(
            r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$", error="HOST:PORT, e.g. 127.0.0.1:9464"
        )
    )
    metrics_allow_from = fields.List(fields.Str(validate=_network))
    tenants = fields.List(fields.Nested(TenantSchema), required=True, validate=validate.Length(min=1))


def load_settings(path: Path | str, folder: Path | None = None) -> Settings:
    """`folder`: what relative paths are relative to (default: the file's folder; a saved copy
    of the settings, reload.LastGood, reads them as the original did)."""
    path = Path(path).resolve()
    folder = folder or path.parent
    document = yamlfile.load(path)
    schema = SettingsSchema()
    try:
        data = schema.load(document or {})
    except ValidationError as error:
        raise ConfigError(
            yamlfile.problems_from_marshmallow(error.messages, document, str(path), schema=schema)
        ) from None
    problems: list[Problem] = []
    tenants = []
    seen_paths: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for index, raw in enumerate(data["tenants"]):
        where = ("tenants", index)
        # Routes, metrics and logs know a tenant by its name with . and - as _ (gateway/web/app.py).
        key = raw["name"].replace(".", "_").replace("-", "_").casefold()
        if key in seen_names:
            problems.append(
                Problem(
                    str(path),
                    line_of(document, (*where, "name")),
                    f"tenant name {raw['name']} is too close to {seen_names[key]} (names must differ in more than"
                    " case, '.', '-' and '_')",
                )
            )
        seen_names[key] = raw["name"]
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
        backends = {}
        for name, kind in KINDS.items():
            if name not in raw:
                continue
            try:
                backends[name] = kind.load_settings(raw[name], folder)
            except ValueError as error:
                problems.append(Problem(str(path), line_of(document, (*where, name)), str(error)))
        tokens_file = (folder / raw["tokens_file"]).resolve()
        if tokens_file.exists() and not os.access(tokens_file, os.R_OK):
            problems.append(
                Problem(
                    str(path),
                    line_of(document, (*where, "tokens_file")),
                    f"cannot read {tokens_file} as user {service_user()}: every request would fail;"
                    f" give it to that user (chown {service_user()} {tokens_file}) or use `token create --owner`",
                )
            )
        policy = Policy()
        try:
            policy = load_policy(raw, folder, tokens_file)
        except PolicyProblem as problem:
            problems.append(Problem(str(path), line_of(document, (*where, *problem.key)), str(problem)))
        tenants.append(
            TenantSettings(
                name=raw["name"],
                base_path=base_path,
                mapping_path=(folder / raw["mapping"]).resolve(),
                tokens_file=tokens_file,
                backends=backends,
                policy=policy,
            )
        )
    if problems:
        raise ConfigError(problems)
    options = {k: v for k, v in data.items() if k != "tenants"}
    if options.get("audit_log", "stdout") != "stdout":
        options["audit_log"] = str((folder / options["audit_log"]).resolve())
    if "metrics_allow_from" in options:
        options["metrics_allow_from"] = tuple(
            ipaddress.ip_network(n, strict=False) for n in options["metrics_allow_from"]
        )
    given = frozenset(key for key in (document or {}) if key != "tenants")
    return Settings(source=path, tenants=tuple(tenants), given=given, **options)


def _under(one: str, other: str) -> bool:
    return one.startswith(other + "/") or other.startswith(one + "/")
