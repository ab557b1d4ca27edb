"""The REST backend kind: what the rest of the gateway needs to know to configure, check,
make and preview a backend for a legacy HTTP API (see `BackendKind`)."""

from __future__ import annotations

from typing import Any

from gateway.backends.base import BackendKind, StoreSpec
from gateway.backends.rest import check
from gateway.backends.rest.backend import RestBackend
from gateway.backends.rest.preview import RestPreview
from gateway.backends.rest.settings import RestSchema, RestSettings, rest_settings
from gateway.backends.rest.target import FIELD_NAME, RestTarget
from gateway.backends.rest.target_schema import RestTargetSchema
from gateway.backends.rest.transport import Transport


def _make(settings: RestSettings, specs: dict[str, StoreSpec[Any]]) -> RestBackend:
    return RestBackend(Transport(settings), specs)


REST: BackendKind[RestSettings, RestBackend] = BackendKind(
    name="rest",
    what="a REST API",
    settings_schema=RestSchema,
    load_settings=rest_settings,
    target_schema=RestTargetSchema,
    target_class=RestTarget,
    make=_make,
    attribute_pattern=FIELD_NAME.pattern,
    noun="API field",
    section="a 'rest:' section",
    default_id="id",
    preview=RestPreview,
    check=check.check,
    probe=check.probe,
)
