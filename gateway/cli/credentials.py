"""`scim-gateway token|basic|client create|list|revoke`: a tenant's credentials, hashes only.

Each secret is printed once, on stdout, and only its hash is written (gateway/credentials.py); the
running gateway re-reads the file, so a new or revoked credential counts at once. They cannot
hurt: an existing name is refused without `--replace` (replacing revokes), `revoke` needs
`--name`, missing folders are created, and the file keeps its owner and mode (or takes
`--owner`), so a root shell never leaves the service a file it cannot read. A Basic
password may be given on stdin (never as an argument: `ps` would show it to every user).
"""

from __future__ import annotations

import argparse
import pwd
import secrets
import stat
import sys
from pathlib import Path

from gateway.credentials import CredentialExists
from gateway.privatefiles import Owner

KINDS = {
    "token": ("tokens", "Secret Tokens (Authorization: Bearer)", "entra"),
    "basic": ("basic_users", "HTTP Basic users", "entra"),
    "client": ("oauth_clients", "OAuth2 clients (client credentials)", "entra"),
}


def add_commands(commands) -> None:
    for command, (_, title, default_name) in KINDS.items():
        actions = commands.add_parser(command, help=f"manage {title}").add_subparsers(dest="action", required=True)
        for action, text in (
            ("create", "mint one (its secret is printed once)"),
            ("list", "list them"),
            ("revoke", "revoke one"),
        ):
            sub = actions.add_parser(action, help=text)
            sub.add_argument("--config", required=True, type=Path, help="the settings file (YAML)")
            sub.add_argument("--tenant", help="tenant name (default: the only tenant)")
            if action == "create":
                sub.add_argument("--name", default=default_name, help=f"its name (default: {default_name})")
                sub.add_argument("--scope", default="scim", choices=["scim", "read-only"])
                sub.add_argument(
                    "--replace", action="store_true", help="replace (so revoke) the one with this name if there is one"
                )
            if action == "revoke":
                sub.add_argument("--name", required=True, help="the one to revoke (see `list`)")
            if action != "list":
                sub.add_argument(
                    "--owner",
                    help="user[:group] the credentials file belongs to (default: its current owner, or for a new"
                    " file the owner of its folder)",
                )
            if action == "create" and command == "basic":
                sub.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


def run(args: argparse.Namespace) -> int:
    from gateway.credentials import CredentialFile
    from gateway.settings import load_settings

    settings = load_settings(args.config)
    tenants = {t.name: t for t in settings.tenants}
    if args.tenant is None and len(tenants) > 1:
        print(f"several tenants: choose one with --tenant ({', '.join(tenants)})", file=sys.stderr)
        return 2
    tenant = tenants.get(args.tenant) if args.tenant else next(iter(tenants.values()))
    if tenant is None:
        print(f"no tenant named {args.tenant!r} ({', '.join(tenants)})", file=sys.stderr)
        return 2
    kind = KINDS[args.command][0]
    credentials = CredentialFile(tenant.tokens_file)
    try:
        owner = Owner.parse(args.owner) if getattr(args, "owner", None) else None
    except ValueError as error:
        print(f"--owner: {error}", file=sys.stderr)
        return 2
    if args.action == "list":
        for entry in credentials.credentials().of(kind):
            print(f"{entry.name}\t{entry.scope}\t{entry.created}")
        return 0
    if args.action == "revoke":
        if not credentials.revoke(kind, args.name, owner):
            print(f"no {args.command} named {args.name!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.name}")
        return 0
    try:
        status = _create(args, tenant, credentials, owner)
    except CredentialExists:
        print(
            f"{tenant.tokens_file} already holds a {args.command} named {args.name!r}: choose another --name,"
            " or add --replace to replace it (the old one stops working)",
            file=sys.stderr,
        )
        return 1
    except OSError as error:
        print(f"cannot write {error.filename or tenant.tokens_file}: {error.strerror}", file=sys.stderr)
        return 1
    if status == 0:
        _say_who_reads(tenant.tokens_file)
    return status


def _create(args: argparse.Namespace, tenant, credentials, owner) -> int:
    from gateway.auth.passwords import hash_password
    from gateway.credentials import StoredCredential, digest, mint, now

    if args.command == "token":
        print(f"Secret Token: {credentials.add(args.name, args.scope, args.replace, owner)}")
    elif args.command == "basic":
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else secrets.token_urlsafe(24)
        if len(password) < 12:
            print("a Basic password needs at least 12 characters", file=sys.stderr)
            return 2
        entry = StoredCredential(args.name, hash_password(password), args.scope, now())
        credentials.store("basic_users", entry, args.replace, owner)
        print(f"User Name: {args.name}")
        if not args.password_stdin:
            print(f"Password: {password}")
        _warn_unless(tenant.policy.auth.basic, "basic: true")
    else:
        secret = mint()
        credentials.store(
            "oauth_clients", StoredCredential(args.name, digest(secret), args.scope, now()), args.replace, owner
        )
        print(f"Client Identifier: {args.name}")
        print(f"Client Secret: {secret}")
        print(f"Token Endpoint: https://<your host>{tenant.base_path}/oauth/token")
        _warn_unless(tenant.policy.auth.oauth is not None, "oauth: {}")
    print("(shown once: only its hash is stored)", file=sys.stderr)
    return 0


def _say_who_reads(path: Path) -> None:
    info = path.stat()
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    print(f"({path}: owner {user}, mode {stat.S_IMODE(info.st_mode):04o})", file=sys.stderr)


def _warn_unless(enabled: bool, setting: str) -> None:
    if not enabled:
        print(f"note: this tenant does not accept it until its settings say auth: {{{setting}}}", file=sys.stderr)
