"""A small legacy HR REST API, the reference downstream for the REST backend's tests and the quick start.

It is deliberately not SCIM-shaped, with the quirks real HR systems have:
- numeric ids (`emp_id`), and a 400 for an id that is not a number;
- its own field names, some nested: `login`, `ext_ref`, `names.first`, `contact.email`, `office.city`;
- `null` for every empty field;
- offset paging (`offset`, `limit`), with `limit` silently cut to 50, in an envelope
  `{"total", "offset", "limit", "items"}`; terminated employees are listed only with
  `include_terminated=true`;
- exact-match search parameters (`login` and `email` ignore case), and a 400 for any unknown one;
- an API key in `X-Api-Key`;
- `status` ("A" active, "T" terminated) is read-only: POST /employees/{id}/terminate and /reinstate;
- PUT replaces every writable field (a missing one is cleared); PATCH changes only the fields it
  names (nested objects merged, null clears); unknown fields are a 422;
- optimistic concurrency: every answer with one employee carries its `ETag`, and a write with an
  `If-Match` that is no longer current is refused with 412 (`--no-etags` serves an API without
  them, where the last writer wins);
- errors as `{"error": {"code", "message"}}`; a taken login is a 409;
- a rate limit (a token bucket): beyond it, 429 with `Retry-After`.

Standard library only, so it runs as `python tests/hr_api/server.py --port 8081 --key-file key`.
Data lives in a JSON file (`--data`), rewritten after every change.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api/v1"
MAX_LIMIT = 50
NESTED = {
    "names": ("first", "last", "full", "display"),
    "contact": ("email", "phone", "mobile", "fax"),
    "office": ("name", "street", "city", "state", "zip", "country"),
}
FLAT = ("login", "ext_ref", "job_title", "department", "employee_no", "language", "manager_id")
READ_ONLY = ("emp_id", "created_at", "updated_at")
SEARCH = {
    "login": ("login",),
    "ext_ref": ("ext_ref",),
    "email": ("contact", "email"),
    "display_name": ("names", "display"),
}
CASE_INSENSITIVE = {"login", "email"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class RateLimit:
    """A token bucket: `rate` requests per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                wait = max(1, math.ceil((1 - self.tokens) / self.rate))
                raise ApiError(429, "rate_limited", "too many requests", {"Retry-After": str(wait)})
            self.tokens -= 1


class Store:
    """Employees by id, kept in memory and written to a JSON file after every change."""

    def __init__(self, path: Path | None):
        self.path = path
        self.lock = threading.RLock()
        self.employees: dict[int, dict] = {}
        self.next_id = 1001
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            self.employees = {int(k): v for k, v in saved["employees"].items()}
            self.next_id = saved["next_id"]

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"next_id": self.next_id, "employees": self.employees}, indent=1))
        os.replace(temporary, self.path)

    def get(self, emp_id: int) -> dict:
        if emp_id not in self.employees:
            raise ApiError(404, "not_found", f"employee {emp_id} does not exist")
        return self.employees[emp_id]

    def check_login(self, login: str, other_than: int | None) -> None:
        for emp_id, employee in self.employees.items():
            if employee["login"].lower() == login.lower() and emp_id != other_than:
                raise ApiError(409, "duplicate", f"login {login} is already used by employee {emp_id}")

    def check_manager(self, manager_id, emp_id: int | None) -> None:
        if manager_id is None:
            return
        if manager_id == emp_id:
            raise ApiError(422, "validation", "an employee cannot be their own manager")
        if manager_id not in self.employees:
            raise ApiError(422, "validation", f"manager_id {manager_id} is not an employee")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def etag(employee: dict) -> str:
    """A strong validator from the employee's content: it changes with every write that changes anything."""
    digest = hashlib.sha256(json.dumps(employee, sort_keys=True).encode()).hexdigest()[:20]
    return f'"{digest}"'


def _merged(employee: dict, body: object) -> dict:
    """A PATCH body over the employee's writable fields: named fields replaced, nested objects merged."""
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    merged = {name: employee[name] for name in FLAT}
    merged.update({group: dict(employee[group]) for group in NESTED})
    for name, value in body.items():
        if name in NESTED and isinstance(value, dict):
            merged[name].update(value)
        else:
            merged[name] = value
    return merged


def _validated(body: object) -> dict:
    """The writable fields of a request body, complete (missing ones null); 422 for anything wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    if "status" in body:
        raise ApiError(422, "validation", "status is read-only; use /terminate or /reinstate")
    unknown = set(body) - set(FLAT) - set(NESTED) - set(READ_ONLY)
    if unknown:
        raise ApiError(422, "validation", f"unknown field {sorted(unknown)[0]!r}")
    fields: dict = {}
    for name in FLAT:
        value = body.get(name)
        if name == "manager_id":
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ApiError(422, "validation", "manager_id must be an integer")
        elif value is not None and not isinstance(value, str):
            raise ApiError(422, "validation", f"{name} must be a string")
        fields[name] = value
    for group, names in NESTED.items():
        given = body.get(group) or {}
        if not isinstance(given, dict):
            raise ApiError(422, "validation", f"{group} must be an object")
        unknown = set(given) - set(names)
        if unknown:
            raise ApiError(422, "validation", f"unknown field {group}.{sorted(unknown)[0]}")
        for name in names:
            if given.get(name) is not None and not isinstance(given[name], str):
                raise ApiError(422, "validation", f"{group}.{name} must be a string")
        fields[group] = {name: given.get(name) for name in names}
    if not fields["login"] or not fields["login"].strip():
        raise ApiError(422, "validation", "login is required")
    if len(fields["login"]) > 256:
        raise ApiError(422, "validation", "login is longer than 256 characters")
    return fields


class Handler(BaseHTTPRequestHandler):
    server: HrServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in separate writes; don't hold the body back

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: the tests and the quick start read our answers, not our log

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _check_if_match(self, employee: dict) -> None:
        """412 when the client's If-Match names another version than the current one."""
        wanted = self.headers.get("If-Match")
        if not self.server.etags or wanted is None or wanted.strip() == "*":
            return
        if etag(employee) not in [tag.strip() for tag in wanted.split(",")]:
            raise ApiError(412, "precondition_failed", "the employee changed since it was read (If-Match)")

    def _handle(self, method: str) -> None:
        try:
            body = self._read_body()
            self.server.rate_limit.take()
            key = self.headers.get("X-Api-Key", "")
            if not hmac.compare_digest(key.encode(), self.server.api_key.encode()):
                raise ApiError(401, "unauthorized", "a valid X-Api-Key header is required")
            status, answer = self._route(method, body)
            one = isinstance(answer, dict) and "emp_id" in answer
            self._send(status, answer, {"ETag": etag(answer)} if one and self.server.etags else None)
        except ApiError as error:
            self._send(error.status, {"error": {"code": error.code, "message": error.message}}, error.headers)

    def _read_body(self) -> object:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "bad_request", "the body is not valid JSON") from None

    def _send(self, status: int, answer: object, headers: dict[str, str] | None = None) -> None:
        payload = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self, method: str, body: object) -> tuple[int, object]:
        url = urlsplit(self.path)
        parts = url.path.removeprefix(PREFIX).strip("/").split("/")
        if not url.path.startswith(PREFIX + "/") or parts[0] != "employees" or len(parts) > 3:
            raise ApiError(404, "not_found", f"no such endpoint {url.path}")
        store = self.server.store
        with store.lock:
            if len(parts) == 1:
                if method == "GET":
                    return 200, self._list(parse_qs(url.query, keep_blank_values=True))
                if method == "POST":
                    return 201, self._create(body)
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on /employees")
            if not re.fullmatch(r"[0-9]{1,9}", parts[1]):
                raise ApiError(400, "bad_request", f"emp_id must be a number, not {parts[1]!r}")
            emp_id = int(parts[1])
            if len(parts) == 3:
                if method != "POST" or parts[2] not in ("terminate", "reinstate"):
                    raise ApiError(404, "not_found", f"no such endpoint {url.path}")
                self._check_if_match(store.get(emp_id))
                return 200, self._set_status(emp_id, "T" if parts[2] == "terminate" else "A")
            if method == "GET":
                return 200, store.get(emp_id)
            if method != "DELETE" or emp_id in store.employees:
                self._check_if_match(store.get(emp_id))
            if method == "PUT":
                return 200, self._replace(emp_id, body)
            if method == "PATCH":
                return 200, self._replace(emp_id, _merged(store.get(emp_id), body))
            if method == "DELETE":
                self._delete(emp_id)
                return 204, None
            raise ApiError(405, "method_not_allowed", f"{method} is not allowed on /employees/{emp_id}")

    def _list(self, query: dict[str, list[str]]) -> dict:
        known = {"offset", "limit", "include_terminated", *SEARCH}
        unknown = sorted(set(query) - known)
        if unknown:
            raise ApiError(400, "bad_request", f"unknown query parameter {unknown[0]!r}")
        args = {name: values[-1] for name, values in query.items()}
        try:
            offset = int(args.get("offset", "0"))
            limit = min(MAX_LIMIT, int(args.get("limit", "20")))  # quietly cut, as legacy APIs do
        except ValueError:
            raise ApiError(400, "bad_request", "offset and limit are numbers") from None
        if offset < 0 or limit < 1:
            raise ApiError(400, "bad_request", "offset must be >= 0 and limit >= 1")
        found = []
        for emp_id in sorted(self.server.store.employees):
            employee = self.server.store.employees[emp_id]
            if employee["status"] == "T" and args.get("include_terminated") != "true":
                continue
            if all(_matches(employee, name, args[name]) for name in SEARCH if name in args):
                found.append(employee)
        return {"total": len(found), "offset": offset, "limit": limit, "items": found[offset : offset + limit]}

    def _create(self, body: object) -> dict:
        store = self.server.store
        fields = _validated(body)
        store.check_login(fields["login"], None)
        store.check_manager(fields["manager_id"], None)
        employee = {"emp_id": store.next_id, **fields, "status": "A", "created_at": _now(), "updated_at": _now()}
        store.employees[store.next_id] = employee
        store.next_id += 1
        store.save()
        return employee

    def _replace(self, emp_id: int, body: object) -> dict:
        store = self.server.store
        employee = store.get(emp_id)
        fields = _validated(body)
        store.check_login(fields["login"], emp_id)
        store.check_manager(fields["manager_id"], emp_id)
        employee.update(fields, updated_at=_now())
        store.save()
        return employee

    def _set_status(self, emp_id: int, status: str) -> dict:
        employee = self.server.store.get(emp_id)
        employee.update(status=status, updated_at=_now())
        self.server.store.save()
        return employee

    def _delete(self, emp_id: int) -> None:
        store = self.server.store
        store.get(emp_id)
        del store.employees[emp_id]
        for other in store.employees.values():
            if other["manager_id"] == emp_id:
                other["manager_id"] = None
        store.save()


def _matches(employee: dict, name: str, wanted: str) -> bool:
    value = employee
    for part in SEARCH[name]:
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str):
        return False
    return value.lower() == wanted.lower() if name in CASE_INSENSITIVE else value == wanted


class HrServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api_key: str, store: Store, rate_limit: RateLimit, etags: bool = True):
        super().__init__(address, Handler)
        self.api_key = api_key
        self.store = store
        self.rate_limit = rate_limit
        self.etags = etags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key-file", type=Path, required=True, help="a file holding the API key")
    parser.add_argument("--data", type=Path, help="a JSON file the employees are kept in")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    parser.add_argument("--burst", type=int, default=40, help="requests in a burst (default 40)")
    parser.add_argument("--no-etags", action="store_true", help="no ETag, If-Match ignored: the last writer wins")
    args = parser.parse_args(argv)
    api_key = args.key_file.read_text().strip()
    server = HrServer(
        (args.host, args.port), api_key, Store(args.data), RateLimit(args.rate, args.burst), not args.no_etags
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
