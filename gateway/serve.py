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
from gunicorn.glogging import Logger

from gateway.observability import logs, metrics, multiprocess
from gateway.reload import Reloader
from gateway.settings import Settings
from gateway.web.app import CONFIG_ENV
from gateway.yamlfile import ConfigError, Problem


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
    """Options from a gunicorn config file (deploy/gunicorn.conf.py), then the settings, then flags."""
    options: dict = {}
    if config_file is not None:
        namespace = runpy.run_path(str(config_file))
        options.update({k: v for k, v in namespace.items() if not k.startswith("_")})
    options.setdefault("bind", [settings.listen])
    # gunicorn's own lines (worker starts, timeouts) in the gateway's format, through its handler.
    options.setdefault("logger_class", GunicornLogger)
    options.setdefault("loglevel", settings.log_level)
    options.setdefault("child_exit", multiprocess.child_exit)  # a dead worker's live gauges go
    options.setdefault("workers", settings.workers)
    options.setdefault("threads", settings.threads)
    if listen:
        options["bind"] = [listen]
    return options


def serve(settings_path: Path, listen: str | None = None, config_file: Path | None = None) -> None:
    """Call multiprocess.prepare() before importing this module (the CLI does)."""
    reloader = Reloader(settings_path)
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
