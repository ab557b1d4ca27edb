"""`mapping preview` and a map's `examples:`: a SCIM request through the server's own code,
on a backend that writes nothing down but a transcript.

The request takes the road every Entra request takes (ResourceService: normalize, PATCH,
required and unique rules, the map, the backend's own compose functions); only the last
step, sending, is replaced. So a preview cannot drift from what the server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.backends.base import BackendError, NoPreview
from gateway.backends.registry import backend_kind
from gateway.mapping import codec
from gateway.mapping.model import Example, Mapping
from gateway.scim.errors import ScimError, not_found, scim_error_for
from gateway.scim.resource import normalize
from gateway.service import ResourceService, store_spec
from gateway.store import Entry, Ref
from gateway.yamlfile import Problem

STARTING_POINT = {"users": {"userName": "current.user"}, "groups": {"displayName": "current group"}}


@dataclass(frozen=True)
class Preview:
    transcript: str  # what the backend would send, in its own language (LDIF for LDAP)
    response: dict  # what the gateway would answer
    entry: Entry | None  # the entry as it would be afterwards


def is_patch(body: Any) -> bool:
    return isinstance(body, dict) and any(str(key).lower() == "operations" for key in body)


def preview_request(mapping: Mapping, kind: str, body: Any, current: dict | None = None) -> Preview:
    """POST `body` (or PATCH it onto `current`, by default a bare user or group).

    A request the gateway would refuse raises the `ScimError` the server would answer with.
    """
    resource_map = mapping.resource_maps.get(kind)
    if resource_map is None:
        raise not_found(f"the map has no {kind} section")
    backend = backend_kind(mapping.backend).preview_backend(
        {name: store_spec(m) for name, m in mapping.resource_maps.items() if m is not None}
    )
    service = ResourceService(resource_map, backend)
    try:
        if is_patch(body):
            start = normalize(current or STARTING_POINT[kind], resource_map.resource_type)
            given = (current or {}).get("id")  # the user as the gateway answered it: its own id
            current_id = given if isinstance(given, str) and given.strip() else backend.current_id
            backend.seed(kind, current_id, codec.to_record(resource_map, start))
            response = service.patch(current_id, body)
            assert response is not None  # a PATCH that responds answers the resource
        else:
            response = service.create(body)
    except BackendError as error:
        raise scim_error_for(error) from None
    return Preview(backend.transcript(), response, backend.entry(kind, response["id"]))


def run_examples(mapping: Mapping) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) from the map's examples: each must write what it expects, or be refused."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    if mapping.examples:
        try:
            backend_kind(mapping.backend).preview_backend({})
        except NoPreview as missing:
            return [], [Problem(mapping.source, mapping.examples[0].line, f"examples not run: {missing}", warning=True)]
    for example in mapping.examples:
        where = f"example {example.name!r}"
        try:
            result = preview_request(mapping, example.resource, example.request, example.current)
        except ScimError as refused:
            if example.error is None or example.error.lower() not in refused.detail.lower():
                expected = f"to be refused with {example.error!r}" if example.error else "to be accepted"
                errors.append(
                    Problem(mapping.source, example.line, f"{where}: expected {expected}, got {refused.summary()}")
                )
            continue
        if example.error is not None:
            errors.append(Problem(mapping.source, example.line, f"{where}: expected a refusal ({example.error!r})"))
            continue
        for difference in _differences(example.expect or {}, result.entry):
            errors.append(Problem(mapping.source, example.line, f"{where}: {difference}"))
        if not is_patch(example.request):
            for difference in _round_trip(mapping, example, result.response):
                warnings.append(Problem(mapping.source, example.line, f"{where}: {difference}", warning=True))
    return errors, warnings


def _differences(expect: dict, entry: Entry | None) -> list[str]:
    if entry is None:
        return ["nothing was written"]
    found = []
    for name, wanted in expect.items():
        if name.lower() == "dn":
            if str(wanted).lower() != entry.locator.lower():
                found.append(f"expected dn {wanted!r}, the gateway writes {entry.locator!r}")
            continue
        actual = sorted(_text(v) for v in entry.attributes.get(name.lower(), []))
        expected = [] if wanted is None else sorted(str(w) for w in (wanted if isinstance(wanted, list) else [wanted]))
        if actual != expected:
            found.append(f"expected {name}: {expected or 'absent'}, the gateway writes {actual or 'nothing'}")
    return found


def _text(value: Any) -> str:
    return (value.locator or value.id or "") if isinstance(value, Ref) else str(value)


def _round_trip(mapping: Mapping, example: Example, response: dict) -> list[str]:
    """Attributes the example sends that would not read back the same: Entra re-sends those."""
    resource_map = mapping.resource_maps[example.resource]
    sent = normalize(example.request, resource_map.resource_type)
    found = []
    for rule in resource_map.rules:
        if rule.reference:
            continue
        before, after = codec.read_scim(sent, rule.path), codec.read_scim(response, rule.path)
        if before and before != after:
            found.append(
                f"Entra sends {rule.path} {before[0]!r} and would read back "
                f"{after[0] if after else None!r}, so it will re-send it every cycle"
            )
    return found
