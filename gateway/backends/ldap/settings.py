"""A tenant's `ldap:` block: where the directory is, how the gateway binds, how long it waits.

    ldap:
      url: ldaps://ldap.example.com           # or ldap:// with start_tls: true
      ca_file: /etc/scim-gateway/ldap-ca.pem  # default: the system's CAs
      bind_dn: cn=gateway,dc=example,dc=com
      password_file: /etc/scim-gateway/ldap.password   # or password_env: LDAP_PASSWORD
      timeout: 10                             # seconds for each operation
      retry_after: 30                         # what Entra is told when the directory is down
      client: ldap3                           # or python-ldap: the same, 6x less CPU (an extra)
      keep_sorted_lists: 30                   # seconds; 0: every listing sorted afresh (replicas)

The bind password comes from a file or an environment variable, never from the settings file;
the dataclass repr hides it. A bind in clear text is allowed only to a directory on the
loopback interface, unless `allow_plaintext: true` says otherwise.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.backends.ldap.capabilities import Capabilities
from gateway.declared import schema_of, setting
from gateway.privatefiles import read_secret, service_user

CLIENTS = ("ldap3", "python-ldap")
CLIENT_VARIABLE = "SCIM_GATEWAY_LDAP_CLIENT"
DEFAULT_CLIENT = os.environ.get(CLIENT_VARIABLE) or "ldap3"  # read once, at start
KEEP_SORTED_LISTS = 30.0  # seconds


@dataclass(frozen=True)
class LdapSettings:
    url: str = setting(field=fields.Str(validate=validate.Regexp(r"^ldaps?://", error="an ldap:// or ldaps:// URL")))
    bind_dn: str = setting(field=fields.Str())
    password: str = ""  # from password_file or password_env; never logged, repr hides it
    timeout: float = setting(10.0, fields.Float(validate=validate.Range(min=0.1, max=300)))
    retry_after: int = setting(30, fields.Int(validate=validate.Range(min=1, max=86400)))
    start_tls: bool = setting(False, fields.Bool())
    ca_file: str | None = setting(None, fields.Str())  # default: the system's CAs
    # the name the certificate must carry; default: the URL's host
    server_name: str | None = setting(None, fields.Str())
    # The LDAP client library: ldap3 (pure Python, always there) or python-ldap (libldap.py;
    # `pip install 'scim-gateway[python-ldap]'`). Left out: $SCIM_GATEWAY_LDAP_CLIENT's, else
    # ldap3 (the variable lets tests/run.sh run the whole suite on each client).
    client: str = setting(DEFAULT_CLIENT, fields.Str(validate=validate.OneOf(CLIENTS)))
    # How long a worker keeps a sorted list for the next page (views.py). The gateway's workers
    # tell each other of their writes; other replicas and tools do not: their changes show in a
    # listing after at most this long. 0: each listing is sorted afresh, exact whoever wrote.
    keep_sorted_lists: float = setting(KEEP_SORTED_LISTS, fields.Float(validate=validate.Range(min=0, max=300)))
    # Overrides of what the root DSE says the directory supports (capabilities.py), e.g.
    # {assertion: false} for a directory that lists a control it does not honour.
    capabilities: dict | None = setting(
        None,
        fields.Dict(
            keys=fields.Str(validate=validate.OneOf(Capabilities.overridable())),
            values=fields.Raw(),
            validate=lambda value: _check_capabilities(value),
        ),
    )

    def __repr__(self) -> str:
        return f"LdapSettings(url={self.url!r}, bind_dn={self.bind_dn!r}, password=***)"

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"

    @property
    def encrypted(self) -> bool:
        return self.start_tls or urlparse(self.url).scheme.lower() == "ldaps"


def _check_capabilities(value: dict) -> None:
    for name, given in value.items():
        wanted = int if name in Capabilities.NUMBERS else bool
        if type(given) is not wanted or (wanted is int and given < 1):
            raise ValidationError(f"{name} is {'a number (1 or more)' if wanted is int else 'true or false'}")


class _LdapInputs(Schema):
    """The keys of the `ldap:` block that are not settings themselves."""

    password_file = fields.Str()
    password_env = fields.Str()
    allow_plaintext = fields.Bool(load_default=False)

    @validates_schema
    def one_password_source(self, data: dict, **kwargs) -> None:
        if ("password_file" in data) == ("password_env" in data):
            raise ValidationError("give exactly one of password_file or password_env (never the password itself)")


LdapSchema = schema_of(LdapSettings, base=_LdapInputs)


def ldap_settings(raw: dict, folder: Path) -> LdapSettings:
    """Typed settings from a validated `ldap:` block; the password read now. ValueError says what is wrong."""
    password = read_secret(
        "the LDAP password",
        folder / raw["password_file"] if "password_file" in raw else None,
        raw.get("password_env"),
    )
    ca_file = (folder / raw["ca_file"]).resolve() if "ca_file" in raw else None
    if ca_file is not None and not ca_file.is_file():
        raise ValueError(f"the CA file {ca_file} does not exist")
    if ca_file is not None and not os.access(ca_file, os.R_OK):
        raise ValueError(f"cannot read the CA file {ca_file} as user {service_user()}")
    settings = LdapSettings(
        raw["url"],
        raw["bind_dn"],
        password,
        raw["timeout"],
        raw["retry_after"],
        start_tls=raw["start_tls"],
        ca_file=str(ca_file) if ca_file else None,
        server_name=raw.get("server_name"),
        capabilities=raw.get("capabilities") or {},
        client=raw["client"],
        keep_sorted_lists=raw["keep_sorted_lists"],
    )
    if settings.client not in CLIENTS:  # only the variable can say something else
        raise ValueError(f"${CLIENT_VARIABLE} is {settings.client!r}; it names the LDAP client: {' or '.join(CLIENTS)}")
    if settings.client == "python-ldap":
        _can_use_libldap(settings)
    if settings.start_tls and settings.url.lower().startswith("ldaps:"):
        raise ValueError("start_tls is for ldap:// URLs; an ldaps:// connection is encrypted from the start")
    if not settings.encrypted and not raw["allow_plaintext"] and not _loopback(settings.host):
        raise ValueError(
            f"{settings.url} would send the bind password in clear text over the network: use ldaps://"
            " or start_tls: true (or, knowing the risk, allow_plaintext: true)"
        )
    return settings


def _can_use_libldap(settings: LdapSettings) -> None:
    try:
        import ldap  # noqa: F401  (python-ldap, the optional client)
    except ImportError:
        raise ValueError(
            "client: python-ldap needs the python-ldap package in the gateway's Python: EXTRAS=python-ldap"
            " ./deploy/install.sh, or pip install 'scim-gateway[python-ldap]' (it builds against libldap2-dev"
            f" and libsasl2-dev); or {_unchoose()} to use ldap3"
        ) from None
    if settings.server_name and urlparse(settings.url).scheme.lower() == "ldaps":
        from gateway.backends.ldap.libldap import LDAPS_NAMED

        raise ValueError(LDAPS_NAMED)


def _unchoose() -> str:
    if os.environ.get(CLIENT_VARIABLE):
        return f"remove `client` and unset ${CLIENT_VARIABLE} (set to {os.environ[CLIENT_VARIABLE]!r})"
    return "remove `client`"


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
