"""The journal of writes in flight (gateway/observability/inflight.py): what a killed worker's
master writes to the audit trail for it."""

from __future__ import annotations

import json
import os

import pytest

from gateway.observability import inflight, multiprocess


@pytest.fixture
def shared(tmp_path, monkeypatch):
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    return tmp_path / multiprocess.SHARED


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_write_ended_leaves_nothing_to_recover_and_the_journal_empties(shared, tmp_path):
    journal = inflight.Journal()
    first = journal.begin({"audit": 1, "name": "ada"}, str(tmp_path / "audit.log"))
    second = journal.begin({"audit": 1, "name": "bob"}, str(tmp_path / "audit.log"))
    path = inflight.journal_path(shared, os.getpid())
    journal.end(first)
    assert path.read_text().count("\n") == 3  # two begun, one ended
    journal.end(second)
    assert path.read_text() == ""  # nothing in flight: emptied
    assert inflight.recover(path, "why") == 0
    assert not path.exists() and not (tmp_path / "audit.log").exists()


def test_the_master_writes_what_a_dead_worker_left_in_flight_as_unknown(shared, tmp_path):
    journal = inflight.Journal()
    audit = tmp_path / "audit.log"
    done = journal.begin({"audit": 1, "name": "ada", "outcome": "applied"}, str(audit))
    journal.begin({"audit": 1, "name": "bob", "changes": [{"attribute": "title"}]}, str(audit))
    journal.end(done)
    path = inflight.journal_path(shared, os.getpid())
    with open(path, "a") as cut:
        cut.write('B 99 {"destination": "')  # the kill came while a line was being written
    inflight.recover_exited(shared, os.getpid(), "the worker (pid 7) ended before it could record the outcome")
    (line,) = _lines(audit)
    assert line == {
        "audit": 1,
        "name": "bob",
        "changes": [{"attribute": "title"}],
        "outcome": "unknown",
        "reason": "the worker (pid 7) ended before it could record the outcome",
    }
    assert not path.exists()


def test_without_a_shared_folder_there_is_no_journal(tmp_path, monkeypatch):
    monkeypatch.delenv(multiprocess.ENV, raising=False)
    journal = inflight.Journal()
    token = journal.begin({"audit": 1}, str(tmp_path / "audit.log"))
    assert token is None
    journal.end(token)
    assert list(tmp_path.iterdir()) == []


def test_a_journal_that_cannot_be_opened_never_fails_the_write(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(multiprocess.ENV, str(tmp_path))
    (tmp_path / multiprocess.SHARED).write_text("a file where the folder should be")
    journal = inflight.Journal()
    token = journal.begin({"audit": 1}, str(tmp_path / "audit.log"))
    journal.end(token)
    assert token is None
    assert "cannot note a write in flight" in caplog.text
