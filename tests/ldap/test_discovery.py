"""Discovery endpoints advertise what the map stores, and nothing else."""

import pytest

from tests.conftest import OPENLDAP_MAP


def test_service_provider_config(client):
    body = client.get("/ServiceProviderConfig").get_json()
    assert body["patch"] == {"supported": True}
    assert body["filter"]["supported"] is True
    assert body["bulk"]["supported"] is False
    assert body["sort"] == {"supported": False}
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_list_users_with_the_enterprise_extension_and_groups(client):
    body = client.get("/ResourceTypes").get_json()
    users, groups = sorted(body["Resources"], key=lambda r: r["name"], reverse=True)
    assert users["endpoint"] == "/Users"
    assert users["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False}
    ]
    assert (groups["endpoint"], groups["schemaExtensions"]) == ("/Groups", [])
    assert client.get("/ResourceTypes/User").get_json()["name"] == "User"


def test_users_only_map_has_no_groups_endpoint(make_client):
    text = (OPENLDAP_MAP.read_text()).split("\ngroups:")[0]
    client = make_client(text)
    assert [r["name"] for r in client.get("/ResourceTypes").get_json()["Resources"]] == ["User"]
    assert client.get("/Groups").status_code == 404


def test_schemas_hold_only_mapped_attributes(client):
    schemas = {s["id"]: s for s in client.get("/Schemas").get_json()["Resources"]}
    user = {a["name"]: a for a in schemas["urn:ietf:params:scim:schemas:core:2.0:User"]["attributes"]}
    assert "userName" in user and "active" in user
    assert "nickName" not in user and "ims" not in user and "roles" not in user
    assert {s["name"] for s in user["emails"]["subAttributes"]} == {"value", "type"}
    assert {s["name"] for s in user["name"]["subAttributes"]} == {"givenName", "familyName", "formatted"}
    enterprise = schemas["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert {a["name"] for a in enterprise["attributes"]} == {"employeeNumber", "department", "organization", "manager"}
    one = client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").get_json()
    assert one["id"] == "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path",
    [
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User/attributes",
    ],
)
def test_writes_to_discovery_endpoints_are_405_with_allow_not_404(client, method, path):
    response = client.request(method, path, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Content-Type"] == "application/scim+json"
    body = response.get_json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert (body["status"], "scimType" in body) == ("405", False)
    assert f"{method} is not allowed on /scim/v2{path}" in body["detail"]


def test_discovery_still_reads_after_a_refused_write(client):
    assert client.post("/ServiceProviderConfig", {}).status_code == 405
    assert client.get("/ServiceProviderConfig").status_code == 200
    assert client.get("/ResourceTypes/User").get_json()["name"] == "User"


def test_a_method_a_resource_endpoint_never_takes_is_405_with_its_allow(client):
    response = client.request("PUT", "/Users")
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD, OPTIONS, POST")
    assert response.get_json()["status"] == "405"
