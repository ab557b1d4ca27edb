"""The LDAP backend kind: what the rest of the gateway needs to know to configure, check,
make and preview an LDAP backend (see `BackendKind`)."""

from __future__ import annotations

from typing import Any

from gateway.backends.base import BackendKind, StoreSpec
from gateway.backends.ldap import check
from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.preview import LdapPreview
from gateway.backends.ldap.settings import LdapSchema, LdapSettings, ldap_settings
from gateway.backends.ldap.target import ATTRIBUTE_NAME, LdapTarget, LdapTargetSchema


def _make(settings: LdapSettings, specs: dict[str, StoreSpec[Any]]) -> LdapBackend:
    return LdapBackend(ConnectionPool(settings), specs)


LDAP: BackendKind[LdapSettings, LdapBackend] = BackendKind(
    name="ldap",
    what="LDAP",
    settings_schema=LdapSchema,
    load_settings=ldap_settings,
    target_schema=LdapTargetSchema,
    target_class=LdapTarget,
    make=_make,
    attribute_pattern=ATTRIBUTE_NAME.pattern,
    noun="directory attribute",
    section="an 'ldap:' section",
    default_id="entryUUID",
    default_created="createTimestamp",
    default_modified="modifyTimestamp",
    preview=LdapPreview,
    check=check.check,
    probe=check.probe,
)
