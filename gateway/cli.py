"""`scim-gateway`: the one command-line tool (serve, mapping, token)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from gateway.yamlfile import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scim-gateway", description="SCIM 2.0 gateway for Entra ID provisioning")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--config", required=True, type=Path, help="the settings file (YAML)")
    serve.add_argument("--listen", help="HOST:PORT to listen on (default: the settings' listen)")
    serve.add_argument("--gunicorn-config", type=Path, help="a gunicorn config file, e.g. deploy/gunicorn.conf.py")

    mapping = commands.add_parser("mapping", help="check a map").add_subparsers(dest="action", required=True)
    check = mapping.add_parser("check", help="validate a map file and report problems with their line")
    check.add_argument("file", type=Path)

    token = commands.add_parser("token", help="manage Secret Tokens").add_subparsers(dest="action", required=True)
    for action, text in (
        ("create", "mint a token (printed once)"),
        ("list", "list tokens"),
        ("revoke", "revoke a token"),
    ):
        sub = token.add_parser(action, help=text)
        sub.add_argument("--config", required=True, type=Path, help="the settings file (YAML)")
        sub.add_argument("--tenant", help="tenant name (default: the only tenant)")
        if action in ("create", "revoke"):
            sub.add_argument("--name", default="entra", help="a name for the token (default: entra)")
        if action == "create":
            sub.add_argument("--scope", default="scim", choices=["scim", "read-only"])

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from gateway.serve import serve

        serve(args.config, args.listen, args.gunicorn_config)
        return 0
    if args.command == "mapping":
        from gateway.mapping.loader import load_mapping

        mapping = load_mapping(args.file)
        names = ", ".join(f"{name} ({len(m.rules)} attributes)" for name, m in mapping.resource_maps.items())
        print(f"{args.file}: ok: {names}")
        return 0
    return _token(args)


def _token(args: argparse.Namespace) -> int:
    from gateway.settings import load_settings
    from gateway.tokens import TokenFile, read_tokens, write_tokens

    settings = load_settings(args.config)
    tenants = {t.name: t for t in settings.tenants}
    if args.tenant is None and len(tenants) > 1:
        print(f"several tenants: choose one with --tenant ({', '.join(tenants)})", file=sys.stderr)
        return 2
    tenant = tenants.get(args.tenant) if args.tenant else next(iter(tenants.values()))
    if tenant is None:
        print(f"no tenant named {args.tenant!r} ({', '.join(tenants)})", file=sys.stderr)
        return 2
    path = tenant.tokens_file
    if args.action == "create":
        token = TokenFile(path).add(args.name, args.scope)
        print(f"Secret Token: {token}")
        print("(shown once: only its hash is stored)", file=sys.stderr)
        return 0
    stored = read_tokens(path) if path.exists() else []
    if args.action == "list":
        for item in stored:
            print(f"{item.name}\t{item.scope}\t{item.created}")
        return 0
    kept = [t for t in stored if t.name != args.name]
    if len(kept) == len(stored):
        print(f"no token named {args.name!r}", file=sys.stderr)
        return 1
    write_tokens(path, kept)
    print(f"revoked {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
