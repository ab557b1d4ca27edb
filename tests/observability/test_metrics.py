"""Prometheus metrics in one process: requests, backend operations, refusals, `/metrics` access.

(tests/observability/test_metrics_gunicorn.py checks that two workers' counts add up.)"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.sandbox.children import free_port


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """Differences in the process's metrics since the fixture was made."""

    def __init__(self):
        self.before = {self._key(s): s.value for m in REGISTRY.collect() for s in m.samples}

    @staticmethod
    def _key(sample):
        return sample.name, tuple(sorted(sample.labels.items()))

    def delta(self, name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return value(name, **labels) - self.before.get(key, 0.0)


@pytest.fixture
def counts() -> Counts:
    return Counts()


def requests_counted(counts, **labels) -> float:
    return counts.delta("scim_gateway_requests_total", **{"tenant": "test", **labels})


def test_requests_are_counted_by_tenant_resource_method_and_status(client, counts):
    created = client.create_user("ada")
    client.get(f"/Users/{created['id']}")
    client.get("/Users/nobody")
    client.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "displayName", "value": "Ada"}])
    client.get("/Schemas")
    client.get("/Widgets")
    assert requests_counted(counts, resource="Users", method="POST", status="201") == 1
    assert requests_counted(counts, resource="Users", method="GET", status="200") == 1
    assert requests_counted(counts, resource="Users", method="GET", status="404") == 1
    assert requests_counted(counts, resource="Users", method="PATCH", status="200") == 1
    assert requests_counted(counts, resource="Schemas", method="GET", status="200") == 1
    assert requests_counted(counts, resource="other", method="GET", status="404") == 1
    assert (
        counts.delta("scim_gateway_request_duration_seconds_count", tenant="test", resource="Users", method="GET") == 2
    )


def test_ldap_operations_are_counted_by_kind_and_outcome(client, counts):
    created = client.create_user("ada")
    client.delete(f"/Users/{created['id']}")
    client.delete(f"/Users/{created['id']}")  # gone: located by a search that finds nothing

    def ops(operation: str, outcome: str = "ok") -> float:
        labels = {"tenant": "test", "backend": "ldap", "operation": operation, "outcome": outcome}
        return counts.delta("scim_gateway_backend_operations_total", **labels)

    assert ops("add") == 1 and ops("delete") == 1 and ops("bind") >= 1 and ops("search") >= 2
    assert (
        counts.delta(
            "scim_gateway_backend_operation_duration_seconds_count", tenant="test", backend="ldap", operation="add"
        )
        == 1
    )
    assert (
        value(
            "scim_gateway_directory_connections",
            directory=client.app.extensions["scim_gateway"].tenants["tenant_test"].settings.backends["ldap"].url,
        )
        >= 1
    )


def test_an_unreachable_directory_counts_as_unavailable(make_client, counts):
    url = f"ldap://127.0.0.1:{free_port()}"
    client = make_client(url=url, timeout=1)
    assert client.get("/Users").status_code == 503
    assert requests_counted(counts, resource="Users", method="GET", status="503") == 1


def test_rest_calls_are_counted_with_their_outcome(rest_client, counts):
    created = rest_client.create_user("grace", name={"givenName": "Grace", "familyName": "Hopper"})
    assert rest_client.get(f"/Users/{created['id']}0").status_code == 404

    def calls(method: str, outcome: str) -> float:
        labels = {"tenant": "test", "backend": "rest", "operation": method, "outcome": outcome}
        return counts.delta("scim_gateway_backend_operations_total", **labels)

    assert calls("POST", "ok") == 1
    assert calls("GET", "refused") == 1


def test_refusals_and_throttling_are_counted_by_reason(make_client, counts):
    client = make_client(tenant_yaml="    limits: {failed_logins: 2/minute}\n")
    for _ in range(3):
        client.get("/Users", token="scimgw_wrong")
    # every wrong credential is checked and refused; the third, over the limit, is answered 429
    assert counts.delta("scim_gateway_auth_refusals_total", tenant="test", reason="credential") == 3
    assert counts.delta("scim_gateway_throttled_total", tenant="test", reason="failed_logins") == 1
    assert requests_counted(counts, resource="other", method="GET", status="401") == 2


def test_metrics_on_the_main_port_answer_only_the_allowed_addresses(make_client):
    closed = make_client()
    assert closed.flask_client.get("/metrics").status_code == 404
    client = make_client(top_yaml="metrics_allow_from: [127.0.0.0/8]\n")
    client.get("/Users")
    answer = client.flask_client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    families = {family.name for family in text_string_to_metric_families(answer.get_data(as_text=True))}
    assert {"scim_gateway_requests", "scim_gateway_backend_operations", "scim_gateway_auth_refusals"} <= families
    elsewhere = client.flask_client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert elsewhere.status_code == 404


def all_requests() -> float:
    return sum(s.value for m in REGISTRY.collect() for s in m.samples if s.name == "scim_gateway_requests_total")


def test_a_scrape_is_not_counted_as_a_request(make_client):
    client = make_client(top_yaml="metrics_allow_from: [127.0.0.1/32]\n")
    before = all_requests()
    assert client.flask_client.get("/metrics").status_code == 200
    assert client.flask_client.get("/healthz").status_code == 200
    assert all_requests() == before + 1  # the health check, not the scrape
