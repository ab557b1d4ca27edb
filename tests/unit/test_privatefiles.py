"""One reader for secrets, one writer for private files."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from gateway.privatefiles import Owner, read_secret, readable_by, write_private


def test_a_secret_is_refused_when_missing_or_empty_naming_the_file_or_variable(tmp_path, monkeypatch):
    (tmp_path / "empty").write_text(" \n")
    (tmp_path / "good").write_text("s3cret\n")
    assert read_secret("the LDAP password", tmp_path / "good") == "s3cret"
    with pytest.raises(ValueError, match=r"the LDAP password file .*empty is empty"):
        read_secret("the LDAP password", tmp_path / "empty")
    with pytest.raises(ValueError, match=r"cannot read the LDAP password file .*absent: No such file"):
        read_secret("the LDAP password", tmp_path / "absent")
    monkeypatch.setenv("EMPTY_SECRET", "")
    with pytest.raises(ValueError, match="EMPTY_SECRET"):
        read_secret("the API key", env="EMPTY_SECRET")


def test_write_private_replaces_whole_or_leaves_alone(tmp_path):
    path = tmp_path / "key"
    write_private(path, "one")
    assert path.read_text() == "one" and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_private(path, "two", exclusive=True)
    write_private(path, "three", mode=0o640)
    assert path.read_text() == "three" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["key"]  # no temporary file left behind


@pytest.fixture
def open_folder():
    """A folder everyone may enter (pytest's tmp_path sits in a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="privatefiles-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(os.getuid() != 0, reason="reading as another user needs root to set it up")
def test_readable_by_another_user_follows_owner_group_and_folders(open_folder):
    folder = open_folder / "etc"
    folder.mkdir(mode=0o750)
    secret = folder / "secret"
    secret.write_text("x")
    secret.chmod(0o640)
    assert readable_by(secret, "root") and not readable_by(secret, "nobody")  # root:root 0750 folder
    os.chown(folder, 0, 65534)
    assert not readable_by(secret, "nobody")  # root:root 0640 file
    os.chown(secret, 0, 65534)
    assert readable_by(secret, "nobody")
    folder.chmod(0o700)
    assert not readable_by(secret, "nobody")
    assert Owner.parse("nobody:nogroup") == Owner(65534, 65534) and Owner.parse("999") == Owner(999, 999)
