"""Reloading settings and maps without downtime: SIGHUP to `scim-gateway serve` (gunicorn's HUP).

gunicorn answers HUP in its master: it re-reads its configuration, starts new workers and
stops the old ones once they have finished their requests, so the socket never closes. But a
worker that cannot build its app makes the master halt the whole service. So a new map must
never reach a worker unchecked: the master loads and checks the whole configuration first
(every settings file, every map, every backend's settings), keeps the last good one if that
fails (logging each problem with its file and line), and every worker builds its app from
the master's copy in memory, never from the files on disk.

With a state folder (`serve --state-dir`, or systemd's $STATE_DIRECTORY), every configuration
that loads is also copied there (LastGood), and a restart whose files do not load serves that
copy, logging every problem and that it does so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from flask import Flask

from gateway.mapping.audit import audit
from gateway.mapping.loader import load_mapping
from gateway.mapping.model import Mapping
from gateway.observability import metrics
from gateway.observability.trail import AuditTrail
from gateway.privatefiles import make_folders, write_private
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


def load_configuration(
    path: Path | str, folder: Path | None = None, mapping_files: dict[str, Path] | None = None
) -> Configuration:
    """Load and check everything; ConfigError lists every problem found. `folder` and
    `mapping_files` (by tenant) read a saved copy (LastGood) as if it were the original."""
    settings = load_settings(path, folder)
    mappings: dict[str, Mapping] = {}
    problems = []
    for tenant in settings.tenants:
        try:
            mapping = load_mapping((mapping_files or {}).get(tenant.name, tenant.mapping_path))
            make_backend(tenant, mapping).close()  # the backend's settings fit the map; nothing connects
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        mappings[tenant.name] = mapping
    if problems:
        raise ConfigError(problems)
    return Configuration(settings, mappings)


class LastGood:
    """A copy on disk of the last configuration that loaded (the settings file and every map),
    so a restart with a broken file serves the previous one instead of not starting. Secrets and
    credentials are not copied: they are read from where the settings say, as always."""

    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, configuration: Configuration) -> None:
        try:
            make_folders(self.folder, mode=0o700)
            settings = configuration.settings
            maps = {}
            for tenant in settings.tenants:
                copy = f"map-{tenant.name}.yaml"
                write_private(self.folder / copy, tenant.mapping_path.read_bytes())
                maps[tenant.name] = copy
            manifest = {
                "source": str(settings.source),
                "saved": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "maps": maps,
            }
            write_private(self.folder / "settings.yaml", settings.source.read_bytes())
            write_private(self.folder / "manifest.yaml", yaml.safe_dump(manifest, sort_keys=False))
        except OSError as error:
            log.warning("cannot keep a copy of the configuration in %s: %s", self.folder, error.strerror)

    def load(self) -> tuple[Configuration, str] | None:
        """The saved configuration and when it was saved, or None if there is none (or it no longer loads)."""
        try:
            manifest = yaml.safe_load((self.folder / "manifest.yaml").read_text())
        except (OSError, yaml.YAMLError):
            return None
        maps = {name: self.folder / copy for name, copy in manifest["maps"].items()}
        try:
            configuration = load_configuration(self.folder / "settings.yaml", Path(manifest["source"]).parent, maps)
        except ConfigError as error:
            for problem in error.problems:
                log.error("the last good configuration in %s no longer loads: %s", self.folder, problem)
            return None
        return configuration, manifest["saved"]


class Reloader:
    """The configuration a process serves, replaced only by one that loads completely."""

    def __init__(self, path: Path | str, last_good: LastGood | None = None):
        self.path = Path(path)
        self.last_good = last_good
        self.current: Configuration | None = None

    @property
    def configuration(self) -> Configuration:
        """The configuration being served; RuntimeError before the first load()."""
        if self.current is None:
            raise RuntimeError("load() the configuration first")
        return self.current

    def load(self) -> Configuration:
        """The first load. A problem here stops the start (ConfigError), unless a last good
        copy is kept: then it is served, and every problem is logged as an error."""
        try:
            self.current = load_configuration(self.path)
        except ConfigError as error:
            if self.last_good is None:
                raise
            saved = self.last_good.load()
            if saved is None:
                raise
            self.current, when = saved
            for problem in error.problems:
                log.error("%s", problem)
            log.error(
                "%s does not load (above): SERVING THE LAST GOOD CONFIGURATION, saved %s in %s;"
                " fix the file and reload",
                self.path,
                when,
                self.last_good.folder,
            )
            self._log_warnings()
            return self.current
        self._saved()
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
        self._saved()
        return True

    def build_app(self) -> Flask:
        """A worker's app, from the configuration in memory (its backends connect on first use)."""
        if self.current is None:
            raise RuntimeError("load() the configuration before building an app")
        settings, mappings = self.current.settings, self.current.mappings
        trail = AuditTrail(settings.audit_log)  # opened on the first write, in the worker
        tenants = [Tenant(t, mappings[t.name], make_backend(t, mappings[t.name]), trail) for t in settings.tenants]
        return create_app(settings, tenants=tenants)

    def _saved(self) -> None:
        self._log_warnings()
        if self.last_good is not None and self.current is not None:
            self.last_good.save(self.current)

    def _log_warnings(self) -> None:
        for mapping in self.configuration.mappings.values():
            for warning in audit(mapping):
                log.warning("%s", warning)
