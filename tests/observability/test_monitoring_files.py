"""The monitoring files in deploy/: alert rules (promtool), their unit tests, the Grafana
dashboard and the logrotate snippet, each checked against the metrics the gateway exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import yaml
from prometheus_client import REGISTRY

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "scim-gateway-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "scim-gateway.json"
METRIC = re.compile(r"\bscim_gateway_[a-z_]+")


def exported_names() -> set[str]:
    """Every series name the gateway's metrics can have, whether or not anything was counted yet."""
    import gateway.observability.metrics  # noqa: F401  (registers the gateway's metrics)

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("scim_gateway_")
        for suffix in suffixes[family.type]
    }


def promtool() -> str | None:
    """deploy/install-deps.sh --test unpacks promtool into .venv/bin (Debian's prometheus package)."""
    local = REPO / ".venv" / "bin" / "promtool"
    return str(local) if local.exists() else shutil.which("promtool")


def test_the_alert_rules_are_valid_and_fire_when_their_unit_tests_say(tmp_path):
    rules = yaml.safe_load(RULES.read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {
        "ScimGatewayClientErrorRatioHigh",
        "ScimGatewayServerErrorRatioHigh",
        "ScimGatewayNearEntraQuarantine",
    } <= set(alerts)
    for name, rule in alerts.items():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, name
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"], name
        assert set(METRIC.findall(rule["expr"])) <= exported_names(), name
    tool = promtool()
    if tool is None:  # no promtool on this machine: the schema check above is what there is
        return
    checked = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [tool, "test", "rules", RULES.with_suffix(".test.yml").name], capture_output=True, text=True, cwd=RULES.parent
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_dashboard_shows_only_metrics_the_gateway_exports():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "scim-gateway" and dashboard["schemaVersion"] >= 30
    names = exported_names()
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["title"] and panel["targets"] and panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert set(METRIC.findall(target["expr"])) <= names, (panel["title"], target["expr"])
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert variables == {"datasource", "tenant"}


def test_the_logrotate_snippet_rotates_the_audit_trail_without_copytruncate(tmp_path):
    snippet = (DEPLOY / "logrotate" / "scim-gateway").read_text()
    assert "/var/log/scim-gateway/audit.log {" in snippet
    directives = [
        line.split()[0]
        for line in snippet.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "/", "}"))
    ]
    assert "copytruncate" not in directives and {"compress", "rotate", "create"} <= set(directives)
    tool = shutil.which("logrotate")
    if tool is None:
        return
    trail = tmp_path / "audit.log"
    trail.write_text('{"audit": 1}\n')
    config = tmp_path / "logrotate.conf"
    config.write_text(
        snippet.replace("/var/log/scim-gateway/audit.log", str(trail)).replace(
            "create 0640 scim-gateway scim-gateway", "create 0640"
        )
    )
    checked = subprocess.run(
        [tool, "--debug", "--state", str(tmp_path / "state"), str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0 and "error" not in checked.stderr.lower(), checked.stderr
