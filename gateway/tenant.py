"""A tenant: one Tenant URL with its credentials, its map and its backend, assembled from settings."""

from __future__ import annotations

from gateway.auth.authenticator import Authenticator
from gateway.backends.base import Backend
from gateway.backends.registry import backend_kind
from gateway.mapping.loader import load_mapping
from gateway.mapping.model import Mapping
from gateway.observability.trail import AuditedBackend, AuditedKind, AuditTrail
from gateway.service import ResourceService, store_spec
from gateway.settings import TenantSettings
from gateway.yamlfile import ConfigError, Problem


class Tenant:
    def __init__(self, settings: TenantSettings, mapping: Mapping, backend: Backend, trail: AuditTrail | None = None):
        self.settings = settings
        self.name = settings.name
        self.mapping = mapping
        if trail is not None:  # every write through this tenant leaves a line in the audit trail
            backend = AuditedBackend(backend, trail, audited_kinds(mapping))
        self.backend = backend
        connection = settings.backends.get(mapping.backend)
        # What Entra is told to wait when the backend is down and says nothing of its own.
        self.retry_after: int = connection.retry_after if connection is not None else 30
        self.authenticator = Authenticator(settings.name, settings.policy.auth, settings.tokens_file)
        self.services = {
            resource_map.resource_type.endpoint.strip("/"): ResourceService(
                resource_map, backend, settings.policy.limits
            )
            for resource_map in mapping.resource_maps.values()
        }

    @classmethod
    def build(cls, settings: TenantSettings, trail: AuditTrail | None = None) -> Tenant:
        mapping = load_mapping(settings.mapping_path)
        return cls(settings, mapping, make_backend(settings, mapping), trail)

    def close(self) -> None:
        self.backend.close()


def audited_kinds(mapping: Mapping) -> dict[str, AuditedKind]:
    return {
        name: AuditedKind(
            resource_type=resource_map.resource_type.name,
            name_attribute=resource_map.name_attribute,
            sensitive=resource_map.sensitive_attributes,
        )
        for name, resource_map in mapping.resource_maps.items()
    }


def make_backend(settings: TenantSettings, mapping: Mapping) -> Backend:
    """The backend the map is written for, with the connection settings of the tenant."""
    kind = backend_kind(mapping.backend)
    connection = settings.backends.get(kind.name)
    if connection is None:
        message = f"tenant {settings.name}: the map is for {kind.what}, but the tenant has no {kind.name}: settings"
        raise ConfigError([Problem(str(settings.mapping_path), None, message)])
    specs = {name: store_spec(resource_map) for name, resource_map in mapping.resource_maps.items()}
    return kind.make(connection, specs)
