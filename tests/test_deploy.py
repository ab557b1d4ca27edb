"""The deployment files stay in step with the code."""

from pathlib import Path

import yaml

from gateway.mapping.loader import compile_mapping
from gateway.serve import gunicorn_options
from gateway.settings import SettingsSchema
from gateway.yamlfile import loads

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_the_kubernetes_config_map_holds_valid_settings_and_a_valid_map():
    config = next(d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d["kind"] == "ConfigMap")
    mapping = compile_mapping(loads(config["data"]["openldap.yaml"], "configmap"), "configmap")
    assert mapping.users.rules
    settings = SettingsSchema().load(yaml.safe_load(config["data"]["settings.yaml"]))
    assert settings["tenants"][0]["mapping"] == "openldap.yaml"


def test_the_gunicorn_config_loads_and_leaves_the_address_to_the_settings(tmp_path):
    class Settings:
        listen, workers, threads, log_level = "127.0.0.1:9", 1, 1, "info"

    options = gunicorn_options(Settings(), None, DEPLOY / "gunicorn.conf.py")
    assert options["bind"] == ["127.0.0.1:9"]
    assert options["worker_class"] == "gthread" and options["control_socket_disable"] is True
    assert options["child_exit"].__module__ == "gateway.observability.multiprocess"  # every worker's metrics
