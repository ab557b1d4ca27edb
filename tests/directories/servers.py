"""Throwaway 389 Directory Server and Samba AD DC instances for the tests, with the suffix
layout of our slapd: dc=example,dc=com, ou=People, ou=Groups,
and a service account that is not the directory's root, holding the rights the README lists.
389 DS keeps the suffix in a backend not named `userroot` (dscreate's default), beside a second
suffix in one that is, as on a site with several: what the gateway says must name the right one.

Both run from the Debian packages `deploy/install-deps.sh --test` installs, as our children in
the foreground, in a folder of their own; nothing is left behind. 389 DS needs a folder its
`dirsrv` user can reach (not pytest's 0700 tmp) and drops to that user itself. Samba's LDAP
ports are fixed (389/636), so each instance takes a loopback address of its own.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ldap3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.sandbox import children

SUFFIX = "dc=example,dc=com"
PEOPLE_DN = f"ou=People,{SUFFIX}"
GROUPS_DN = f"ou=Groups,{SUFFIX}"


class ServerError(RuntimeError):
    """A directory could not be set up or started; the message names the step and its log."""


def _run(command: list[str], what: str, **options) -> None:
    done = subprocess.run(command, capture_output=True, text=True, **options)
    if done.returncode != 0:
        raise ServerError(f"{what} failed ({' '.join(command[:3])} ...): {(done.stderr or done.stdout).strip()[-800:]}")


def _private_folder(prefix: str, owner: str | None = None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if owner:
        shutil.chown(folder, owner, owner)
    return folder


# --- 389 Directory Server ---------------------------------------------------------------------

# What the gateway's account needs on 389 DS (README "389 Directory Server"): every right on
# the two OUs, the operational attributes it reads, and no look-through or paging limit.
DS389_ACI = (
    '(targetattr="*||nsUniqueId||entrydn||createTimestamp||modifyTimestamp||nsAccountLock")'
    '(version 3.0; acl "scim-gateway"; allow (all) userdn="ldap:///cn=gateway,dc=example,dc=com";)'
)


# The equality indexes README.md tells a 389 DS admin to add: Entra looks users up by them.
DS389_ADDED_INDEXES = ("employeeType", "manager", "businessCategory")


@dataclass
class Ds389:
    root: Path = field(default_factory=lambda: _private_folder("scim-389-", "dirsrv"))
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    service_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    service_dn: str = f"cn=gateway,{SUFFIX}"
    # A second account with 389's default-sized limits shrunk to a few entries: what the
    # gateway says when its account meets nsLookThroughLimit.
    limited_dn: str = f"cn=limited,{SUFFIX}"
    backend: str = "example"  # holds SUFFIX
    other_suffix: str = "dc=other,dc=com"  # in a backend named userroot, which holds nothing of ours

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def service_password_file(self) -> Path:
        return self.root / "gateway.password"

    @property
    def backend_dn(self) -> str:
        return f"cn={self.backend},cn=ldbm database,cn=plugins,cn=config"

    def start(self) -> None:
        self.port = children.free_port()
        bin_dir = self.root / "bin"
        bin_dir.mkdir()
        shutil.chown(bin_dir, "dirsrv", "dirsrv")
        as_dirsrv = ["runuser", "-u", "dirsrv", "--", "env", f"PATH={bin_dir}:{os.environ.get('PATH', '')}"]
        _run([*as_dirsrv, "dscreate", "ds-root", str(self.root / "prefix"), str(bin_dir)], "dscreate ds-root")
        inf = self.root / "instance.inf"
        inf.write_text(
            "[general]\nsystemd = False\nstart = False\nfull_machine_name = localhost\n"
            f"[slapd]\ninstance_name = test\nport = {self.port}\nsecure_port = {children.free_port()}\n"
            f"root_password = {self.admin_password}\nself_sign_cert = False\n"
            f"[backend-{self.backend}]\nsuffix = {SUFFIX}\ncreate_suffix_entry = True\nsample_entries = no\n"
            f"[backend-userroot]\nsuffix = {self.other_suffix}\ncreate_suffix_entry = True\nsample_entries = no\n"
        )
        shutil.chown(inf, "dirsrv", "dirsrv")
        os.chmod(inf, 0o600)
        _run([*as_dirsrv, str(bin_dir / "dscreate"), "from-file", str(inf)], "dscreate from-file")
        config = self.root / "prefix" / "etc" / "dirsrv" / "slapd-test"
        # ns-slapd drops from root to its nsslapd-localuser (dirsrv) itself; -d 0 keeps it ours.
        command = ["/usr/sbin/ns-slapd", "-D", str(config), "-i", str(self.root / "ns-slapd.pid"), "-d", "0"]
        self.process = children.spawn(command, self.root / "ns-slapd.log")
        children.wait_listening(self.process, self.port, 30, f"ns-slapd (log: {self.root})", ServerError)
        children.write_private(self.service_password_file, self.service_password)
        self._seed()

    def admin(self) -> ldap3.Connection:
        server = ldap3.Server("127.0.0.1", port=self.port, get_info=ldap3.NONE)
        return ldap3.Connection(server, "cn=Directory Manager", self.admin_password, auto_bind=True)

    def _seed(self) -> None:
        connection = self.admin()
        for dn, classes, attributes in (
            (PEOPLE_DN, ["organizationalUnit"], {"ou": "People", "aci": DS389_ACI}),
            (GROUPS_DN, ["organizationalUnit"], {"ou": "Groups", "aci": DS389_ACI}),
            (
                self.service_dn,
                ["applicationProcess", "simpleSecurityObject"],
                {
                    "userPassword": self.service_password,
                    "nsLookThroughLimit": "-1",
                    "nsSizeLimit": "-1",
                    "nsPagedSizeLimit": "-1",
                    "nsPagedLookThroughLimit": "-1",
                },
            ),
            (
                self.limited_dn,
                ["applicationProcess", "simpleSecurityObject"],
                {"userPassword": self.service_password, "nsLookThroughLimit": "3", "nsPagedLookThroughLimit": "3"},
            ),
        ):
            if not connection.add(dn, classes, attributes):
                raise ServerError(f"389 DS refused the seed entry {dn}: {connection.result}")
        for attribute in DS389_ADDED_INDEXES:
            connection.add(
                f"cn={attribute},cn=index,{self.backend_dn}",
                ["top", "nsIndex"],
                {"cn": attribute, "nsSystemIndex": "false", "nsIndexType": "eq"},
            )
        aci = DS389_ACI.replace("cn=gateway", "cn=limited").replace('acl "scim-gateway"', 'acl "limited"')
        connection.modify(PEOPLE_DN, {"aci": [(ldap3.MODIFY_ADD, [aci])]})
        connection.unbind()

    def indexes(self) -> set[str]:
        """The attributes the suffix's backend indexes for equality (lower case)."""
        connection = self.admin()
        connection.search(f"cn=index,{self.backend_dn}", "(nsIndexType=eq)", ldap3.LEVEL, attributes=["cn"])
        found = {str(r["attributes"]["cn"][0]).lower() for r in connection.response}
        connection.unbind()
        return found

    def stop(self) -> None:
        children.stop(self.process, timeout=15)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


# --- Samba AD DC --------------------------------------------------------------------------------


def _free_loopback_address() -> str:
    """A 127.0.0.N where nothing listens on LDAP's fixed ports."""
    start = 2 + os.getpid() % 200
    for offset in range(200):
        address = f"127.0.0.{2 + (start + offset) % 250}"
        try:
            for port in (389, 636):
                with socket.socket() as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind((address, port))
        except OSError:
            continue
        return address
    raise ServerError("no loopback address 127.0.0.2-251 has ports 389 and 636 free")


def _tls_files(folder: Path, host_name: str, address: str) -> None:
    """ca.pem, dc.pem and dc.key: a CA made here and the DC's certificate for its name and address."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scim-gateway test CA")])

    def build(subject, public_key, ca: bool, names):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    ca = build(ca_name, ca_key.public_key(), True, None)
    names = [x509.DNSName(host_name), x509.IPAddress(ipaddress.ip_address(address))]
    server = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)]), key.public_key(), False, names)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "dc.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    children.write_private(
        folder / "dc.key",
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


@dataclass
class SambaDc:
    root: Path = field(default_factory=lambda: _private_folder("scim-samba-"))
    address: str = ""
    host_name: str = "dc1.example.com"
    process: subprocess.Popen | None = field(default=None, repr=False)
    admin_password: str = field(default_factory=lambda: "Adm-" + secrets.token_urlsafe(15) + "9!")
    service_password: str = field(default_factory=lambda: "Gw-" + secrets.token_urlsafe(15) + "9!")
    service_dn: str = f"CN=gateway,CN=Users,{SUFFIX}"

    @property
    def url(self) -> str:
        return f"ldaps://{self.address}"

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    @property
    def service_password_file(self) -> Path:
        return self.root / "gateway.password"

    @property
    def backend_dn(self) -> str:
        return f"cn={self.backend},cn=ldbm database,cn=plugins,cn=config"

    def start(self) -> None:
        self.address = _free_loopback_address()
        _tls_files(self.root, self.host_name, self.address)
        for name in ("run", "ncalrpc", "winbindd", "ntp"):
            (self.root / name).mkdir()
        options = {
            "interfaces": f"{self.address}/8",
            "bind interfaces only": "yes",
            "server services": "ldap",
            "pid directory": self.root / "run",
            "ncalrpc dir": self.root / "ncalrpc",
            "winbindd socket directory": self.root / "winbindd",
            "ntp signd socket directory": self.root / "ntp",
            "log file": self.root / "samba.log",
            "tls keyfile": self.root / "dc.key",
            "tls certfile": self.root / "dc.pem",
            "tls cafile": self.root / "ca.pem",
        }
        _run(
            [
                "samba-tool",
                "domain",
                "provision",
                f"--targetdir={self.root / 'dc'}",
                "--realm=EXAMPLE.COM",
                "--domain=EXAMPLE",
                "--server-role=dc",
                "--dns-backend=NONE",
                "--use-rfc2307",
                f"--adminpass={self.admin_password}",
                "--host-name=dc1",
                f"--host-ip={self.address}",
                *(f"--option={name} = {value}" for name, value in options.items()),
            ],
            "samba-tool domain provision",
        )
        self._seed()
        children.write_private(self.service_password_file, self.service_password)
        command = ["samba", "-s", str(self.conf), "-F", "--debug-stdout", "-M", "single"]
        self.process = children.spawn(command, self.root / "samba.out", stdin=subprocess.DEVNULL)
        _wait_listening_on(self.process, self.address, 636, 30, f"samba (log: {self.root})")

    @property
    def conf(self) -> Path:
        return self.root / "dc" / "etc" / "smb.conf"

    def _seed(self) -> None:
        """OU=People, OU=Groups and the gateway's account, delegated full control of both OUs, and
        the indexes the map claims (README "Active Directory"), written offline into the new
        domain's database."""
        local = ["-H", f"tdb://{self.root / 'dc' / 'private' / 'sam.ldb'}", "-s", str(self.conf)]
        _run(["samba-tool", "ou", "add", "OU=People", *local], "samba-tool ou add People")
        _run(["samba-tool", "ou", "add", "OU=Groups", *local], "samba-tool ou add Groups")
        _run(["samba-tool", "user", "create", "gateway", self.service_password, *local], "samba-tool user create")
        _run(["samba-tool", "user", "setexpiry", "gateway", "--noexpiry", *local], "samba-tool user setexpiry")
        shown = subprocess.run(
            ["samba-tool", "user", "show", "gateway", "--attributes=objectSid", *local], capture_output=True, text=True
        )
        sid = next(line.split()[1] for line in shown.stdout.splitlines() if line.startswith("objectSid:"))
        for ou in (PEOPLE_DN, GROUPS_DN):
            _run(
                ["samba-tool", "dsacl", "set", f"--objectdn={ou}", f"--sddl=(A;CI;GA;;;{sid})", *local],
                f"samba-tool dsacl set on {ou}",
            )
        # The equality indexes the map claims and AD lacks (README "Active Directory"): searchFlags
        # bit 1 (fATTINDEX) on the attributeSchema, keeping Employee-Type's fCOPY.
        for attribute, flags in (("Employee-Type", "fATTINDEX,fCOPY"), ("Admin-Description", "fATTINDEX")):
            _run(
                [
                    "samba-tool",
                    "schema",
                    "attribute",
                    "modify",
                    attribute,
                    f"--searchflags={flags}",
                    "--option=dsdb:schema update allowed=true",
                    *local,
                ],
                f"samba-tool schema attribute modify {attribute}",
            )

    def admin(self) -> ldap3.Connection:
        tls = ldap3.Tls(validate=0)
        server = ldap3.Server(self.address, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
        return ldap3.Connection(server, "Administrator@example.com", self.admin_password, auto_bind=True)

    def stop(self) -> None:
        children.stop(self.process, timeout=15)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_listening_on(process: subprocess.Popen, address: str, port: int, timeout: float, what: str) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection((address, port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    children.stop(process)
    raise ServerError(f"{what} did not listen on {address}:{port} within {timeout}s")
