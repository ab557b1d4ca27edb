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

from gateway.reload import Reloader
from gateway.settings import Settings
from gateway.web.app import CONFIG_ENV


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
        options = gunicorn_options(self.reloader.configuration.settings, self.listen, self.config_file)
        for key, value in options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        return self.reloader.build_app()


def gunicorn_options(settings: Settings, listen: str | None, config_file: Path | None) -> dict:
    """Options from a gunicorn config file (deploy/gunicorn.conf.py), then the settings, then flags."""
    options: dict = {}
    if config_file is not None:
        namespace = runpy.run_path(str(config_file))
        options.update({k: v for k, v in namespace.items() if not k.startswith("_")})
    options.setdefault("bind", [settings.listen])
    options.setdefault("workers", settings.workers)
    options.setdefault("threads", settings.threads)
    if listen:
        options["bind"] = [listen]
    return options


def serve(settings_path: Path, listen: str | None = None, config_file: Path | None = None) -> None:
    reloader = Reloader(settings_path)
    configuration = reloader.load()  # every map loads, every backend is configured
    os.environ[CONFIG_ENV] = str(configuration.settings.source)
    GatewayServer(reloader, listen, config_file).run()
