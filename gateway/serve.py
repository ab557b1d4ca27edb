"""`scim-gateway serve`: the app under gunicorn, in-process (no module-level app needed).

Settings are checked in the master before any worker starts, so a broken map stops the
service with file:line errors instead of a crash loop. Each worker then builds its own app
(and its own directory connections) after the fork.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from gunicorn.app.base import BaseApplication

from gateway.settings import Settings, load_settings
from gateway.tenant import Tenant
from gateway.web.app import CONFIG_ENV, create_app


class GatewayServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        return create_app(self.settings.source)


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
    settings = load_settings(settings_path)
    for tenant_settings in settings.tenants:
        Tenant.build(tenant_settings).close()  # every map loads, every backend is configured
    os.environ[CONFIG_ENV] = str(settings.source)
    GatewayServer(settings, gunicorn_options(settings, listen, config_file)).run()
