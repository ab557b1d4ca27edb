"""The deployment files stay in step with the code."""

import ast
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
        listen, workers, threads = "127.0.0.1:9", 1, 1

    options = gunicorn_options(Settings(), None, DEPLOY / "gunicorn.conf.py")
    assert options["bind"] == ["127.0.0.1:9"]
    assert options["worker_class"] == "gthread" and options["control_socket_disable"] is True


def test_the_package_imports_nothing_from_the_source_tree_around_it():
    """Installed with pip, `gateway` has no tests/ or deploy/ beside it: it must not reach for them."""
    package = DEPLOY.parent / "gateway"
    outside = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            outside += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] in ("tests", "deploy")]
    assert outside == []
