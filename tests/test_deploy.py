"""The deployment files stay in step with the code."""

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gateway.mapping.audit import audit
from gateway.mapping.loader import load_mapping
from gateway.serve import gunicorn_options
from gateway.settings import Settings, SettingsSchema, load_settings
from tests.test_proxy import self_signed_certificate

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _kubernetes() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_kubernetes_manifest_validates_against_the_api_schemas():
    for kind, document in _kubernetes().items():
        assert kubernetes_validate.validate(document, "1.30.0", strict=True), kind


def test_the_kubernetes_pods_can_read_their_files_and_are_probed_on_readyz_and_healthz():
    pod = _kubernetes()["Deployment"]["spec"]["template"]["spec"]
    context = pod["securityContext"]
    user = next(args for instruction, args in _dockerfile() if instruction == "USER")
    assert f"{context['runAsUser']}:{context['runAsGroup']}" == user == "10001:10001"
    assert context["runAsNonRoot"] and context["fsGroup"] == context["runAsGroup"]
    secret = next(v for v in pod["volumes"] if "secret" in v)["secret"]
    assert secret["defaultMode"] & 0o040, "the group (fsGroup) must be able to read the Secret"
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"]
    assert any(m["mountPath"] == "/var/lib/scim-gateway" for m in container["volumeMounts"])  # STATE_DIRECTORY


def test_the_kubernetes_settings_trust_the_ingress_and_use_a_map_without_warnings():
    settings = SettingsSchema().load(yaml.safe_load(_kubernetes()["ConfigMap"]["data"]["settings.yaml"]))
    assert settings["trusted_proxies"] == 1
    assert settings["tenants"][0]["mapping"] == "openldap.yaml"
    # the map the README's `kubectl create configmap scim-gateway-map` takes: the shipped one
    assert "--from-file=openldap.yaml=mappings/openldap.yaml" in (DEPLOY / "kubernetes.yaml").read_text()
    mapping = load_mapping(DEPLOY.parent / "mappings" / "openldap.yaml")
    assert mapping.groups is not None and audit(mapping) == []


def test_the_dockerfile_runs_as_a_numeric_user_from_files_that_exist():
    instructions = _dockerfile()
    kinds = [instruction for instruction, _ in instructions]
    assert kinds[0] == "FROM" and ":" in instructions[0][1] and not instructions[0][1].endswith(":latest")
    assert "useradd --system --uid 10001 --gid 10001" in next(a for i, a in instructions if i == "RUN")
    assert re.fullmatch(r"\d+:\d+", next(a for i, a in instructions if i == "USER"))
    for instruction, args in instructions:
        if instruction == "COPY":
            for source in args.split()[:-1]:
                assert (DEPLOY.parent / source).exists(), source
        if instruction in ("ENTRYPOINT", "CMD") or (instruction == "HEALTHCHECK" and "CMD" in args):
            form = args.split("CMD", 1)[1].strip() if instruction == "HEALTHCHECK" else args
            assert isinstance(json.loads(form), list), f"{instruction} in exec form"
    entrypoint = json.loads(next(a for i, a in instructions if i == "ENTRYPOINT"))
    assert "--gunicorn-config" not in entrypoint and "/healthz" in next(
        a for i, a in instructions if i == "HEALTHCHECK"
    )


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="nginx-light")
def test_nginx_accepts_the_shipped_configuration(tmp_path):
    self_signed_certificate(tmp_path)
    text = (DEPLOY / "nginx.conf").read_text()
    text = text.replace("/etc/ssl/certs/scim.example.com.pem", str(tmp_path / "cert.pem"))
    text = text.replace("/etc/ssl/private/scim.example.com.key", str(tmp_path / "key.pem"))
    text = text.replace("/run/nginx.pid", str(tmp_path / "nginx.pid"))
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run([nginx, "-t", "-c", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


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
    assert bare["worker_class"] == "gateway.worker.ThreadWorker" and bare["control_socket_disable"] is True
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
