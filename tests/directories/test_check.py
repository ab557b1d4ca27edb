"""`scim-gateway check` on each directory's shipped map: it runs every check to the end (389 DS
and AD have no cn=config; their schema, which the check reads, makes ldap3 refuse olc* names),
exits 0 on a directory set up as the README says, and where the directory lacks a control the
backend works around, says what the gateway does instead rather than failing."""

from __future__ import annotations

from collections.abc import Callable

import ldap3

from gateway.cli import main
from tests.directories.conftest import MAPS, Server, write_settings
from tests.directories.servers import PEOPLE_DN


def _check(server: Server, folder, capsys, bind_dn: str | None = None) -> tuple[int, str]:
    settings = write_settings(folder, server, MAPS[server.name], bind_dn)
    assert main(["token", "create", "--config", str(settings)]) == 0
    capsys.readouterr()
    status = main(["check", "--config", str(settings)])
    return status, capsys.readouterr().out


def test_check_passes_on_each_directory_set_up_as_the_readme_says(server, tmp_path, capsys):
    status, report = _check(server, tmp_path, capsys)
    assert status == 0, report
    assert "FAIL" not in report and "stopped answering" not in report, report
    assert f"ok   bind to {server.url}" in report and "ok   users: schema" in report and "listings" in report
    # warn or ??, if any, only for what works (389 DS without a VLV index: listings sort each time)
    assert report.rstrip().splitlines()[-1].startswith(("all ", "no check failed: ")), report


# What each directory lacks, and the line that says what the gateway does instead.
INSTEAD = {
    "openldap": [],
    "389ds": [
        "ok   control: assertion (RFC 4528): not offered by 389ds: before each PATCH or DELETE the gateway"
        " searches the entry by its id: one more round trip each",
        "ok   control: permissive modify (1.2.840.113556.1.4.1413): not offered by 389ds: adding a member"
        " already there, or removing one already gone, is refused; the gateway reads those values and sends"
        " the modify again without them: one or two more round trips, only then",
        "ok   control: matched values (RFC 3876): not offered by 389ds: when a member change is refused as"
        " already done, the gateway reads the whole attribute",
    ],
    "active-directory": [
        "ok   control: assertion (RFC 4528): not offered by active-directory: before each PATCH or DELETE the"
        " gateway searches the entry by its id: one more round trip each",
        "ok   control: post-read (RFC 4527): not offered by active-directory: each POST and PATCH is followed"
        " by a read of the entry: one more round trip each",
    ],
}
OFFERED = {
    "openldap": ["paged results", "assertion", "post-read", "permissive modify"],
    "389ds": ["paged results", "post-read"],
    "active-directory": ["paged results", "permissive modify"],
}


def test_check_says_what_the_gateway_does_instead_of_each_control_a_directory_lacks(server, tmp_path, capsys):
    status, report = _check(server, tmp_path, capsys)
    assert status == 0, report
    assert f"ok   directory: {server.name} (" in report
    for line in INSTEAD[server.name]:
        assert line in report, report
    lines = report.splitlines()
    for control in OFFERED[server.name]:
        assert any(line.startswith(f"  ok   control: {control} (") and "): offered: " in line for line in lines), report
    assert report.count("not offered") == len(INSTEAD[server.name]), report


def _let_the_service_account_read_the_indexes(server: Server, request) -> Callable[[], None]:
    """The access the README gives for this check (AD's schema needs none); returns its undo."""
    if server.name == "active-directory":
        return lambda: None
    if server.name == "openldap":
        slapd = request.getfixturevalue("slapd")
        admin = ldap3.Connection(slapd.url, "cn=admin,cn=config", slapd.admin_password, auto_bind=True)
        where, attribute = "olcDatabase={0}config,cn=config", "olcAccess"
        rule = (
            '{0}to dn.subtree="cn=config" attrs=entry,objectClass,olcSuffix,olcDbIndex,olcIndexHash64'
            f' by dn.exact="{server.bind_dn}" read'
        )
    else:
        admin = server.admin
        where, attribute = f"cn=index,{request.getfixturevalue('ds389').backend_dn}", "aci"
        rule = (
            '(targetattr="cn||nsIndexType")(version 3.0; acl "scim-gateway check"; allow (read, search, compare)'
            f' userdn="ldap:///{server.bind_dn}";)'
        )
    assert admin.modify(where, {attribute: [(ldap3.MODIFY_ADD, [rule])]}), admin.result

    def undo() -> None:
        assert admin.modify(where, {attribute: [(ldap3.MODIFY_DELETE, [rule])]}), admin.result
        if admin is not server.admin:
            admin.unbind()

    return undo


def test_check_compares_the_maps_indexes_with_the_directorys_own(server, tmp_path, capsys, request):
    undo = _let_the_service_account_read_the_indexes(server, request)
    try:
        status, report = _check(server, tmp_path, capsys)
    finally:
        undo()
    assert status == 0 and "ok   users: indexes: " in report and "ok   groups: indexes: " in report, report


def test_check_on_389_names_the_account_limits_a_paged_search_meets(ds389, tmp_path, capsys):
    server = Server("389ds", ds389.url, ds389.service_dn, ds389.service_password_file, ds389.admin())
    try:
        server.clear()
        for index in range(6):
            server.admin.add(f"uid=u{index},{PEOPLE_DN}", ["inetOrgPerson"], {"uid": f"u{index}", "sn": "x", "cn": "x"})
        status, report = _check(server, tmp_path, capsys, bind_dn=ds389.limited_dn)
        assert status == 1, report
        assert "FAIL users: size limit: a paged search stopped" in report
        assert f"fix: nsLookThroughLimit, nsPagedSizeLimit and nsSizeLimit: -1 on {ds389.limited_dn}" in report
        assert report.rstrip().splitlines()[-1].startswith("1 check(s) failed: "), report
    finally:
        server.clear()
        server.admin.unbind()
