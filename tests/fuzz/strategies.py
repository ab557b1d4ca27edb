"""Inputs for the fuzzers: mostly well-formed SCIM (so they reach deep), seasoned with garbage."""

from __future__ import annotations

import json

from hypothesis import strategies as st

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

ATTRIBUTE_PATHS = [
    "userName",
    "USERNAME",
    "externalId",
    "displayName",
    "title",
    "active",
    "id",
    "meta.lastModified",
    "meta.created",
    "name.givenName",
    "name.familyName",
    "name",
    "emails",
    "emails.value",
    "emails.type",
    "phoneNumbers.value",
    "addresses.locality",
    "addresses",
    "members",
    "password",
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:manager.value",
    "manager",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:nosuch:x",
    "nosuch",
    "a.b.c",
    "$ref",
    "1abc",
    "",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Eq", "pr", "xx", "and", "not"]

# Text with the characters that matter to SCIM, JSON, LDAP filters and DNs, and some that matter to nobody.
hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("*()\\\x00,+\"<>;=# \t\r\n[].:/'{}é€𝄞\u200b")),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=40,
)

values = st.one_of(
    hostile_text.map(json.dumps),  # a JSON string
    st.integers(-(10**20), 10**20).map(str),
    st.from_regex(r"-?\d{1,25}(\.\d{0,3})?([eE][+-]?\d{1,4})?", fullmatch=True),  # 007, 1e999, 1.
    st.integers(4000, 6000).map(lambda n: "9" * n),  # more digits than Python converts
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        ["true", "false", "null", "True", "2026-01-02T03:04:05Z", '"unterminated', "bare", '""', '"\\ud800"']
    ),
)
paths = st.one_of(st.sampled_from(ATTRIBUTE_PATHS), hostile_text)


def _comparison(draw_path, draw_op, draw_value) -> str:
    return f"{draw_path} {draw_op}" if draw_op.lower() == "pr" else f"{draw_path} {draw_op} {draw_value}"


comparisons = st.builds(_comparison, paths, st.sampled_from(OPERATORS), values)


def _extend(inner):
    return st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["and", "or", "AND", "Or"]), inner),
        inner.map(lambda a: f"not ({a})"),
        inner.map(lambda a: f"({a})"),
        st.builds(lambda p, a: f"{p}[{a}]", paths, inner),
        st.builds(lambda p, a, s, v: f"{p}[{a}].{s} eq {v}", paths, inner, paths, values),
    )


well_formed_filters = st.recursive(comparisons, _extend, max_leaves=12)


def _mutate(text: str, position: int, insert: str, cut: int) -> str:
    position = position % (len(text) + 1)
    return text[:position] + insert + text[position + cut :]


filters = st.one_of(
    well_formed_filters,
    st.builds(
        _mutate, well_formed_filters, st.integers(0, 400), st.sampled_from([*'()[]" .\\', "", "and"]), st.integers(0, 3)
    ),
    hostile_text,
)

# JSON values of any shape, as a client could send them.
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False),
        hostile_text,
        st.just("half a pair: \udc80"),  # JSON can escape it; UTF-8 cannot hold it
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(paths, hostile_text), inner, max_size=4)
    ),
    max_leaves=10,
)
patch_paths = st.one_of(
    paths,
    st.builds(
        lambda p, f, s: f"{p}[{f}]{s}", paths, well_formed_filters, st.sampled_from(["", ".value", ".type", ".x", "x"])
    ),
    st.sampled_from(['emails[type eq "work"].value', 'addresses[type eq "work"].locality', 'members[value eq "1"]']),
    st.none(),
)
operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove", "bogus"])},
    optional={"path": patch_paths, "value": json_values},
)
patch_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "schemas": st.just(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]),
            "Operations": st.lists(operations, min_size=1, max_size=5),
        }
    ),
    json_values,
)
