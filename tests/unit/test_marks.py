"""Write marks (backends/ldap/marks.py): what one worker tells the others of its writes, through
files in the folder the gateway's processes share."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

from gateway.backends.ldap import vlv
from gateway.backends.ldap.marks import ENTRIES, VALUES, Marks
from gateway.backends.ldap.views import Views
from gateway.observability import multiprocess

DIRECTORY = "ldap://ldap.example.com"


def test_a_worker_sees_the_others_writes_since_a_moment_and_never_its_own(tmp_path):
    one, other = Marks(tmp_path, DIRECTORY), Marks(tmp_path, DIRECTORY)
    before = one.clock()
    assert not one.since(before, ENTRIES)  # nobody wrote: not even the folder is there yet
    one.wrote([ENTRIES, VALUES])
    after = one.clock() + 1
    assert other.since(before, ENTRIES) and other.since(before, VALUES)
    assert not other.since(after, ENTRIES)  # a list asked for after the write holds it
    assert not one.since(before, ENTRIES)  # its own writes are kept track of by its own lists


def test_a_change_of_values_is_not_an_entry_created_or_deleted(tmp_path):
    one, other = Marks(tmp_path, DIRECTORY), Marks(tmp_path, DIRECTORY)
    before = one.clock()
    one.wrote([VALUES])
    assert other.since(before, VALUES) and not other.since(before, ENTRIES)


def test_writes_to_another_directory_are_not_this_ones(tmp_path):
    before = Marks(tmp_path, DIRECTORY).clock()
    Marks(tmp_path, "ldaps://elsewhere.example.com").wrote([ENTRIES])
    assert not Marks(tmp_path, DIRECTORY).since(before, ENTRIES)


def test_a_folder_that_cannot_be_written_is_one_warning_and_no_failed_write(tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    marks = Marks(blocked / "workers", DIRECTORY)
    with caplog.at_level(logging.WARNING):
        marks.wrote([ENTRIES])
        marks.wrote([ENTRIES])
    [warning] = [r for r in caplog.records if r.name == "gateway.backends.ldap.marks"]
    assert str(blocked / "workers") in warning.getMessage() and "until they sort again" in warning.getMessage()
    assert marks.since(0, ENTRIES)  # and a folder it cannot read: sort afresh


def test_views_tell_the_others_and_drop_a_list_another_worker_made_stale(tmp_path):
    opened, closed = [], []

    def views() -> Views:
        return Views(lambda: opened.append(object()) or opened[-1], closed.append, marks=Marks(tmp_path, DIRECTORY))

    lister, writer = views(), views()
    every, filtered = (
        vlv.Search("users", "ou=People", "sub", f, "createTimestamp", f != "(x=*)") for f in ("(x=*)", "(y=1)")
    )
    kept = {search: lister._take(search)[0] for search in (every, filtered)}
    assert all(lister._take(search)[1] for search in (every, filtered))  # reused: nobody wrote
    writer.forget(filtered_only=True)  # a change of values
    assert lister._take(every) == (kept[every], True) and not lister._take(filtered)[1]
    writer.created("users", "new", since=0.0)
    assert not lister._take(every)[1]
    assert kept[every].connection in closed and kept[filtered].connection in closed


def test_a_worker_that_exits_counts_as_having_written_then_and_leaves_one_file_per_name(tmp_path, monkeypatch):
    """A worker killed during a write may have done it without stamping its files: the master's
    child_exit stamps them for it, under one name for every worker that exits."""
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    folder = multiprocess.shared_folder()
    assert folder == tmp_path / multiprocess.SHARED
    listing = Marks(folder, DIRECTORY)
    asked = listing.clock()  # a list asked for while the workers were still alive
    folder.mkdir()
    for pid in (99999998, 99999999):  # workers that wrote, long before
        for event in (ENTRIES, VALUES):
            written = folder / f"{pid}-1.{listing._directory}.{event}"
            written.touch()
            os.utime(written, ns=(0, 0))
    assert not listing.since(asked, ENTRIES)
    multiprocess.child_exit(None, SimpleNamespace(pid=99999998))
    multiprocess.child_exit(None, SimpleNamespace(pid=99999999))
    assert listing.since(asked, ENTRIES) and listing.since(asked, VALUES)
    assert sorted(path.name.split(".")[0] for path in folder.iterdir()) == ["exited-1", "exited-1"]
