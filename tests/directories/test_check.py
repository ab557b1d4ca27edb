"""`scim-gateway check` on each directory's shipped map: it runs every check to the end (389 DS
and AD have no cn=config; their schema, which the check reads, makes ldap3 refuse olc* names)."""

from __future__ import annotations

from gateway.cli import main
from tests.directories.conftest import MAPS, write_settings


def test_check_runs_to_the_end_on_each_directory(server, tmp_path, capsys):
    settings = write_settings(tmp_path, server, MAPS[server.name])
    assert main(["token", "create", "--config", str(settings)]) == 0
    capsys.readouterr()
    main(["check", "--config", str(settings)])
    report = capsys.readouterr().out
    assert "stopped answering" not in report, report
    assert f"ok   bind to {server.url}" in report and "users: schema" in report and "listings" in report
