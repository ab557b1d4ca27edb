"""Reloading settings and maps without downtime: SIGHUP to `scim-gateway serve` (gunicorn's HUP).

gunicorn answers HUP in its master: it re-reads its configuration, starts new workers and
stops the old ones once they have finished their requests, so the socket never closes. But a
worker that cannot build its app makes the master halt the whole service. So a new map must
never reach a worker unchecked: the master loads and checks the whole configuration first
(every settings file, every map, every backend's settings), keeps the last good one if that
fails (logging each problem with its file and line), and every worker builds its app from
the master's copy in memory, never from the files on disk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from gateway.mapping.audit import audit
from gateway.mapping.loader import load_mapping
from gateway.mapping.model import Mapping
from gateway.observability import metrics
from gateway.observability.trail import AuditTrail
from gateway.settings import Settings, load_settings
from gateway.tenant import Tenant, make_backend
from gateway.web.app import create_app
from gateway.yamlfile import ConfigError

log = logging.getLogger("gateway.reload")


@dataclass(frozen=True)
class Configuration:
    """Settings and every tenant's compiled map, all checked: what a worker is built from."""

    settings: Settings
    mappings: dict[str, Mapping]  # by tenant name


def load_configuration(path: Path | str) -> Configuration:
    """Load and check everything; ConfigError lists every problem found."""
    settings = load_settings(path)
    mappings: dict[str, Mapping] = {}
    problems = []
    for tenant in settings.tenants:
        try:
            mapping = load_mapping(tenant.mapping_path)
            make_backend(tenant, mapping).close()  # the backend's settings fit the map; nothing connects
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        mappings[tenant.name] = mapping
    if problems:
        raise ConfigError(problems)
    return Configuration(settings, mappings)


class Reloader:
    """The configuration a process serves, replaced only by one that loads completely."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.current: Configuration | None = None

    @property
    def configuration(self) -> Configuration:
        """The configuration being served; RuntimeError before the first load()."""
        if self.current is None:
            raise RuntimeError("load() the configuration first")
        return self.current

    def load(self) -> Configuration:
        """The first load: a problem here stops the start (ConfigError)."""
        self.current = load_configuration(self.path)
        self._log_warnings()
        return self.current

    def reload(self) -> bool:
        """Load again; on any problem keep serving the previous configuration and say why."""
        try:
            new = load_configuration(self.path)
        except ConfigError as error:
            for problem in error.problems:
                log.error("reload refused, still serving the previous configuration: %s", problem)
            metrics.reloaded(False)
            return False
        self.current = new
        metrics.reloaded(True)
        log.info("reloaded %s: %d tenant(s)", self.path, len(new.settings.tenants))
        self._log_warnings()
        return True

    def build_app(self) -> Flask:
        """A worker's app, from the configuration in memory (its backends connect on first use)."""
        if self.current is None:
            raise RuntimeError("load() the configuration before building an app")
        settings, mappings = self.current.settings, self.current.mappings
        trail = AuditTrail(settings.audit_log)  # opened on the first write, in the worker
        tenants = [Tenant(t, mappings[t.name], make_backend(t, mappings[t.name]), trail) for t in settings.tenants]
        return create_app(settings, tenants=tenants)

    def _log_warnings(self) -> None:
        for mapping in self.configuration.mappings.values():
            for warning in audit(mapping):
                log.warning("%s", warning)
