"""`scim-gateway mapping check` and `mapping preview`, as the command line runs them.

check:   load the map (errors: exit 2), run its examples (failures: exit 1), and print every
         warning (Entra attributes dropped or not read back unchanged, lossy transforms,
         unindexed lookups); `--strict` makes warnings fail too.
preview: one SCIM request from stdin through the server's own code, printed as what the
         backend would send (LDIF for an LDAP map); nothing is contacted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from gateway.backends.base import NoPreview
from gateway.mapping.audit import audit
from gateway.mapping.loader import load_mapping
from gateway.request_preview import preview_request, run_examples
from gateway.scim.errors import ScimError
from gateway.scim.schema import CORE_GROUP


def check(path: Path, strict: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    mapping = load_mapping(path)  # ConfigError: the caller reports it (exit 2)
    errors, example_warnings = run_examples(mapping)
    warnings = audit(mapping) + example_warnings
    for problem in errors + warnings:
        print(problem, file=err)
    parts = [f"{name} ({len(m.rules) + len(m.families)} attributes)" for name, m in mapping.resource_maps.items() if m]
    summary = f"{path}: {'FAILED' if errors else 'ok'}: {', '.join(parts)}"
    if mapping.examples:
        summary += f"; {len(mapping.examples) - len(errors)} of {len(mapping.examples)} examples pass"
    if warnings:
        summary += f"; {len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
    print(summary, file=out)
    if errors:
        return 1
    return 1 if strict and warnings else 0


def preview(
    path: Path,
    stdin: TextIO | None = None,
    current_path: Path | None = None,
    resource: str | None = None,
    show_response: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    mapping = load_mapping(path)
    try:
        body = json.loads(stdin.read())
        current = json.loads(current_path.read_text()) if current_path else None
    except (OSError, ValueError) as error:
        print(f"cannot read the request: {error}", file=err)
        return 2
    kind = resource or _kind_of(body, current)
    try:
        result = preview_request(mapping, kind, body, current)
    except ScimError as refused:
        print(f"the gateway would refuse this request with {refused.summary()}", file=err)
        return 1
    except NoPreview as missing:
        print(f"{path}: {missing}", file=err)
        return 2
    print(result.transcript or "# nothing would change: the request holds what the directory holds", file=out)
    if show_response:
        print("# the gateway would answer:", file=out)
        print("\n".join(f"# {line}" for line in json.dumps(result.response, indent=2).splitlines()), file=out)
    return 0


def _kind_of(body: object, current: object) -> str:
    """Groups when the request (or the current resource) says it is a Group; else users."""
    for candidate in (body, current):
        schemas = candidate.get("schemas", []) if isinstance(candidate, dict) else []
        if any(str(s).lower() == CORE_GROUP.lower() for s in schemas):
            return "groups"
    return "users"
