"""`scim-gateway`: the one command-line tool (serve, mapping check|preview, token, basic, client)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from gateway.cli import credentials, history
from gateway.yamlfile import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scim-gateway", description="SCIM 2.0 gateway for Entra ID provisioning")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--config", required=True, type=Path, help="the settings file (YAML)")
    serve.add_argument("--listen", help="HOST:PORT to listen on (default: the settings' listen)")
    serve.add_argument(
        "--gunicorn-config", type=Path, help="overrides of the gunicorn settings (deploy/gunicorn.conf.py)"
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        help="where the last good configuration is kept, served when the files do not load"
        " (default: $STATE_DIRECTORY, which systemd sets)",
    )

    online = commands.add_parser(
        "check", help="check every tenant online: files, bind, base DNs, schema, controls, limits, the API's login"
    )
    online.add_argument("--config", required=True, type=Path, help="the settings file (YAML)")
    online.add_argument("--user", help="check the files as readable by this user (default: the one running this)")

    mapping = commands.add_parser("mapping", help="check or preview a map").add_subparsers(dest="action", required=True)
    check = mapping.add_parser("check", help="validate a map, run its examples, warn about what Entra would re-send")
    check.add_argument("file", type=Path)
    check.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    preview = mapping.add_parser(
        "preview", help="print what a SCIM request on stdin would write (LDIF, or the REST calls)"
    )
    preview.add_argument("file", type=Path)
    preview.add_argument("--current", type=Path, help="the user (or group) a PATCH applies to, as SCIM JSON")
    preview.add_argument("--resource", choices=["users", "groups"], help="default: from the request's schemas")
    preview.add_argument("--response", action="store_true", help="also print the gateway's answer")

    credentials.add_commands(commands)  # token, basic, client
    history.add_command(commands)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except BrokenPipeError:  # `scim-gateway history USER | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, as a shell tool killed by it


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from gateway.observability import multiprocess

        multiprocess.prepare()  # before prometheus-client is imported: every worker counts in files
        from gateway.serve import serve

        serve(args.config, args.listen, args.gunicorn_config, args.state_dir)
        return 0
    if args.command == "check":
        from gateway.checks import run_check

        return run_check(args.config, args.user)
    if args.command == "mapping":
        from gateway.cli import mapping as mapping_tool

        if args.action == "check":
            return mapping_tool.check(args.file, args.strict)
        return mapping_tool.preview(
            args.file, current_path=args.current, resource=args.resource, show_response=args.response
        )
    if args.command == "history":
        return history.run(args)
    return credentials.run(args)
