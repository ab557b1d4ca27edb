"""A REST map's `rest:` section and a tenant's `rest:` settings: loaded, typed, and every mistake
reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.backends.rest.target import Action, Lookup, Operation
from gateway.mapping.loader import compile_mapping, load_mapping
from gateway.settings import load_settings
from gateway.yamlfile import ConfigError, loads

REPO = Path(__file__).resolve().parents[2]

HEAD = """\
version: 1
backend: rest
users:
  rest:
    create: /employees
    read: /employees/{id}
    update: /employees/{id}
    delete: /employees/{id}
    list: {path: /employees, items: items, total: total}
    search: {login: login}
  attributes:
    userName: login
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        compile_mapping(loads(text, "m.yaml"), "m.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_example_map_loads_with_every_operation():
    users = load_mapping(REPO / "mappings" / "hr-rest-example.yaml").users
    target = users.target
    assert target.create == Operation("POST", "/employees", "{record}")
    assert target.read == Operation("GET", "/employees/{id}", idempotent=True)
    assert (target.update.method, target.update.partial) == ("PUT", False)
    assert target.disable == Action("POST", "/employees/{id}/terminate", idempotent=True, when=(("status", "T"),))
    assert Lookup("contact.email", "email") in target.search
    assert users.id_attribute == "emp_id" and target.type_of("MANAGER_ID") == "integer"


def test_short_forms_take_the_usual_method_and_patch_updates_are_partial():
    users = compile_mapping(
        loads(HEAD.replace("update: /employees/{id}", 'update: {method: patch, path: "/e/{id}"}'), "m"), "m"
    ).users
    assert users.target.update == Operation("PATCH", "/e/{id}", "{record}", idempotent=False, partial=True)
    assert users.id_attribute == "id"  # the REST default


def test_json_field_names_may_be_nested_with_dots_and_use_underscores():
    users = compile_mapping(loads(HEAD + "    displayName: names.display_name\n", "m"), "m").users
    assert users.attribute_names["names.display_name"] == "names.display_name"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "read: /employees/{id}",
            "read: /employees/{emp}",
            "m.yaml:6: users.rest.read.path: {emp} is not a placeholder",
        ),
        ("read: /employees/{id}", "read: /employees", "m.yaml:6: users.rest.read.path: this path needs {id}"),
        ("create: /employees", "create: employees", "m.yaml:5: users.rest.create.path: a path starts with /"),
        ("create: /employees", "create: {method: FETCH, path: /e}", "m.yaml:5: users.rest.create.method: one of GET"),
        (
            "create: /employees",
            "create: {path: /e, body: {x: '{login}'}}",
            "m.yaml:5: users.rest.create.body: a body value in braces is a whole placeholder, {record}",
        ),
        ("search: {login: login}", "search: {}", "m.yaml:10: add a search entry for 'login' (userName)"),
        ("search: {login: login}", "search: {login: login, logn: x}", "m.yaml:10: search names 'logn'"),
        (
            "    userName: login\n",
            "    userName: login\n    title: 9lives\n",
            "m.yaml:13: users.attributes.title.attribute: '9lives' is not an API field name",
        ),
        (
            "list: {path: /employees, items: items, total: total}",
            "list: {path: /e, paging: {style: cursor}}",
            "m.yaml:9: users.rest.list.paging.style",
        ),
        (
            "delete: /employees/{id}",
            'delete: {path: "/e/{id}", when: {x: y}}',
            "m.yaml:8: users.rest.delete.when: only disable and enable",
        ),
    ],
)
def test_rest_section_errors_name_the_line_and_what_was_expected(replace, by, expected):
    assert replace in HEAD
    problems = _problems(HEAD.replace(replace, by))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_disable_call_must_say_which_field_values_it_sets_and_the_map_must_write_them():
    problems = _problems(HEAD.replace("  attributes:", '    disable: {path: "/e/{id}/off"}\n  attributes:'))
    assert any("users.rest.disable.when: say which field values" in p for p in problems), problems
    problems = _problems(
        HEAD.replace("  attributes:", '    disable: {path: "/e/{id}/off", when: {state: "off"}}\n  attributes:')
    )
    assert any("disable.when names 'state', which the map never writes" in p for p in problems), problems


def test_a_field_cannot_also_hold_nested_fields():
    problems = _problems(HEAD + "    displayName: names\n    title: names.title\n")
    assert problems == ["m.yaml:4: 'names' is a field, so 'names.title' cannot be a field inside it"]


def test_a_map_for_rest_needs_its_rest_section():
    problems = _problems("version: 1\nbackend: rest\nusers:\n  attributes: {userName: login}\n")
    assert problems == ["m.yaml:3: users needs a 'rest:' section for the rest backend"]


# --- the tenant's rest: settings ----------------------------------------------------------------


def _settings(tmp_path: Path, rest: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "tenants:\n  - name: hr\n    base_path: /scim/v2\n    mapping: m.yaml\n    tokens_file: t.yaml\n    rest:\n"
        + "".join(f"      {line}\n" for line in rest.strip().splitlines())
    )
    return path


def test_rest_settings_read_the_secret_from_a_file_relative_to_the_settings(tmp_path):
    (tmp_path / "hr.key").write_text("hrk_secret\n")
    settings = load_settings(
        _settings(tmp_path, "base_url: https://hr.example.com/api/v1/\nauth: {type: api_key, key_file: hr.key}")
    )
    rest = settings.tenants[0].backends["rest"]
    assert (rest.base_url, rest.auth.secret, rest.auth.header) == (
        "https://hr.example.com/api/v1",
        "hrk_secret",
        "X-Api-Key",
    )
    assert (rest.timeout, rest.retry_budget, rest.retry_after) == (10.0, 10.0, 30)
    assert "hrk_secret" not in repr(settings)


def test_oauth2_settings_take_the_client_secret_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HR_SECRET", "cs_123")
    text = "base_url: https://hr.example.com\nauth: {type: oauth2, token_url: 'https://login/t', client_id: gw, client_secret_env: HR_SECRET, scope: hr}"
    auth = load_settings(_settings(tmp_path, text)).tenants[0].backends["rest"].auth
    assert (auth.type, auth.client_id, auth.secret, auth.scope) == ("oauth2", "gw", "cs_123", "hr")


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("base_url: ftp://x\nauth: {type: none}", "settings.yaml:7: tenants.0.rest.base_url: an http(s):// URL"),
        (
            "base_url: https://x\nauth: {type: basic, password_env: P}",
            "settings.yaml:8: tenants.0.rest.auth: auth type basic needs username",
        ),
        (
            "base_url: https://x\nauth: {type: api_key, key_file: a, key_env: B}",
            "settings.yaml:8: tenants.0.rest.auth: give exactly one of key_file or key_env",
        ),
        (
            "base_url: https://x\nauth: {type: api_key, secret: plain}",
            "settings.yaml:8: tenants.0.rest.auth.secret: Unknown field.",
        ),
        (
            "base_url: https://x\nauth: {type: api_key, key_file: nope.key}",
            "settings.yaml:6: cannot read the API key file",
        ),
        ("base_url: https://x\nauth: {type: none}\nca_file: nope.pem", "settings.yaml:6: the CA file"),
        ("base_url: 'https://u:pw@x'\nauth: {type: none}", "settings.yaml:6: base_url holds credentials"),
        (
            "base_url: https://x\nauth: {type: api_key, key_env: NOT_SET_ANYWHERE}",
            "settings.yaml:6: the environment variable NOT_SET_ANYWHERE",
        ),
    ],
)
def test_rest_settings_errors_name_the_line(tmp_path, rest, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(_settings(tmp_path, rest))
    problems = [str(p).replace(f"{tmp_path}/", "") for p in caught.value.problems]
    assert any(p.startswith(expected) for p in problems), problems
