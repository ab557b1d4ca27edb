"""Which settings schema reads a map's backend section (`ldap:` or `rest:`)."""

from __future__ import annotations

from marshmallow import Schema

from gateway.backends.ldap.target import LdapTargetSchema


def target_schema(backend: str) -> type[Schema]:
    schemas: dict[str, type[Schema]] = {"ldap": LdapTargetSchema}
    if backend not in schemas:
        raise KeyError(f"no backend named {backend!r}")
    return schemas[backend]
