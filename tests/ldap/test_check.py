"""`scim-gateway check` against a real slapd and the reference HR API, and `/readyz`."""

from __future__ import annotations

import ldap3
import pytest

from gateway.cli import main
from gateway.web.app import create_app
from tests.conftest import HR_MAP, OPENLDAP_MAP, write_settings
from tests.sandbox.children import free_port, frozen
from tests.sandbox.slapd import CONFIG_READ, Slapd


def test_check_passes_on_a_directory_set_up_for_the_map(slapd, tmp_path, capsys):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP)
    assert main(["token", "create", "--config", str(settings)]) == 0
    capsys.readouterr()
    assert main(["check", "--config", str(settings)]) == 0, capsys.readouterr().out
    report = capsys.readouterr().out
    assert "ok   bind to ldap://" in report and "users: base ou=People,dc=example,dc=com: exists" in report
    assert "users: schema" in report and "control: post-read" in report and "size limit" in report
    assert report.rstrip().splitlines()[-1].startswith("no check failed: "), report  # ??: cn=config is closed


def test_check_binds_with_the_python_ldap_client_too_when_it_serves(slapd, tmp_path, capsys):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP, tenant_yaml="      client: python-ldap\n")
    assert main(["token", "create", "--config", str(settings)]) == 0
    capsys.readouterr()
    assert main(["check", "--config", str(settings)]) == 0, capsys.readouterr().out
    assert (
        f"ok   bind to {slapd.url} as cn=gateway,dc=example,dc=com with client python-ldap" in capsys.readouterr().out
    )


def test_check_fails_with_a_fix_for_each_problem(slapd, tmp_path, capsys):
    broken = OPENLDAP_MAP.read_text().replace("ou=People,dc=example,dc=com", "ou=Nobody,dc=example,dc=com")
    broken = broken.replace("scimGatewayPerson", "noSuchClass")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(broken)
    settings = write_settings(tmp_path, slapd, mapping)
    assert main(["check", "--config", str(settings)]) == 1
    report = capsys.readouterr().out
    assert "FAIL users: base ou=Nobody,dc=example,dc=com: missing" in report
    assert "fix: create it" in report
    assert "no object class noSuchClass" in report
    assert "FAIL tokens_file" in report and "scim-gateway token create" in report
    assert report.rstrip().splitlines()[-1].startswith("3 check(s) failed: "), report


def test_check_says_which_bind_fails(slapd, tmp_path, capsys):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP, url=f"ldap://127.0.0.1:{free_port()}", timeout=2)
    assert main(["check", "--config", str(settings)]) == 1
    assert "FAIL bind to ldap://127.0.0.1:" in capsys.readouterr().out


def test_check_asks_a_rest_api_with_the_gateways_login(hr_api, tmp_path, capsys):
    settings = tmp_path / "settings.yaml"
    key = tmp_path / "wrong.key"
    key.write_text("not the key\n")
    for key_file, status in ((hr_api.key_file, 0), (key, 1)):
        settings.write_text(
            f"tenants:\n  - name: hr\n    base_path: /scim/hr\n    mapping: {HR_MAP}\n    tokens_file: tokens.yaml\n"
            f"    rest: {{base_url: '{hr_api.url}', auth: {{type: api_key, header: X-Api-Key, key_file: {key_file}}}}}\n"
        )
        (tmp_path / "tokens.yaml").write_text("tokens: []\n")
        assert main(["check", "--config", str(settings)]) == status
        report = capsys.readouterr().out
        assert ("ok   users: GET" in report) == (status == 0), report
    assert "refused the gateway's credentials" in report


def _readyz(app) -> tuple[int, dict]:
    answer = app.test_client().get("/readyz")
    return answer.status_code, answer.get_json()


def test_readyz_is_200_when_the_directory_answers_and_503_when_it_does_not(slapd, tmp_path):
    ready = create_app(write_settings(tmp_path, slapd, OPENLDAP_MAP))
    (tmp_path / "closed").mkdir()
    closed = create_app(write_settings(tmp_path / "closed", slapd, OPENLDAP_MAP, url=f"ldap://127.0.0.1:{free_port()}"))
    try:
        assert _readyz(ready) == (200, {"status": "ready", "tenants": {"test": "ok"}})
        status, body = _readyz(closed)
        assert status == 503 and body["tenants"]["test"] == "the directory cannot be reached"
        assert closed.test_client().get("/healthz").status_code == 200  # liveness only
    finally:
        for app in (ready, closed):
            app.extensions["scim_gateway"].close()


def test_readyz_answers_503_when_the_directory_hangs(tmp_path):
    hung = Slapd(tmp_path / "hung")
    hung.start()
    app = create_app(write_settings(tmp_path, hung, OPENLDAP_MAP))
    try:
        assert _readyz(app)[0] == 200
        with frozen(hung.process):
            status, body = _readyz(app)  # the answer cached a moment ago may still be served
            if status == 200:
                app = create_app(write_settings(tmp_path, hung, OPENLDAP_MAP))  # a fresh cache
                status, body = _readyz(app)
            assert status == 503 and body["status"] == "not ready"
            assert _readyz(app)[0] == 503  # a hung probe is not started twice; the answer stays 503
    finally:
        app.extensions["scim_gateway"].close()
        hung.stop()


def test_readyz_probes_a_rest_api_too(hr_api, tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"tenants:\n  - name: hr\n    base_path: /scim/hr\n    mapping: {HR_MAP}\n    tokens_file: tokens.yaml\n"
        f"    rest: {{base_url: '{hr_api.url}', auth: {{type: api_key, header: X-Api-Key, key_file: {hr_api.key_file}}}}}\n"
    )
    app = create_app(settings)
    try:
        assert _readyz(app) == (200, {"status": "ready", "tenants": {"hr": "ok"}})
    finally:
        app.extensions["scim_gateway"].close()


def test_check_says_whether_listings_cost_a_page(slapd, tmp_path, capsys):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP)
    main(["token", "create", "--config", str(settings)])
    capsys.readouterr()
    main(["check", "--config", str(settings)])
    report = capsys.readouterr().out
    assert "ok   listings: the directory sorts and positions pages (VLV)" in report
    assert "other replicas and tools write shows in listings after at most 30 s (keep_sorted_lists)" in report
    exact = write_settings(tmp_path, slapd, OPENLDAP_MAP, tenant_yaml="      keep_sorted_lists: 0\n")
    main(["check", "--config", str(exact)])
    assert "every listing is sorted afresh (keep_sorted_lists: 0)" in capsys.readouterr().out
    plain = Slapd(tmp_path / "plain", sorting=False)
    plain.start()
    try:
        other = tmp_path / "other"
        other.mkdir()
        settings = write_settings(other, plain, OPENLDAP_MAP)
        main(["token", "create", "--config", str(settings)])
        capsys.readouterr()
        assert main(["check", "--config", str(settings)]) == 0  # said, not failed: listings still work
        report = capsys.readouterr().out
        assert "warn listings: the directory lists no server-side sorting and VLV" in report
        assert "fix: see the README's 'Large directories'" in report
    finally:
        plain.stop()


def _let_the_service_account_read_the_indexes(directory: Slapd) -> None:
    """The access README.md (Directories > OpenLDAP) gives for these checks."""
    admin = ldap3.Connection(directory.url, "cn=admin,cn=config", directory.admin_password, auto_bind=True)
    rule = "{0}" + CONFIG_READ
    assert admin.modify("olcDatabase={0}config,cn=config", {"olcAccess": [(ldap3.MODIFY_ADD, [rule])]}), admin.result
    admin.unbind()


@pytest.mark.parametrize(
    ("hash64", "line"), [(True, "ok   index hashes: 64-bit"), (False, "warn index hashes: 32-bit")]
)
def test_check_names_the_index_hash_setting_that_makes_member_removals_grow(tmp_path, capsys, hash64, line):
    directory = Slapd(tmp_path / "slapd", hash64=hash64)
    directory.start()
    try:
        _let_the_service_account_read_the_indexes(directory)
        settings = write_settings(tmp_path, directory, OPENLDAP_MAP)
        main(["token", "create", "--config", str(settings)])
        capsys.readouterr()
        assert main(["check", "--config", str(settings)]) == 0  # said, not failed: removals still work
        report = capsys.readouterr().out
        assert line in report, report
        assert ("fix: olcIndexHash64: TRUE on cn=config, then slapindex" in report) == (not hash64)
    finally:
        directory.stop()


def test_check_compares_the_maps_indexes_with_olcdbindex_where_the_account_may_read_it(tmp_path, capsys):
    directory = Slapd(tmp_path / "slapd")
    directory.start()
    try:
        settings = write_settings(tmp_path, directory, OPENLDAP_MAP)
        main(["token", "create", "--config", str(settings)])
        capsys.readouterr()
        main(["check", "--config", str(settings)])
        closed = capsys.readouterr().out
        assert "??   users: indexes: the service account may not read cn=config" in closed, closed
        assert "or let the service account read them (README: Directories > OpenLDAP)" in closed
        _let_the_service_account_read_the_indexes(directory)
        claiming_more = tmp_path / "more.yaml"
        claiming_more.write_text(OPENLDAP_MAP.read_text().replace("employeeNumber]", "employeeNumber, title]"))
        other = tmp_path / "other"
        other.mkdir()
        for mapping, folder in ((OPENLDAP_MAP, tmp_path), (claiming_more, other)):
            settings = write_settings(folder, directory, mapping)
            main(["token", "create", "--config", str(settings)])
            capsys.readouterr()
            assert main(["check", "--config", str(settings)]) == 0  # said, not failed: lookups still work
            report = capsys.readouterr().out
            if mapping == OPENLDAP_MAP:
                assert "ok   users: indexes: objectClass, uid" in report, report
                assert report.rstrip().endswith("checks passed"), report
            else:
                assert "warn users: indexes: not indexed for equality: title" in report, report
                assert "fix: olcDbIndex: title eq on the database of dc=example,dc=com" in report
                assert report.rstrip().splitlines()[-1].startswith("no check failed: ")
    finally:
        directory.stop()


def test_check_warns_when_the_tenants_capabilities_turn_off_a_control_the_directory_offers(slapd, tmp_path, capsys):
    settings = write_settings(tmp_path, slapd, OPENLDAP_MAP, tenant_yaml="      capabilities: {post_read: false}\n")
    main(["token", "create", "--config", str(settings)])
    capsys.readouterr()
    assert main(["check", "--config", str(settings)]) == 0  # said, not failed: the read after the write works
    report = capsys.readouterr().out
    assert (
        "warn control: post-read (RFC 4527): offered, but ldap: capabilities: {post_read: false} in the tenant's"
        " settings turns it off: each POST and PATCH is followed by a read of the entry: one more round trip each"
    ) in report, report
    assert (
        "fix: take post_read out of the tenant's ldap: capabilities: unless the directory fails the control" in report
    )
    assert "ok   control: assertion (RFC 4528): offered" in report
