"""What happened to a user or group, from the audit trail: the lines that name it, newest first.

A query matches a line's userName/displayName, SCIM id or directory key (DN or API id, old or
new) without regard to case; every line with the SCIM id of a matching line then belongs to
the answer too, so asking by userName also finds the delete (which names only the id) and the
lines written under an earlier name. Rotated files (`audit.log.1`, `audit.log.2.gz`,
`audit.log-20261202`) are read along with the current one.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

ARROW = "→"


def trail_files(path: Path) -> list[Path]:
    """The trail file and its rotated siblings."""
    siblings = [p for p in path.parent.glob(path.name + "*") if p == path or re.match(r"[.-]", p.name[len(path.name)])]
    return sorted(siblings)


def read_lines(sources: Iterable[Path | TextIO]) -> Iterator[dict]:
    """Audit lines from files or streams; anything else (log lines in a journal) is skipped."""
    for source in sources:
        if isinstance(source, Path):
            opener = gzip.open if source.suffix == ".gz" else open
            with opener(source, "rt", encoding="utf-8", errors="replace") as stream:
                yield from _audit_lines(stream)
        else:
            yield from _audit_lines(source)


def _audit_lines(stream: Iterable[str]) -> Iterator[dict]:
    for text in stream:
        start = text.find("{")  # a journal may prefix each line with a time and a process
        if start < 0:
            continue
        try:
            line = json.loads(text[start:])
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("audit"):
            yield line


def parse_time(text: str) -> datetime:
    """`2026-12-02`, `2026-12-02T10:00`, `2026-12-02 10:00:00Z`, ...; without a zone: UTC."""
    moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select(
    lines: Iterable[dict],
    query: str | None = None,
    tenant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict]:
    """The lines about `query` (and its SCIM ids) within the tenant and time range, newest first."""
    kept = [line for line in lines if tenant is None or line.get("tenant") == tenant]
    kept = [line for line in kept if _within(line, since, until)]
    if query:
        wanted = _folded(query)
        hits = [line for line in kept if wanted in {_folded(line.get(k)) for k in ("name", "id", "key", "old_key")}]
        ids = {_folded(line.get("id")) for line in hits if line.get("id")}
        about = [line for line in kept if line in hits or _folded(line.get("id")) in ids]
        requests = {line.get("request_id") for line in about if line.get("request_id")}
        kept = [line for line in kept if line in about or _follows(line, requests)]
    return sorted(kept, key=lambda line: str(line.get("time", "")), reverse=True)


def _follows(line: dict, requests: set) -> bool:
    """A write the gateway made on its own (`integrity`) in one of these requests."""
    return line.get("operation") == "integrity" and line.get("request_id") in requests


def _within(line: dict, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    try:
        moment = parse_time(str(line.get("time", "")))
    except ValueError:
        return False
    return (since is None or moment >= since) and (until is None or moment <= until)


def _folded(value: Any) -> str:
    """Case and the spaces around a DN's commas do not matter."""
    return re.sub(r"\s*,\s*", ",", str(value or "")).strip().lower()


def known_names(lines: Iterable[dict]) -> dict[str, str]:
    """The latest userName/displayName of each SCIM id, for lines that do not carry it (a delete)."""
    names: dict[str, str] = {}
    for line in sorted(lines, key=lambda line: str(line.get("time", ""))):
        if line.get("id") and line.get("name"):
            names[_folded(line["id"])] = line["name"]
    return names


def describe(line: dict, names: dict[str, str] | None = None) -> str:
    """A line as text for a person: what, who, and each attribute's old and new values."""
    subject = line.get("name") or (names or {}).get(_folded(line.get("id"))) or line.get("id") or line.get("key") or "?"
    outcome = line.get("outcome", "?")
    if line.get("reason"):
        outcome += f": {line['reason']}"
    text = [
        f"{line.get('time', '?')}  {line.get('operation', '?')} {line.get('resource_type', '?')} {subject}  {outcome}"
    ]
    where = [f"id {line['id']}"] if line.get("id") else []
    if line.get("old_key"):
        where.append(f"{line['old_key']} {ARROW} {line.get('key')}")
    elif line.get("key"):
        where.append(str(line["key"]))
    if line.get("cause"):
        where.append(f"(references to {line['cause']})")
    if where:
        text.append("    " + "  ".join(where))
    who = " ".join(
        part
        for part in (
            f"by {line['credential']}" if line.get("credential") else "",
            f"from {line['client']}" if line.get("client") else "",
        )
        if part
    )
    text.append(f"    {who + '; ' if who else ''}tenant {line.get('tenant')}, request {line.get('request_id')}")
    for change in line.get("changes", []):
        text.append(f"    {change.get('attribute')}: {_change_text(change)}")
    return "\n".join(text)


def _change_text(change: dict) -> str:
    values = ", ".join(str(v) for v in change.get("values", [])) or "(none)"
    if change.get("op") == "add" and "old" not in change:
        return f"+ {values}"
    if change.get("op") == "delete":
        return f"- {values}"
    if "old" in change:
        old = ", ".join(str(v) for v in change["old"]) or "(none)"
        return f"{old} {ARROW} {values}"
    return values
