"""`scim-gateway check` and `/readyz`: is every tenant's downstream there, and set up as its map needs?

`check` is the online counterpart of `mapping check`: per tenant it reads every file the tenant
names as the service user would, then asks the tenant's backend for its own checks (an LDAP
directory: bind, base DNs, schema, controls, size limits; a REST API: reachable, login
accepted), each printed with a fix. `/readyz` asks each backend for a cheap probe only, with a
short timeout, cached a few seconds, and answers within a bounded time even when a directory
hangs. The backend-specific parts live beside each backend (backends/<kind>/check.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway import deadline
from gateway.backends.base import BackendError
from gateway.privatefiles import readable_by, service_user
from gateway.yamlfile import load

PROBE_TIMEOUT = 2.0  # seconds a backend's probe may take (a bind and a read, or one HTTP call)
READY_WAIT = 4.0  # /readyz answers within this, whatever the backends do
READY_CACHE = 5.0  # seconds a probe's answer is reused


Status = Literal["ok", "warn", "fail", "unknown"]
MARKS: dict[Status, str] = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "unknown": "??  "}


@dataclass(frozen=True)
class Finding:
    """One check, with how to fix it. Its status: ok; warn (works, at a cost the fix removes);
    fail (breaks provisioning: `check` exits 1); unknown (could not be told)."""

    name: str
    status: Status
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        text = f"  {MARKS[self.status]} {self.name}" + (f": {self.detail}" if self.detail else "")
        if self.status != "ok" and self.fix:
            text += f"\n         fix: {self.fix}"
        return text


def passed(name: str, detail: str = "") -> Finding:
    return Finding(name, "ok", detail)


def warned(name: str, detail: str, fix: str = "") -> Finding:
    return Finding(name, "warn", detail, fix)


def failed(name: str, detail: str, fix: str) -> Finding:
    return Finding(name, "fail", detail, fix)


def untold(name: str, detail: str, fix: str = "") -> Finding:
    return Finding(name, "unknown", detail, fix)


def summary(findings: list[Finding]) -> str:
    """The last line of `check`: it says failed exactly when `check` exits 1."""
    counts = {status: sum(1 for f in findings if f.status == status) for status in MARKS}
    if counts["fail"] == 0 and counts["warn"] == 0 and counts["unknown"] == 0:
        return f"all {counts['ok']} checks passed"
    rest = [f"{counts['ok']} ok"]
    if counts["warn"]:
        rest.append(f"{counts['warn']} warning(s)")
    if counts["unknown"]:
        rest.append(f"{counts['unknown']} could not be told")
    head = f"{counts['fail']} check(s) failed" if counts["fail"] else "no check failed"
    return f"{head}: {', '.join(rest)}"


# --- files -------------------------------------------------------------------------------------


def files_named(raw_tenant: dict, folder: Path) -> list[tuple[str, Path]]:
    """Every file a tenant's settings name (`*_file` keys and the map), resolved as the loader does."""
    found: list[tuple[str, Path]] = [("mapping", folder / raw_tenant["mapping"])]

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
                    found.append((name, folder / value))
                else:
                    walk(value, name)

    walk(raw_tenant, "")
    return found


def file_findings(files: Iterable[tuple[str, Path]], user: str | None) -> list[Finding]:
    who = user or service_user()
    findings = []
    for key, path in files:
        name = f"{key} {path}"
        if key == "auth.oauth.signing_key_file" and not path.exists():
            folder_ok = readable_by(path.parent, user)
            findings.append(
                passed(name, "made on first use")
                if folder_ok
                else failed(name, f"{who} cannot enter {path.parent}", f"chown {who} {path.parent}")
            )
        elif not path.exists():
            if key == "tokens_file":
                findings.append(
                    failed(name, "missing: no credential can get in", f"scim-gateway token create --owner {who} ...")
                )
            else:
                findings.append(failed(name, "missing", "create it, or fix the path in the settings"))
        elif not readable_by(path, user):
            findings.append(failed(name, f"{who} cannot read it", f"chown {who} {path} (or chgrp {who} and chmod g+r)"))
        else:
            findings.append(passed(name, f"readable by {who}"))
    return findings


# --- the command -------------------------------------------------------------------------------


def run_check(config: Path, user: str | None, out: Callable[[str], None] = print) -> int:
    """Every check of every tenant, printed; 0 unless one failed (warnings and "could not be
    told" leave it 0: the gateway works, the line says at what cost or what to look at)."""
    from gateway.backends.registry import backend_kind
    from gateway.reload import load_configuration
    from gateway.service import store_spec

    configuration = load_configuration(config)  # a ConfigError here is printed by the CLI, file:line
    raw_tenants = (load(configuration.settings.source) or {}).get("tenants") or []
    every: list[Finding] = []
    for tenant, raw in zip(configuration.settings.tenants, raw_tenants, strict=True):
        out(f"tenant {tenant.name} ({tenant.base_path}):")
        findings = file_findings(files_named(raw, configuration.settings.source.parent), user)
        mapping = configuration.mappings[tenant.name]
        kind = backend_kind(mapping.backend)
        if kind.check is None:
            findings.append(untold(f"{kind.what}", f"the {kind.name} backend has no online checks"))
        else:
            specs = {name: store_spec(resource_map) for name, resource_map in mapping.resource_maps.items()}
            findings.extend(kind.check(tenant.backends[kind.name], specs))
        for finding in findings:
            out(finding.line())
        every.extend(findings)
    out(summary(every))
    return 1 if any(finding.status == "fail" for finding in every) else 0


# --- readiness ---------------------------------------------------------------------------------


class Readiness:
    """Each tenant's backend probed at most every READY_CACHE seconds, in threads of their own,
    so a hung directory delays no answer beyond READY_WAIT and no probe piles up behind another."""

    def __init__(self, probes: dict[str, Callable[[float], None] | None], clock: Callable[[], float] = time.monotonic):
        self.probes = {name: probe for name, probe in probes.items() if probe is not None}
        self.tenants = list(probes)  # a backend without a probe is ready when the process is
        self.clock = clock
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[float, str | None]] = {}  # tenant -> (when, problem or None)
        self._running: dict[str, threading.Thread] = {}

    def status(self) -> dict[str, str | None]:
        """Tenant -> None when ready, else what is wrong."""
        started = self.clock()
        waiting = [self._start(name, started) for name in self.probes]
        for thread in filter(None, waiting):
            thread.join(max(0.0, READY_WAIT - (self.clock() - started)))
        with self._lock:
            return {
                name: (
                    None
                    if name not in self.probes
                    else self._answers[name][1]
                    if name in self._answers
                    else f"no answer within {READY_WAIT:.0f} s"
                )
                for name in self.tenants
            }

    def _start(self, name: str, now: float) -> threading.Thread | None:
        with self._lock:
            answer = self._answers.get(name)
            if answer is not None and now - answer[0] < READY_CACHE:
                return None
            running = self._running.get(name)
            if running is not None and running.is_alive():
                if answer is None or answer[1] is None:
                    self._answers[name] = (now, f"no answer within {READY_WAIT:.0f} s")
                return running
            thread = threading.Thread(target=self._probe, args=(name,), daemon=True, name=f"readyz-{name}")
            self._running[name] = thread
        thread.start()
        return thread

    def _probe(self, name: str) -> None:
        try:
            # A deadline of its own, as a request has: what the probe waits for (a call, an API
            # token it fetches while requests wait for it) is cut off then, not when the backend
            # gives up.
            with deadline.within(PROBE_TIMEOUT):
                self.probes[name](PROBE_TIMEOUT)
            problem = None
        except BackendError as error:
            problem = str(error)
        except Exception as error:  # a probe must never take the readiness check down
            problem = f"the probe failed: {type(error).__name__}"
        with self._lock:
            self._answers[name] = (self.clock(), problem)
