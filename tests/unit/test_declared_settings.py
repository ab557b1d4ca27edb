"""Settings declared once (gateway/declared.py), and marshmallow's errors flattened to file:line."""

from dataclasses import dataclass

import pytest
from marshmallow import Schema, ValidationError, fields

from gateway import yamlfile
from gateway.backends.ldap.settings import LdapSchema, LdapSettings
from gateway.backends.rest.settings import RestSchema, RestSettings
from gateway.backends.rest.target import Paging
from gateway.backends.rest.target_schema import _PagingSchema
from gateway.declared import schema_of, setting


class _Pair(Schema):
    key = fields.Str()
    value = fields.Int()


class _Document(Schema):
    pair = fields.Nested(_Pair)
    counts = fields.Dict(keys=fields.Str(), values=fields.Int())


def _problems(text: str) -> list[str]:
    document = yamlfile.loads(text, "f.yaml")
    schema = _Document()
    with pytest.raises(ValidationError) as caught:
        schema.load(document)
    return sorted(
        str(p) for p in yamlfile.problems_from_marshmallow(caught.value.messages, document, "f.yaml", schema=schema)
    )


def test_a_field_really_named_value_or_key_keeps_its_name_and_line():
    assert _problems("pair:\n  key: [1]\n  value: many\n") == [
        "f.yaml:2: pair.key: Not a valid string.",
        "f.yaml:3: pair.value: Not a valid integer.",
    ]


def test_a_dict_entry_is_named_by_its_key_without_marshmallows_key_and_value_labels():
    assert _problems("counts:\n  apples: many\n") == ["f.yaml:2: counts.apples: Not a valid integer."]


@pytest.mark.parametrize(
    ("settings", "schema", "given"),
    [
        (Paging, _PagingSchema, {}),
        (LdapSettings, LdapSchema, {"url": "ldap://x", "bind_dn": "cn=x", "password_env": "X"}),
        (RestSettings, RestSchema, {"base_url": "https://x", "auth": {"type": "none"}}),
    ],
)
def test_each_default_the_yaml_leaves_out_is_the_dataclass_default(settings, schema, given):
    loaded = schema().load(given)
    loaded = vars(loaded) if isinstance(loaded, settings) else loaded
    defaults = {name: getattr(settings, name) for name in loaded if name not in given and hasattr(settings, name)}
    assert defaults, "the schema fills in no default at all"
    assert {name: loaded[name] for name in defaults} == defaults


def test_a_setting_without_a_default_is_required_and_none_is_left_out():
    @dataclass(frozen=True)
    class Example:
        name: str = setting(field=fields.Str())
        note: str | None = setting(None, fields.Str())
        size: int = setting(3, fields.Int())

    schema = schema_of(Example)()
    assert schema.load({"name": "n"}) == {"name": "n", "size": 3}
    with pytest.raises(ValidationError, match="name"):
        schema.load({})
    with pytest.raises(ValidationError, match="Unknown field"):
        schema.load({"name": "n", "other": 1})
