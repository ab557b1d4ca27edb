"""Logs an operator can search: one line per request with the reason for every refusal, the
request id on every line written while serving it, text or JSON, at the configured level."""

from __future__ import annotations

import logging
import re

import pytest

from gateway.observability import logs
from tests.sandbox.children import free_port


def test_a_refused_create_logs_its_reason_the_user_name_and_who_asked(make_client, gateway_log):
    log = gateway_log("text")
    client = make_client()
    response = client.post("/Users", {"userName": "jörg", "emails": [{"value": "jörg@example.com", "type": "work"}]})
    assert response.status_code == 400, response.get_json()
    request_id = response.headers["X-Request-Id"]
    (line,) = [line for line in log.request_lines() if "POST /scim/v2/Users 400" in line]
    assert "userName=jörg" in line
    assert f"detail={logs.field_text(response.get_json()['detail'])}" in line
    assert f"request={request_id}" in line and "tenant=test" in line
    assert "credential=entra" in line and "client=127.0.0.1" in line


def test_a_successful_request_logs_no_detail(client, gateway_log):
    log = gateway_log("text")
    created = client.create_user("ada")
    (line,) = [line for line in log.request_lines() if "POST /scim/v2/Users 201" in line]
    assert "detail=" not in line and "userName=" not in line
    assert client.get(f"/Users/{created['id']}x").status_code == 404
    (missing,) = [line for line in log.request_lines() if " 404 " in line]
    assert f"id={created['id']}x" in missing and "detail=" in missing


def test_json_lines_carry_the_request_as_keys(client, gateway_log):
    log = gateway_log("json")
    response = client.get("/Users/nobody")
    assert response.status_code == 404
    (line,) = [line for line in log.json_lines() if line["logger"] == "gateway.web"]
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["method"] == "GET" and line["path"] == "/scim/v2/Users/nobody" and line["status"] == 404
    assert line["tenant"] == "test" and line["credential"] == "entra" and line["id"] == "nobody"
    assert line["detail"] == response.get_json()["detail"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("entra-7f3a_2", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("x 200 0.1ms tenant=other request=forged", False),
        ("id;forged=1", False),
        ("", False),
    ],
)
def test_a_client_request_id_is_kept_only_when_short_and_plain(client, gateway_log, sent, kept):
    log = gateway_log("text")
    response = client.flask_client.get(
        "/scim/v2/Users", headers={"Authorization": f"Bearer {client.token}", "X-Request-Id": sent}
    )
    answered = response.headers["X-Request-Id"]
    assert (answered == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", answered)
    (line,) = log.request_lines()
    assert line.endswith(f"request={answered}") and "forged" not in line


def test_a_backend_line_carries_the_request_id_of_the_request_it_served(make_client, gateway_log):
    log = gateway_log("text")
    client = make_client(url=f"ldap://127.0.0.1:{free_port()}", timeout=1)
    response = client.get("/Users")
    assert response.status_code == 503
    request_id = response.headers["X-Request-Id"]
    backend = [line for line in log.lines() if "cannot reach the directory" in line]
    assert backend and all(line.endswith(f"tenant=test request={request_id}") for line in backend)


def test_a_path_cannot_forge_a_second_line_or_field(client, gateway_log):
    log = gateway_log("text")
    client.get("/Users/x%0A2026-12-02 INFO forged tenant=other")
    (line,) = log.request_lines()
    assert '"/scim/v2/Users/x\\n2026-12-02 INFO forged tenant=other"' in line


def test_log_level_is_honoured(client, gateway_log):
    log = gateway_log("text", "warning")
    client.get("/Users")
    logging.getLogger("gateway.backends.test").warning("a warning")
    assert log.request_lines() == []
    assert any(line.endswith("a warning") for line in log.lines())


def test_configuring_twice_keeps_one_handler(gateway_log):
    gateway_log("text")
    gateway_log("json", "debug")
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_scim_gateway", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
    assert logging.getLogger().level == logging.DEBUG


def test_observability_settings_are_checked_with_their_line(tmp_path):
    from gateway.settings import load_settings
    from gateway.yamlfile import ConfigError

    tenant = "tenants: [{name: t, base_path: /scim, mapping: m.yaml, tokens_file: t.yaml}]\n"
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"log_format: xml\nmetrics_listen: everywhere\nmetrics_allow_from: [not-a-network]\n{tenant}")
    with pytest.raises(ConfigError) as caught:
        load_settings(settings)
    text = str(caught.value)
    assert "settings.yaml:1" in text and "settings.yaml:2" in text and "settings.yaml:3" in text
    settings.write_text(f"audit_log: logs/audit.log\nmetrics_allow_from: [10.0.0.5]\n{tenant}")
    loaded = load_settings(settings)
    assert loaded.audit_log == str(tmp_path / "logs" / "audit.log")  # relative to the settings file
    assert [str(n) for n in loaded.metrics_allow_from] == ["10.0.0.5/32"]
