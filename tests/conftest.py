"""Fixtures: one real slapd and one reference HR API per test session, emptied per test, gateway clients."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest
import requests
import yaml

from gateway.backends.ldap.measured import Measured
from gateway.credentials import CredentialFile
from gateway.observability import logs
from gateway.web.app import create_app
from tests.sandbox.hr_api import HrApi
from tests.sandbox.slapd import ADMIN_DN, GROUPS_DN, PEOPLE_DN, SERVICE_DN, Slapd

REPO = Path(__file__).resolve().parents[1]
OPENLDAP_MAP = REPO / "mappings" / "openldap.yaml"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    server = Slapd(tmp_path_factory.mktemp("slapd") / "db")
    server.start()
    yield server
    server.stop()


class Directory:
    """A root connection to look at the directory behind the gateway's back."""

    def __init__(self, slapd: Slapd):
        server = ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE)
        self.connection = ldap3.Connection(server, ADMIN_DN, slapd.admin_password, auto_bind=True)

    def entry(self, uid: str, base: str = PEOPLE_DN, attribute: str = "uid") -> dict | None:
        """All attributes (user and operational) of the one entry with this uid, or None."""
        self.connection.search(
            base, f"({attribute}={ldap3.utils.conv.escape_filter_chars(uid)})", attributes=["*", "+"]
        )
        if not self.connection.response:
            return None
        assert len(self.connection.response) == 1, f"{len(self.connection.response)} entries with {attribute}={uid}"
        found = self.connection.response[0]
        attributes = {k.lower(): (v if isinstance(v, list) else [v]) for k, v in found["raw_attributes"].items()}
        decoded = {k: [x.decode() for x in v] for k, v in attributes.items()}
        decoded["dn"] = [found["dn"]]
        return decoded

    def dns(self, base: str = PEOPLE_DN) -> list[str]:
        self.connection.search(base, "(objectClass=*)", ldap3.LEVEL, attributes=["1.1"])
        return [r["dn"] for r in self.connection.response]

    def add(self, dn: str, object_classes: list[str], attributes: dict) -> None:
        assert self.connection.add(dn, object_classes, attributes), self.connection.result

    def clear(self) -> None:
        """Everything below People and Groups, deepest first (maps may place users in OUs)."""
        for base in (PEOPLE_DN, GROUPS_DN):
            self.connection.search(base, "(objectClass=*)", ldap3.SUBTREE, attributes=["1.1"])
            below = [r["dn"] for r in self.connection.response if r["dn"].lower() != base.lower()]
            for dn in sorted(below, key=lambda dn: dn.count(","), reverse=True):
                self.connection.delete(dn)


@pytest.fixture(scope="session")
def _directory(slapd):
    directory = Directory(slapd)
    yield directory
    directory.connection.unbind()


@pytest.fixture
def directory(_directory) -> Directory:
    """The directory, emptied of people and groups before the test."""
    _directory.clear()
    return _directory


@dataclass
class Client:
    """A Flask test client that sends Entra's headers and speaks JSON."""

    flask_client: object
    token: str
    base: str = "/scim/v2"
    app: object = None

    def request(self, method: str, path: str, body=None, token: str | None = None, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if data is not None:
            headers["Content-Type"] = "application/scim+json"
        return self.flask_client.open(self.base + path, method=method, headers=headers, data=data)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, operations, **kw):
        return self.request("PATCH", path, {"schemas": [PATCH_OP], "Operations": operations}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_user(self, userName: str, **attributes) -> dict:
        response = self.post("/Users", {"userName": userName, "active": True, **attributes})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def write_settings(
    folder: Path,
    slapd: Slapd,
    mapping: Path,
    timeout: float = 5.0,
    url: str | None = None,
    tenant_yaml: str = "",
    top_yaml: str = "",
) -> Path:
    """A one-tenant settings file; `tenant_yaml` adds keys to the tenant (indented by 4), `top_yaml`
    top-level keys (log_format, audit_log, ...)."""
    settings = folder / "settings.yaml"
    settings.write_text(
        f"{top_yaml}"
        "tenants:\n"
        "  - name: test\n"
        "    base_path: /scim/v2\n"
        f"    mapping: {mapping}\n"
        "    tokens_file: tokens.yaml\n"
        "    ldap:\n"
        f"      url: {url or slapd.url}\n"
        f"      bind_dn: {SERVICE_DN}\n"
        f"      password_file: {slapd.service_password_file}\n"
        f"      timeout: {timeout}\n"
        "      retry_after: 17\n"
        f"{tenant_yaml}"
    )
    return settings


class _Gateways:
    """Gateways built for one test, each in a folder of its own, closed when the test ends."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.apps: list = []

    def build(self, mapping: Path | str, write_settings_file) -> Client:
        """`mapping`: a path, or YAML text written to a file; `write_settings_file(folder, mapping)`."""
        if isinstance(mapping, str):
            path = self.tmp_path / f"map{len(self.apps)}.yaml"
            path.write_text(mapping)
            mapping = path
        folder = self.tmp_path / f"gateway{len(self.apps)}"
        folder.mkdir()
        settings = write_settings_file(folder, mapping)
        token = CredentialFile(folder / "tokens.yaml").add("entra")
        app = create_app(settings)
        self.apps.append(app)
        return Client(app.test_client(), token, app=app)

    def close(self) -> None:
        for app in self.apps:
            app.extensions["scim_gateway"].close()


@pytest.fixture
def make_client(request, slapd, directory, tmp_path):
    """Build a gateway client for a map (a path, or YAML text written to a file), in front of
    the backend the map is for: the test slapd (emptied), or the reference HR API (emptied when
    first asked for). `server` is another slapd or HR API; the options go to the settings."""
    gateways = _Gateways(tmp_path)

    def build(mapping: Path | str = OPENLDAP_MAP, server: Slapd | HrApi | None = None, **options) -> Client:
        if _backend_of(mapping) == "rest":
            request.getfixturevalue("employees")
            hr_api = server or request.getfixturevalue("hr_api")
            return gateways.build(mapping, lambda folder, path: write_rest_settings(folder, hr_api, path, **options))
        return gateways.build(mapping, lambda folder, path: write_settings(folder, server or slapd, path, **options))

    yield build
    gateways.close()


def _backend_of(mapping: Path | str) -> str:
    """The backend a map (a path, or YAML text) is written for."""
    document = yaml.safe_load(mapping.read_text() if isinstance(mapping, Path) else mapping)
    return document.get("backend", "ldap") if isinstance(document, dict) else "ldap"


@pytest.fixture
def client(make_client) -> Client:
    """The gateway on the shipped OpenLDAP map."""
    return make_client()


def watch_ldap(monkeypatch, seen) -> None:
    """Call `seen(operation, args, kwargs)` for every LDAP operation the gateway sends, on either
    client (ldap3 or python-ldap): both go through measured.py's one measuring point."""
    original = Measured._measured

    def watched(self, operation, call, args, kwargs):
        seen(operation, args, kwargs)
        return original(self, operation, call, args, kwargs)

    monkeypatch.setattr(Measured, "_measured", watched)


@pytest.fixture
def ldap_ops(monkeypatch):
    """Counts LDAP operations the gateway sends (binds separately), by name."""
    counts: dict[str, int] = {}

    def counting(operation, args, kwargs):
        counts[operation] = counts.get(operation, 0) + 1

    watch_ldap(monkeypatch, counting)

    class Ops:
        def reset(self):
            counts.clear()

        @property
        def total(self) -> int:
            return sum(v for k, v in counts.items() if k != "bind")

        def __getitem__(self, name):
            return counts.get(name, 0)

        def __repr__(self):
            return repr(counts)

    return Ops()


# --- the reference legacy HR API (tests/hr_api/server.py) -------------------------------------

HR_MAP = REPO / "mappings" / "hr-rest-example.yaml"


@pytest.fixture(scope="session")
def hr_api(tmp_path_factory):
    """The reference HR API as a real process; its rate limit lifted (tests/hr_api tests it apart)."""
    server = HrApi(tmp_path_factory.mktemp("hr-api") / "api", rate=100000, burst=100000)
    server.start()
    yield server
    server.stop()


class Employees:
    """The HR API seen directly, with its API key, to look behind the gateway's back."""

    def __init__(self, hr_api: HrApi):
        self.url = hr_api.url
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = hr_api.api_key

    def all(self) -> list[dict]:
        found: list[dict] = []
        while True:
            page = self.session.get(
                f"{self.url}/employees", params={"offset": len(found), "limit": 50, "include_terminated": "true"}
            ).json()
            found.extend(page["items"])
            if len(found) >= page["total"]:
                return found

    def by_login(self, login: str) -> dict | None:
        found = [e for e in self.all() if e["login"].lower() == login.lower()]
        assert len(found) <= 1, found
        return found[0] if found else None

    def add(self, **fields) -> dict:
        response = self.session.post(f"{self.url}/employees", json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    def clear(self) -> None:
        for employee in self.all():
            self.session.delete(f"{self.url}/employees/{employee['emp_id']}")


@pytest.fixture(scope="session")
def _employees(hr_api):
    employees = Employees(hr_api)
    yield employees
    employees.session.close()


@pytest.fixture
def employees(_employees) -> Employees:
    """The HR API, emptied of employees before the test."""
    _employees.clear()
    return _employees


def write_rest_settings(folder: Path, hr_api: HrApi, mapping: Path, top_yaml: str = "", **rest_options) -> Path:
    options = {
        "base_url": hr_api.url,
        "auth": f"{{type: api_key, header: X-Api-Key, key_file: {hr_api.key_file}}}",
        "timeout": 2,
        "retry_budget": 3,
        "retry_after": 17,
        **rest_options,
    }
    settings = folder / "settings.yaml"
    settings.write_text(
        f"{top_yaml}"
        "tenants:\n"
        "  - name: test\n"
        "    base_path: /scim/v2\n"
        f"    mapping: {mapping}\n"
        "    tokens_file: tokens.yaml\n"
        "    rest:\n" + "".join(f"      {name}: {value}\n" for name, value in options.items())
    )
    return settings


@pytest.fixture
def rest_client(make_client) -> Client:
    """The gateway on the shipped HR REST example map, in front of the reference HR API."""
    return make_client(HR_MAP)


# --- the gateway's own log handler (gateway/observability/logs.py) ------------------------------


class GatewayLog:
    def __init__(self, capsys):
        self.capsys = capsys
        self.seen = ""
        self.stdout = ""  # what went to standard output meanwhile: the audit trail, by default

    def text(self) -> str:
        captured = self.capsys.readouterr()
        self.seen += captured.err
        self.stdout += captured.out
        return self.seen

    def lines(self) -> list[str]:
        return [line for line in self.text().splitlines() if line.strip()]

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def request_lines(self) -> list[str]:
        return [line for line in self.lines() if " gateway.web: " in line]


@pytest.fixture
def gateway_log(capsys):
    """`configure(format, level)` the gateway's logging for this test; the root logger is
    restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    log = GatewayLog(capsys)

    def configure(log_format: str = "text", level_name: str = "info") -> GatewayLog:
        logs.configure(log_format, level_name)
        capsys.readouterr()
        return log

    yield configure
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def settled(read, expected, attempts=100):
    """slapd's refint overlay rewrites references in a background thread: wait until it has."""
    for _ in range(attempts):
        if read() == expected:
            return True
        time.sleep(0.02)
    return False
