"""Discovery endpoints advertise what the map stores, and nothing else."""


def test_service_provider_config(client):
    body = client.get("/ServiceProviderConfig").get_json()
    assert body["patch"] == {"supported": True}
    assert body["filter"]["supported"] is True
    assert body["bulk"]["supported"] is False
    assert body["sort"] == {"supported": False}
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_list_users_with_the_enterprise_extension(client):
    body = client.get("/ResourceTypes").get_json()
    [users] = body["Resources"]
    assert users["endpoint"] == "/Users"
    assert users["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False}
    ]
    assert client.get("/ResourceTypes/User").get_json()["name"] == "User"


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
