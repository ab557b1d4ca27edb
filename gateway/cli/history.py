"""`scim-gateway history`: "who changed this user, and when?", answered from the audit trail."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.observability import history

# Imported by the CLI before `serve` sets up the metrics: nothing here may import
# prometheus-client at import time (gateway.settings does), so those imports wait for run().


def add_command(commands) -> None:
    parser = commands.add_parser(
        "history",
        help="what happened to a user or group, from the audit trail (newest first)",
        description="Lines of the audit trail about a userName, SCIM id or DN (and, once found, "
        "everything done to that id), or within a time range; newest first.",
    )
    parser.add_argument("--config", required=True, type=Path, help="the settings file (its audit_log)")
    parser.add_argument("--tenant", help="only this tenant's lines")
    parser.add_argument(
        "--since", help="from this time on (UTC unless it says otherwise): 2026-12-01, 2026-12-01T08:00"
    )
    parser.add_argument("--until", help="up to this time")
    parser.add_argument("--file", help="read this trail instead of the settings' audit_log ('-': standard input)")
    parser.add_argument("--json", action="store_true", help="print the lines as JSON, one per line")
    parser.add_argument("query", nargs="?", help="a userName, displayName, SCIM id or DN")


def run(args: argparse.Namespace) -> int:
    if not args.query and not (args.since or args.until):
        print("say what to look for: a userName, SCIM id or DN, or --since/--until", file=sys.stderr)
        return 2
    try:
        since = history.parse_time(args.since) if args.since else None
        until = history.parse_time(args.until) if args.until else None
    except ValueError as error:
        print(f"--since/--until: {error} (e.g. 2026-12-01 or 2026-12-01T08:00Z)", file=sys.stderr)
        return 2
    from gateway.settings import load_settings

    settings = load_settings(args.config)
    sources = _sources(args, settings.audit_log)
    if sources is None:
        return 2
    if args.tenant and args.tenant not in {t.name for t in settings.tenants}:
        print(f"{args.config} has no tenant {args.tenant!r}", file=sys.stderr)
        return 2
    found = history.select(history.read_lines(sources), args.query, args.tenant, since, until)
    names = history.known_names(found)
    for line in found:
        print(json.dumps(line, ensure_ascii=False) if args.json else history.describe(line, names) + "\n")
    if not found:
        print("no line of the audit trail matches", file=sys.stderr)
        return 1
    return 0


def _sources(args: argparse.Namespace, destination: str) -> list | None:
    if args.file == "-":
        return [sys.stdin]
    if args.file:
        return [Path(args.file)]
    if destination == "stdout":
        print(
            f"{args.config} sends the audit trail to stdout (audit_log: stdout); read it back with --file, e.g.\n"
            f"  journalctl -u scim-gateway -o cat | scim-gateway history --config {args.config} --file - QUERY",
            file=sys.stderr,
        )
        return None
    files = history.trail_files(Path(destination))
    if not files:
        print(f"no audit trail at {destination} yet (audit_log in {args.config})", file=sys.stderr)
        return None
    return files
