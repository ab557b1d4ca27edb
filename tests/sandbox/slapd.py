"""A throwaway OpenLDAP directory in a folder of its own, for the quick start and the tests.

It never touches /etc/ldap or systemd: the whole cn=config is generated here, loaded with
`slapadd -n0`, and slapd runs in the foreground as our child (`-d 0`), so stopping it is a
plain terminate-and-wait and nothing outlives the process that started it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tests.sandbox import children

SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
# The schema the package ships for its own attributes (scimExternalId, ...).
GATEWAY_SCHEMA = Path(str(resources.files("gateway.backends.ldap") / "scim-gateway.ldif"))
SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
SERVICE_DN = f"cn=gateway,{SUFFIX}"
# What README.md (Directories > OpenLDAP) lets the service account read of cn=config, so that
# `scim-gateway check` can compare the map's indexes and see the index hash width.
CONFIG_READ = (
    'to dn.subtree="cn=config" attrs=entry,objectClass,olcSuffix,olcDbIndex,olcIndexHash64'
    f' by dn.exact="{SERVICE_DN}" read'
)
PEOPLE_DN = f"ou=People,{SUFFIX}"
GROUPS_DN = f"ou=Groups,{SUFFIX}"
POLICY_DN = f"cn=default,ou=Policies,{SUFFIX}"
# Equality indexes of the sandbox's database; the shipped maps list them under ldap.indexes.
INDEXES = (
    "objectClass",
    "uid",
    "cn",
    "sn",
    "mail",
    "displayName",
    "entryUUID",
    "member",
    "uniqueMember",
    "memberOf",
    "manager",
    "scimExternalId",
    "employeeNumber",
)


class SlapdError(RuntimeError):
    """slapd could not be set up or started; the message says which step failed."""


def _gateway_schema_ldif() -> str:
    text = GATEWAY_SCHEMA.read_text()
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


@dataclass(frozen=True)
class TlsFiles:
    """A server certificate, its key and the CA that signed it (PEM files slapd can read)."""

    certificate: Path
    key: Path
    ca: Path

    def ldif(self) -> str:
        return (
            f"olcTLSCACertificateFile: {self.ca}\n"
            f"olcTLSCertificateFile: {self.certificate}\n"
            f"olcTLSCertificateKeyFile: {self.key}\n"
        )


def _config_ldif(
    root: Path,
    admin_password: str,
    integrity: bool = True,
    tls: TlsFiles | None = None,
    sorting: bool = True,
    hash64: bool = True,
    config_readable: bool = False,
) -> str:
    """cn=config as one LDIF: modules, schemas, the mdb database, its overlays and limits.
    `integrity=False` leaves out memberof and refint, like a directory without them;
    `sorting=False` leaves out sssvlv (server-side sorting and VLV: pages and counts that
    cost a page, gateway/backends/ldap/vlv.py); `hash64=False` keeps OpenLDAP's default
    32-bit index hashes, with which removing members from a big group re-indexes every
    member left (README, Directories > OpenLDAP); `config_readable` lets the service account read
    what `check` compares in cn=config (CONFIG_READ)."""
    schemas = "\n".join(
        f"include: file://{SCHEMA_DIR / name}.ldif" for name in ("core", "cosine", "nis", "inetorgperson")
    )
    indexes = "\n".join(f"olcDbIndex: {attr} eq" for attr in INDEXES)
    text = f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {root}/slapd.pid
olcArgsFile: {root}/slapd.args
olcLogLevel: none
olcIndexHash64: {"TRUE" if hash64 else "FALSE"}
{tls.ldif() if tls else ""}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_DIR}
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: ppolicy
olcModuleLoad: sssvlv

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

{_gateway_schema_ldif()}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500
olcSortVals: member uniqueMember

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcRootDN: cn=admin,cn=config
olcRootPW: {admin_password}
{"olcAccess: " + CONFIG_READ if config_readable else ""}

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {root}/data
olcSuffix: {SUFFIX}
olcRootDN: {ADMIN_DN}
olcRootPW: {admin_password}
olcDbMaxSize: 1073741824
{indexes}
olcLimits: dn.exact="{SERVICE_DN}" size=unlimited size.prtotal=unlimited time=unlimited
olcAccess: to attrs=userPassword by dn.exact="{SERVICE_DN}" manage by self write by anonymous auth by * none
olcAccess: to * by dn.exact="{SERVICE_DN}" manage by self read by * none

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {{1}}refint
olcRefintAttribute: member
olcRefintAttribute: uniqueMember
olcRefintAttribute: manager
olcRefintAttribute: owner

dn: olcOverlay={{2}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{2}}ppolicy
olcPPolicyDefault: {POLICY_DN}
olcPPolicyHashCleartext: TRUE

dn: olcOverlay={{3}}sssvlv,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSssVlvConfig
olcOverlay: {{3}}sssvlv
olcSssVlvMax: 32
olcSssVlvMaxPerConn: 5
"""
    if not sorting:
        text = text.replace("olcModuleLoad: sssvlv\n", "")
        text = text[: text.index("dn: olcOverlay={3}sssvlv")].rstrip() + "\n"
    if not integrity:
        text = text.replace("olcModuleLoad: memberof\nolcModuleLoad: refint\n", "").replace(
            "olcDbIndex: memberOf eq\n", ""
        )
        start, end = text.index("dn: olcOverlay={0}memberof"), text.index("dn: olcOverlay={2}ppolicy")
        text = text[:start] + text[end:].replace("{2}ppolicy", "{0}ppolicy").replace("{3}sssvlv", "{1}sssvlv")
    return text


def _seed_ldif(service_password: str) -> str:
    return f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {PEOPLE_DN}
objectClass: organizationalUnit
ou: People

dn: {GROUPS_DN}
objectClass: organizationalUnit
ou: Groups

dn: ou=Policies,{SUFFIX}
objectClass: organizationalUnit
ou: Policies

dn: {POLICY_DN}
objectClass: pwdPolicy
objectClass: device
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 0

dn: {SERVICE_DN}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: gateway
description: the account scim-gateway binds as (not the rootDN)
userPassword: {service_password}
"""


@dataclass
class Slapd:
    """One throwaway slapd under `root`. Created on first start; kept across restarts."""

    root: Path
    port: int = 0
    integrity: bool = True  # memberof + refint overlays
    sorting: bool = True  # sssvlv overlay: server-side sorting and VLV
    tls: TlsFiles | None = None  # serve StartTLS on `url`, and ldaps:// on `ldaps_url`
    tls_port: int = 0
    hash64: bool = True  # olcIndexHash64 (False: OpenLDAP's default, slow member removals)
    config_readable: bool = False  # the service account may read what check compares (CONFIG_READ)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def admin_password(self) -> str:
        return (self.root / "admin.password").read_text().strip()

    @property
    def service_password_file(self) -> Path:
        return self.root / "gateway.password"

    @property
    def service_password(self) -> str:
        return self.service_password_file.read_text().strip()

    def create(self) -> None:
        """Build slapd.d and the database, unless a previous run left a complete one."""
        if (self.root / "ready").exists():
            return
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "slapd.d").mkdir(parents=True)
        (self.root / "data").mkdir()
        os.chmod(self.root, 0o700)
        admin_password = secrets.token_urlsafe(18)
        service_password = secrets.token_urlsafe(18)
        children.write_private(self.root / "admin.password", admin_password)
        children.write_private(self.service_password_file, service_password)
        self._slapadd(
            ["-n0"],
            _config_ldif(
                self.root, admin_password, self.integrity, self.tls, self.sorting, self.hash64, self.config_readable
            ),
        )
        self._slapadd(["-n1", "-q"], _seed_ldif(service_password))
        (self.root / "ready").touch()

    def load(self, ldif: str) -> None:
        """Bulk-load entries offline (slapadd -q: thousands per second); slapd must be stopped."""
        if self.process is not None:
            raise SlapdError("stop slapd before loading entries offline")
        self.create()
        self._slapadd(["-n1", "-q"], ldif)

    def wipe(self) -> None:
        """Forget everything: the next start builds an empty directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _slapadd(self, args: list[str], ldif: str) -> None:
        command = ["slapadd", "-F", str(self.root / "slapd.d"), *args]
        done = subprocess.run(command, input=ldif, text=True, capture_output=True)
        if done.returncode != 0:
            raise SlapdError(f"{' '.join(command)} failed: {done.stderr.strip()}")

    def start(self, timeout: float = 10.0) -> None:
        self.create()
        if not self.port:
            self.port = children.free_port()
        listeners = self.url
        if self.tls is not None:
            self.tls_port = self.tls_port or children.free_port()
            listeners += f" {self.ldaps_url}"
        command = ["slapd", "-d", "0", "-F", str(self.root / "slapd.d"), "-h", listeners]
        self.process = children.spawn(command, self.root / "slapd.log")
        what = f"slapd (its log: {self.root / 'slapd.log'})"
        children.wait_listening(self.process, self.port, timeout, what, SlapdError)

    def stop(self) -> None:
        children.stop(self.process)
        self.process = None

    def __enter__(self) -> Slapd:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
