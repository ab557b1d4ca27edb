"""ServiceProviderConfig, ResourceTypes and Schemas (RFC 7643 sections 5-7), from the map.

Advertise what the map stores and nothing else: an attribute Entra could pick in its mapping
screen but we would drop is exactly the kind of silent failure that makes it re-PATCH forever.
"""

from __future__ import annotations

from gateway.scim.schema import Attribute, ResourceType, Schema

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def service_provider_config(max_results: int, authentication_schemes: list[dict], default_page_size: int = 100) -> dict:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/scim-gateway/scim-gateway#readme",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        # RFC 9865: pages by cursor as well as by startIndex; our cursors never expire.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": default_page_size,
            "maxPageSize": max_results,
        },
        "etag": {"supported": False},
        "authenticationSchemes": authentication_schemes,
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"},
    }


def authentication_schemes(
    tokens: bool, basic: bool, oauth_token_url: str | None, entra_tenant_id: str | None
) -> list[dict]:
    """The ways in a tenant accepts (RFC 7643 section 5), the first of them primary."""
    schemes = []
    if tokens:
        schemes.append(
            _scheme(
                "oauthbearertoken",
                "Secret Token",
                "A Secret Token minted by `scim-gateway token create`, sent as a Bearer token",
                "https://www.rfc-editor.org/rfc/rfc6750",
            )
        )
    if oauth_token_url:
        schemes.append(
            _scheme(
                "oauth2",
                "OAuth 2.0 client credentials",
                f"An access token from {oauth_token_url} (grant_type=client_credentials, a client made by "
                "`scim-gateway client create`), sent as a Bearer token",
                "https://www.rfc-editor.org/rfc/rfc6749#section-4.4",
            )
        )
    if entra_tenant_id:
        schemes.append(
            _scheme(
                "oauthbearertoken",
                "Entra ID JWT",
                f"A bearer JWT that Microsoft Entra ID issues for its tenant {entra_tenant_id}",
                "https://www.rfc-editor.org/rfc/rfc7519",
            )
        )
    if basic:
        schemes.append(
            _scheme(
                "httpbasic",
                "HTTP Basic",
                "A user name and password made by `scim-gateway basic create`",
                "https://www.rfc-editor.org/rfc/rfc7617",
            )
        )
    return [{**scheme, "primary": index == 0} for index, scheme in enumerate(schemes)]


def _scheme(kind: str, name: str, description: str, spec_uri: str) -> dict:
    return {"type": kind, "name": name, "description": description, "specUri": spec_uri}


def resource_type_json(resource_type: ResourceType) -> dict:
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": resource_type.name,
        "name": resource_type.name,
        "endpoint": resource_type.endpoint,
        "description": f"{resource_type.name}s provisioned through this gateway",
        "schema": resource_type.core.id,
        "schemaExtensions": [{"schema": e.id, "required": False} for e in resource_type.extensions],
        "meta": {"resourceType": "ResourceType", "location": f"/ResourceTypes/{resource_type.name}"},
    }


def schema_json(schema: Schema, stored: set[tuple[str, str | None]]) -> dict:
    """A schema trimmed to the attributes (and sub-attributes) the map stores."""
    attributes = []
    for attribute in schema.attributes:
        kept = _kept(attribute, stored)
        if kept is not None:
            attributes.append(kept.to_json())
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"/Schemas/{schema.id}"},
    }


def _kept(attribute: Attribute, stored: set[tuple[str, str | None]]) -> Attribute | None:
    if (attribute.name, None) in stored:
        return attribute
    subs = tuple(s for s in attribute.sub_attributes if (attribute.name, s.name) in stored)
    if not subs:
        return None
    # a typed element (emails[type eq "work"]) also stores its type
    kind = attribute.sub("type")
    if attribute.multi_valued and kind is not None and kind not in subs:
        subs = (*subs, kind)
    return Attribute(
        attribute.name,
        attribute.type,
        attribute.multi_valued,
        subs,
        attribute.required,
        attribute.case_exact,
        attribute.mutability,
        attribute.returned,
        attribute.uniqueness,
        attribute.description,
    )
