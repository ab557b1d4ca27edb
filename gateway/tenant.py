"""A tenant: one Tenant URL with its tokens, its map and its backend, assembled from settings."""

from __future__ import annotations

from gateway.backends.base import Backend
from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.connection import ConnectionPool
from gateway.mapping.loader import load_mapping
from gateway.mapping.model import Mapping
from gateway.service import ResourceService, store_spec
from gateway.settings import TenantSettings
from gateway.tokens import StoredToken, TokenFile, matching
from gateway.yamlfile import ConfigError, Problem


class Tenant:
    def __init__(self, settings: TenantSettings, mapping: Mapping, backend: Backend):
        self.settings = settings
        self.name = settings.name
        self.mapping = mapping
        self.backend = backend
        self.token_file = TokenFile(settings.tokens_file)
        self.services = {
            resource_map.resource_type.endpoint.strip("/"): ResourceService(resource_map, backend)
            for resource_map in mapping.resource_maps.values()
        }

    @classmethod
    def build(cls, settings: TenantSettings) -> Tenant:
        mapping = load_mapping(settings.mapping_path)
        return cls(settings, mapping, make_backend(settings, mapping))

    def authenticate(self, token: str) -> StoredToken | None:
        return matching(token, self.token_file.tokens())

    def close(self) -> None:
        self.backend.close()


def make_backend(settings: TenantSettings, mapping: Mapping) -> Backend:
    specs = {name: store_spec(resource_map) for name, resource_map in mapping.resource_maps.items()}
    if mapping.backend == "ldap":
        if settings.ldap is None:
            raise ConfigError(
                [
                    Problem(
                        str(settings.mapping_path),
                        None,
                        f"tenant {settings.name}: the map is for LDAP, but the tenant has no ldap: settings",
                    )
                ]
            )
        return LdapBackend(ConnectionPool(settings.ldap), specs)
    raise ConfigError([Problem(str(settings.mapping_path), None, f"no backend named {mapping.backend!r}")])
