"""What a map for each backend looks like: the schema of its section (`ldap:` or `rest:`) and
how it names the attributes of a record (LDAP attribute names, an API's JSON field names)."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, validate

from gateway.backends.ldap.target import ATTRIBUTE_NAME, LdapTargetSchema
from gateway.backends.rest.target import FIELD_NAME, RestTargetSchema


@dataclass(frozen=True)
class BackendSyntax:
    target_schema: type[Schema]
    attribute_pattern: str  # a regular expression every attribute name of a record must match
    noun: str  # what the map's right-hand side is called in error messages
    section: str  # the backend's own section, with its article, for messages

    @property
    def a_noun(self) -> str:
        return f"an {self.noun}" if self.noun[0] in "aeiouAEIOU" else f"a {self.noun}"

    def attribute_name(self) -> validate.Regexp:
        return validate.Regexp(self.attribute_pattern, error="{input!r} is not " + f"{self.a_noun} name")


BACKENDS: dict[str, BackendSyntax] = {
    "ldap": BackendSyntax(LdapTargetSchema, ATTRIBUTE_NAME.pattern, "directory attribute", "an 'ldap:' section"),
    "rest": BackendSyntax(RestTargetSchema, FIELD_NAME.pattern, "API field", "a 'rest:' section"),
}


def backend_syntax(backend: str) -> BackendSyntax:
    if backend not in BACKENDS:
        raise KeyError(f"no backend named {backend!r}")
    return BACKENDS[backend]


def target_schema(backend: str) -> type[Schema]:
    return backend_syntax(backend).target_schema
