"""Secrets on disk: read one (from a file or an environment variable), write one atomically.

The one place for both, so every secret the gateway reads is refused the same way (missing,
unreadable or empty: the message names the file or the variable, never the value), and every
file it writes is either the whole new file or the untouched old one, readable only by whom
it is meant for.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path


def read_secret(what: str, file: Path | None = None, env: str | None = None) -> str:
    """The secret in `file` (stripped) or in the environment variable `env`; ValueError if it is
    missing, unreadable or empty. `what` names it for the operator ("the LDAP password")."""
    if file is not None:
        try:
            secret = file.read_text().strip()
        except OSError as error:
            raise ValueError(f"cannot read {what} file {file}: {error.strerror}{_as_whom()}") from None
        if not secret:
            raise ValueError(f"{what} file {file} is empty")
        return secret
    if env is None:
        raise ValueError(f"{what}: give a file or an environment variable")
    secret = os.environ.get(env, "")
    if not secret:
        raise ValueError(f"the environment variable {env} ({what}) is not set or empty")
    return secret


@dataclass(frozen=True)
class Owner:
    """Who a written file belongs to (`--owner user[:group]`)."""

    uid: int
    gid: int

    @classmethod
    def parse(cls, text: str) -> Owner:
        """`user`, `user:group`, or numeric ids (`999:999`); ValueError names what is unknown."""
        user, _, group = text.partition(":")
        try:
            entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
            uid, gid = entry.pw_uid, entry.pw_gid
        except KeyError:
            if not user.isdigit():
                raise ValueError(f"no user named {user!r} on this host") from None
            uid, gid = int(user), int(user)
        if group:
            try:
                gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
            except KeyError:
                raise ValueError(f"no group named {group!r} on this host") from None
        return cls(uid, gid)

    @classmethod
    def of(cls, path: Path) -> Owner:
        info = path.stat()
        return cls(info.st_uid, info.st_gid)


def write_private(
    path: Path, data: str | bytes, mode: int = 0o600, owner: Owner | None = None, exclusive: bool = False
) -> None:
    """Write `path` whole or not at all (a temporary file, then a rename), with `mode` and, when
    given, `owner` (changing it needs root). `exclusive`: fail with FileExistsError if `path`
    exists, leaving it alone (two processes creating the same key: the first one wins)."""
    payload = data.encode() if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if owner is not None and (owner.uid, owner.gid) != (os.getuid(), os.getgid()):
                os.fchown(handle.fileno(), owner.uid, owner.gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def make_folders(folder: Path, owner: Owner | None = None, mode: int = 0o750) -> None:
    """Create `folder` and its missing parents, each with `mode` and `owner` (when given)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(mode)
        os.chmod(made, mode)
        if owner is not None:
            os.chown(made, owner.uid, owner.gid)


def readable_by(path: Path, user: str | int | None = None) -> bool:
    """Whether `user` (default: this process) may read `path`, folders on the way included.
    For another user the answer comes from owners and mode bits (ACLs are not read)."""
    if user is None:
        return os.access(path, os.R_OK)
    entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    if entry.pw_uid == 0:
        return path.exists()
    groups = set(os.getgrouplist(entry.pw_name, entry.pw_gid))
    path = path.absolute()
    checks = [(folder, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH) for folder in reversed(path.parents)]
    checks.append((path, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH))
    for item, for_owner, for_group, for_others in checks:
        try:
            info = item.stat()
        except OSError:
            return False
        if info.st_uid == entry.pw_uid:
            allowed = info.st_mode & for_owner
        elif info.st_gid in groups:
            allowed = info.st_mode & for_group
        else:
            allowed = info.st_mode & for_others
        if not allowed:
            return False
    return True


def service_user() -> str:
    """This process's user name (or uid), for messages that say who cannot read a file."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _as_whom() -> str:
    return f" (running as user {service_user()})"
