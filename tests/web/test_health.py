"""/healthz never waits on a directory: it reports what each tenant's breaker last saw."""

from __future__ import annotations


def test_healthz_shows_a_backend_marked_down_without_calling_it(make_client, ldap_ops):
    client = make_client()
    tenant = client.app.extensions["scim_gateway"].tenants["tenant_test"]
    health = client.flask_client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["backends"] == {"test": "up"}
    for _ in range(tenant.backend.breaker.threshold):
        tenant.backend.breaker.failed(probe=False)
    ldap_ops.reset()
    health = client.flask_client.get("/healthz").get_json()
    assert health["backends"] == {"test": "down"} and ldap_ops.total == 0
    refused = client.get("/Users")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "17"
    assert "down (3 failures in a row)" in refused.get_json()["detail"] and ldap_ops.total == 0
