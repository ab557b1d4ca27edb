"""The deployment files stay in step with the code."""

import ast
from pathlib import Path

import yaml

from gateway.mapping.loader import compile_mapping
from gateway.serve import gunicorn_options
from gateway.settings import Settings, SettingsSchema, load_settings
from gateway.yamlfile import loads

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_the_kubernetes_config_map_holds_valid_settings_and_a_valid_map():
    config = next(d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d["kind"] == "ConfigMap")
    mapping = compile_mapping(loads(config["data"]["openldap.yaml"], "configmap"), "configmap")
    assert mapping.users.rules
    settings = SettingsSchema().load(yaml.safe_load(config["data"]["settings.yaml"]))
    assert settings["tenants"][0]["mapping"] == "openldap.yaml"


def _settings(tmp_path, monkeypatch, top: str = "") -> Settings:
    monkeypatch.setenv("PW", "x")
    path = tmp_path / "settings.yaml"
    path.write_text(
        top + "tenants:\n  - {name: a, base_path: /scim/v2, mapping: m.yaml, tokens_file: t.yaml,\n"
        "     ldap: {url: 'ldap://127.0.0.1', bind_dn: cn=x, password_env: PW}}\n"
    )
    return load_settings(path)


def test_serve_needs_no_gunicorn_file_and_the_shipped_one_only_overrides(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    bare = gunicorn_options(settings, None, None)
    assert bare["bind"] == ["127.0.0.1:8080"] and (bare["workers"], bare["threads"]) == (2, 4)
    assert bare["worker_class"] == "gthread" and bare["control_socket_disable"] is True
    assert gunicorn_options(settings, None, DEPLOY / "gunicorn.conf.py") == bare


def test_flags_beat_settings_beat_the_gunicorn_file(tmp_path, monkeypatch):
    override = tmp_path / "gunicorn.conf.py"
    override.write_text("workers = 3\nthreads = 7\ntimeout = 120\nbind = ['0.0.0.0:1']\n")
    given = _settings(tmp_path, monkeypatch, "listen: 127.0.0.1:9000\nworkers: 8\n")
    options = gunicorn_options(given, None, override)
    assert (options["workers"], options["threads"], options["timeout"], options["bind"]) == (
        8,
        7,
        120,
        ["127.0.0.1:9000"],
    )
    assert gunicorn_options(given, "127.0.0.1:9", override)["bind"] == ["127.0.0.1:9"]
    silent = gunicorn_options(_settings(tmp_path, monkeypatch), None, override)
    assert (silent["workers"], silent["bind"]) == (3, ["0.0.0.0:1"])


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
