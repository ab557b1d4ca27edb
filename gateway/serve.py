"""`scim-gateway serve`: the app under gunicorn, in-process (no module-level app needed).

Settings are checked in the master before any worker starts, so a broken map stops the
service with file:line errors instead of a crash loop. Each worker then builds its own app
(and its own directory connections) after the fork, from the master's checked configuration.
HUP reloads settings and maps (reload.py): a broken new map is refused and logged, and the
workers go on with the last good one.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.config import KNOWN_SETTINGS
from gunicorn.glogging import Logger

from gateway import gunicorn_conf
from gateway.observability import logs, metrics, multiprocess
from gateway.reload import LastGood, Reloader
from gateway.settings import Settings
from gateway.web.app import CONFIG_ENV
from gateway.yamlfile import ConfigError, Problem

_GUNICORN_SETTINGS = {setting.name for setting in KNOWN_SETTINGS}


class GatewayServer(BaseApplication):
    def __init__(self, reloader: Reloader, listen: str | None, config_file: Path | None):
        self.reloader = reloader
        self.listen = listen
        self.config_file = config_file
        self.started = False
        super().__init__()

    def load_config(self) -> None:
        """At start-up, and in the master on every HUP (before new workers start)."""
        if self.started:
            self.reloader.reload()  # keeps the last good configuration if the new one is broken
        self.started = True
        settings = self.reloader.configuration.settings
        logs.configure(settings.log_format, settings.log_level)
        options = gunicorn_options(settings, self.listen, self.config_file)
        for key, value in options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        return self.reloader.build_app()


class GunicornLogger(Logger):
    """gunicorn's error log through the root logger: one format (text or JSON) for every line."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if cfg.errorlog != "-":
            return  # the operator chose a file for gunicorn's lines
        for handler in list(self.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                self.error_log.removeHandler(handler)
        self.error_log.propagate = True


def gunicorn_options(settings: Settings, listen: str | None, config_file: Path | None) -> dict:
    """gunicorn's options, lowest precedence first: the package's defaults (gateway/gunicorn_conf.py),
    the settings' defaults, a gunicorn config file, what the settings file says, the flags."""
    options = {k: v for k, v in vars(gunicorn_conf).items() if k in _GUNICORN_SETTINGS}
    options.update(bind=[settings.listen], workers=settings.workers, threads=settings.threads)
    # gunicorn's own lines (worker starts, timeouts) in the gateway's format, through its handler.
    options.update(logger_class=GunicornLogger, loglevel=settings.log_level)
    if config_file is not None:
        namespace = runpy.run_path(str(config_file))
        options.update({k: v for k, v in namespace.items() if k in _GUNICORN_SETTINGS})
    given = settings.given
    options.update({key: getattr(settings, key) for key in ("workers", "threads") if key in given})
    if "log_level" in given:
        options["loglevel"] = settings.log_level
    if "listen" in given:
        options["bind"] = [settings.listen]
    if listen:
        options["bind"] = [listen]
    return options


def serve(
    settings_path: Path, listen: str | None = None, config_file: Path | None = None, state_dir: Path | None = None
) -> None:
    """Call multiprocess.prepare() before importing this module (the CLI does)."""
    state_dir = state_dir or (Path(os.environ["STATE_DIRECTORY"]) if os.environ.get("STATE_DIRECTORY") else None)
    reloader = Reloader(settings_path, LastGood(state_dir / "last-good") if state_dir else None)
    configuration = reloader.load()  # every map loads, every backend is configured
    os.environ[CONFIG_ENV] = str(configuration.settings.source)
    logs.configure(configuration.settings.log_format, configuration.settings.log_level)
    metrics.loaded()
    listen_metrics = configuration.settings.metrics_listen
    if listen_metrics:
        try:
            multiprocess.serve_metrics(listen_metrics)
        except OSError as error:
            message = f"metrics_listen {listen_metrics}: {error.strerror or error}"
            raise ConfigError([Problem(str(configuration.settings.source), None, message)]) from None
    GatewayServer(reloader, listen, config_file).run()
