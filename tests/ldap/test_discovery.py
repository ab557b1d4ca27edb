"""Discovery endpoints advertise what the map stores, and nothing else."""

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
