"""LDAP operations per Entra request kind, per directory: the cost of each fallback, pinned.

OpenLDAP has every control (2 operations per write); 389 DS has no assertion control (a
remembered DN is searched again before a write); AD has neither assertion nor post-read (the
entry is read after the write) and new accounts get their password in a second write.

    AD POST /Users: userName uniqueness search, sAMAccountName search, add (disabled), password
                    and userAccountControl modify, read back.
    389 DELETE:     search the DN, delete, then (referential_integrity: gateway, as a stock 389
                    has the plugin off) find the groups and managers that point at the user
                    and rewrite them: here one group.
    re-add member:  389 and AD refuse it (20, 68): one read of the member values and the
                    modify again without them (OpenLDAP: the permissive-modify control).
"""

from __future__ import annotations

import pytest

# request kind: {directory: LDAP operations (binds excluded)}
EXPECTED = {
    "POST /Users": {"openldap": 2, "389ds": 2, "active-directory": 5},
    "GET /Users/{id}": {"openldap": 1, "389ds": 1, "active-directory": 1},
    "GET /Users?filter=userName eq": {"openldap": 1, "389ds": 1, "active-directory": 1},
    "PATCH /Users/{id} displayName": {"openldap": 2, "389ds": 2, "active-directory": 3},
    "PATCH /Users/{id} active false": {"openldap": 1, "389ds": 2, "active-directory": 3},
    "POST /Groups": {"openldap": 2, "389ds": 2, "active-directory": 4},
    "PATCH /Groups/{id} add 2 members": {"openldap": 2, "389ds": 3, "active-directory": 3},
    "PATCH /Groups/{id} re-add 1 member": {"openldap": 2, "389ds": 4, "active-directory": 4},
    "PATCH /Groups/{id} remove 1 member": {"openldap": 2, "389ds": 3, "active-directory": 3},
    "DELETE /Users/{id}": {"openldap": 1, "389ds": 5, "active-directory": 2},
}


def _measure(client, ldap_ops) -> dict[str, int]:
    costs: dict[str, int] = {}

    def cost(kind: str, send):
        ldap_ops.reset()
        response = send()
        assert response.status_code < 300, (kind, response.get_json())
        costs[kind] = ldap_ops.total
        return response

    client.create_user("warm@contoso.com")  # the connection and its root DSE read
    ann = client.create_user("ann@contoso.com")["id"]
    user = cost("POST /Users", lambda: client.post("/Users", {"userName": "bob@contoso.com", "active": True}))
    bob = user.get_json()["id"]
    cost("GET /Users/{id}", lambda: client.get(f"/Users/{bob}"))
    cost("GET /Users?filter=userName eq", lambda: client.get('/Users?filter=userName eq "bob@contoso.com"'))
    patch = [{"op": "Replace", "path": "displayName", "value": "Bob"}]
    cost("PATCH /Users/{id} displayName", lambda: client.patch(f"/Users/{bob}", patch))
    patch = [{"op": "Replace", "path": "active", "value": "False"}]
    cost("PATCH /Users/{id} active false", lambda: client.patch(f"/Users/{bob}", patch))
    group = cost("POST /Groups", lambda: client.post("/Groups", {"displayName": "Sales"})).get_json()["id"]
    both = [{"op": "Add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]
    cost("PATCH /Groups/{id} add 2 members", lambda: client.patch(f"/Groups/{group}", both))
    again = [{"op": "Add", "path": "members", "value": [{"value": ann}]}]
    cost("PATCH /Groups/{id} re-add 1 member", lambda: client.patch(f"/Groups/{group}", again))
    remove = [{"op": "Remove", "path": "members", "value": [{"value": ann}]}]
    cost("PATCH /Groups/{id} remove 1 member", lambda: client.patch(f"/Groups/{group}", remove))
    cost("DELETE /Users/{id}", lambda: client.delete(f"/Users/{bob}"))
    return costs


def test_ldap_operations_per_entra_request_kind(server, directory_client, ldap_ops):
    costs = _measure(directory_client, ldap_ops)
    assert costs == {kind: per[server.name] for kind, per in EXPECTED.items()}


def test_settings_can_take_a_control_away_and_the_fallback_costs_one_search(make_client, ldap_ops):
    """slapd has the assertion control; `capabilities: {assertion: false}` makes the gateway
    search a remembered DN again before a delete instead."""
    client = make_client(tenant_yaml="      capabilities: {assertion: false}\n")
    user = client.create_user("ann@contoso.com")["id"]
    ldap_ops.reset()
    assert client.delete(f"/Users/{user}").status_code == 204
    assert (ldap_ops["search"], ldap_ops["delete"]) == (1, 1)


@pytest.mark.parametrize(
    "overrides, expected",
    [("{assertion: yes-please}", "assertion is true or false"), ("{sort_everything: true}", "sort_everything")],
)
def test_a_capability_override_must_be_known_and_typed(tmp_path, overrides, expected):
    from gateway.settings import load_settings
    from gateway.yamlfile import ConfigError

    (tmp_path / "map.yaml").write_text("version: 1\n")
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "tenants:\n  - name: t\n    base_path: /scim/v2\n    mapping: map.yaml\n    tokens_file: tokens.yaml\n"
        "    ldap:\n      url: ldap://127.0.0.1\n      bind_dn: cn=gateway\n      password_env: X\n"
        f"      capabilities: {overrides}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_settings(settings)
    assert "settings.yaml:10" in str(error.value) and expected in str(error.value)
