"""One gateway per directory the project supports, each on its shipped map: OpenLDAP (the
session's slapd), 389 DS and Samba AD (started once per session, on first use)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest

from tests.conftest import REPO, _Gateways
from tests.directories.servers import GROUPS_DN, PEOPLE_DN, Ds389, SambaDc

MAPS = {
    "openldap": REPO / "mappings" / "openldap.yaml",
    "389ds": REPO / "mappings" / "389ds.yaml",
    "active-directory": REPO / "mappings" / "active-directory.yaml",
}
DIRECTORIES = list(MAPS)


def _need_root(what: str) -> None:
    if os.geteuid() != 0:  # CI runs as root; a developer's account cannot start these
        pytest.skip(f"{what} needs root (runuser to dirsrv, LDAP's fixed ports on a loopback address)")


@pytest.fixture(scope="session")
def ds389():
    _need_root("389 DS")
    server = Ds389()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def samba_dc():
    _need_root("Samba AD")
    server = SambaDc()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class Server:
    """What a gateway needs to reach one directory, and a root connection behind its back."""

    name: str
    url: str
    bind_dn: str
    password_file: Path
    admin: ldap3.Connection
    options: str = ""  # more lines for the tenant's ldap section

    def clear(self) -> None:
        """Everything below People and Groups, deepest first."""
        for base in (PEOPLE_DN, GROUPS_DN):
            self.admin.search(base, "(objectClass=*)", ldap3.SUBTREE, attributes=["1.1"])
            below = [
                r["dn"]
                for r in self.admin.response
                if r.get("type") == "searchResEntry" and r["dn"].lower() != base.lower()
            ]
            for dn in sorted(below, key=lambda dn: dn.count(","), reverse=True):
                self.admin.delete(dn)

    def entry(self, attribute: str, value: str, base: str = PEOPLE_DN) -> dict | None:
        self.admin.search(base, f"({attribute}={ldap3.utils.conv.escape_filter_chars(value)})", attributes=["*", "+"])
        found = [r for r in self.admin.response if r.get("type") == "searchResEntry"]
        if not found:
            return None
        return {k.lower(): v if isinstance(v, list) else [v] for k, v in found[0]["attributes"].items()} | {
            "dn": [found[0]["dn"]]
        }


@pytest.fixture(params=DIRECTORIES)
def server(request) -> Server:
    """Each directory in turn, emptied of people and groups."""
    if request.param == "openldap":
        slapd = request.getfixturevalue("slapd")
        admin = ldap3.Connection(
            ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE),
            "cn=admin,dc=example,dc=com",
            slapd.admin_password,
            auto_bind=True,
        )
        found = Server("openldap", slapd.url, "cn=gateway,dc=example,dc=com", slapd.service_password_file, admin)
    elif request.param == "389ds":
        ds = request.getfixturevalue("ds389")
        found = Server("389ds", ds.url, ds.service_dn, ds.service_password_file, ds.admin())
    else:
        dc = request.getfixturevalue("samba_dc")
        found = Server(
            "active-directory",
            dc.url,
            dc.service_dn,
            dc.service_password_file,
            dc.admin(),
            f"      ca_file: {dc.ca_file}\n",  # its certificate names the address too
        )
    found.clear()
    yield found
    found.admin.unbind()


def write_settings(folder: Path, server: Server, mapping: Path, bind_dn: str | None = None) -> Path:
    settings = folder / "settings.yaml"
    settings.write_text(
        "tenants:\n"
        "  - name: test\n"
        "    base_path: /scim/v2\n"
        f"    mapping: {mapping}\n"
        "    tokens_file: tokens.yaml\n"
        "    ldap:\n"
        f"      url: {server.url}\n"
        f"      bind_dn: {bind_dn or server.bind_dn}\n"
        f"      password_file: {server.password_file}\n"
        "      timeout: 10\n" + server.options
    )
    return settings


@pytest.fixture
def make_directory_client_for(tmp_path):
    """A gateway client on a Server, with its shipped map unless another is given."""
    folder = tmp_path / "directory-gateways"
    folder.mkdir()
    gateways = _Gateways(folder)

    def build(server: Server, mapping: Path | str | None = None, bind_dn: str | None = None):
        return gateways.build(
            mapping or MAPS[server.name], lambda folder, path: write_settings(folder, server, path, bind_dn)
        )

    yield build
    gateways.close()


@pytest.fixture
def make_directory_client(server, make_directory_client_for):
    """A gateway client on the directory of this run of the test."""
    return lambda mapping=None: make_directory_client_for(server, mapping)


@pytest.fixture
def directory_client(make_directory_client):
    return make_directory_client()
