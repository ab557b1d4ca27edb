"""Entra's cycle (test_cycle.walk) served in this process: the gateway's WSGI app called
directly, with no HTTP and no gunicorn, on a throwaway slapd. The app is built as
`scim-gateway serve` builds it in a worker: logs configured (text, info), an audit trail in a
file, the metrics in their multiprocess files (the caller sets PROMETHEUS_MULTIPROC_DIR before
this starts). So what runs per request is the gateway's own code and its LDAP client, and
test_instructions.py can count its instructions, a figure the machine's load does not move.

With `bound` as a third argument, the users are walked through the cycle benchmark's bound
instead (floor_app.py with FLOOR_LDAP: Flask answering the gateway's own answers and making the
ceiling's one directory operation per request, with the gateway's LDAP client): what a request
costs with no gateway logic at all, counted the same way.

    PROMETHEUS_MULTIPROC_DIR=DIR python -m tests.perf.inprocess FOLDER USERS [bound]
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

from gateway.backends.ldap.settings import DEFAULT_CLIENT
from gateway.credentials import CredentialFile
from gateway.observability import logs
from gateway.web.app import create_app
from tests.conftest import OPENLDAP_MAP, PATCH_OP, write_settings
from tests.perf import floor_app
from tests.perf.test_cycle import GROUPS, walk
from tests.sandbox.slapd import PEOPLE_DN, SERVICE_DN, Slapd

WARM = 5  # users walked before the counted ones: every code path run, every cache filled once


class WsgiClient:
    """harness.Http's interface, calling the app in this process."""

    def __init__(self, app, token: str, base: str = "/scim/v2"):
        self.app = app
        self.token = token
        self.base = base
        self.last: tuple[int, bytes, dict] = (0, b"", {})

    def send(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        data = b"" if body is None else json.dumps(body).encode()
        path, _, query = (self.base + path).partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8080",
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            "CONTENT_TYPE": "application/scim+json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        started: list = []
        raw = b"".join(self.app(environ, lambda status, headers, exc_info=None: started.append((status, headers))))
        status, headers = int(started[0][0].split()[0]), dict(started[0][1])
        location = headers.get("Location")
        self.last = (status, raw, {"Location": location} if location else {})
        return status, (json.loads(raw) if raw else None)

    def patch(self, path: str, operations: list[dict]) -> tuple[int, dict | None]:
        return self.send("PATCH", path, {"schemas": [PATCH_OP], "Operations": operations})


def main(folder: Path, users: int, bound: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    slapd = Slapd(folder / "slapd")
    slapd.start()
    try:
        top = f"audit_log: {folder / 'audit.log'}\n"
        # A rate limit as every tenant has one by default (50/second), set where it is never reached.
        rate = "    limits: {rate: 1000000/second}\n"
        settings = write_settings(folder, slapd, OPENLDAP_MAP, tenant_yaml=rate, top_yaml=top)
        client = WsgiClient(None, CredentialFile(folder / "tokens.yaml").add("perf"))
        logs.configure("text", "info")
        client.app = create_app(settings)
        groups = []
        for number in range(GROUPS):
            status, body = client.send("POST", "/Groups", {"displayName": f"group{number}", "members": []})
            assert status == 201, body
            groups.append(body["id"])
        answers: dict = {}
        walk(client, "warm", list(range(WARM)), groups, answers)
        if bound:
            client = WsgiClient(_bound_app(folder, slapd, answers), "")
            walk(client, "bound-warm", list(range(WARM)), groups)
        walk(client, "user", list(range(users)), groups)
    finally:
        slapd.stop()


def _bound_app(folder: Path, slapd: Slapd, answers: dict):
    """floor_app.py's bound, answering with the gateway's answers, as test_cycle.py serves it."""
    bodies = folder / "bodies.json"
    bodies.write_text(json.dumps({kind: [s, b.decode(), h] for kind, (s, b, h) in answers.items()}))
    os.environ["FLOOR_BODIES"] = str(bodies)
    os.environ["FLOOR_LDAP"] = json.dumps(
        {
            "url": slapd.url,
            "bind_dn": SERVICE_DN,
            "password": slapd.service_password,
            "people": PEOPLE_DN,
            "client": DEFAULT_CLIENT,
        }
    )
    return floor_app.create_app()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:] == ["bound"])
