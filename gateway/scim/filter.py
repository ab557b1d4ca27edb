"""The SCIM filter and attribute-path grammar (RFC 7644 sections 3.4.2.2 and 3.5.2) as an AST.

Pure: text in, frozen dataclasses out. Operators, keywords and attribute names are matched
case-insensitively. Two leniencies for real clients: a bare word is read as a string value
(`userName eq alice`), and a value path may be followed by a sub-attribute comparison
(`emails[type eq "work"].value eq "a@x"`), which Microsoft's checklist uses for matching.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gateway.operators import COMPARISONS
from gateway.scim.errors import ScimError, invalid_filter, invalid_path
from gateway.scim.limits import DEFAULT_LIMITS, Limits, check_text

_NAME = re.compile(r"^[A-Za-z$][\w$-]*$")
_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")  # JSON's grammar: `007` is a word


@dataclass(frozen=True)
class AttrPath:
    """`urn:...:attr.sub`: urn is None for core attributes and for names inside brackets."""

    urn: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        text = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{text}.{self.sub}" if self.sub else text


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    inner: Filter


@dataclass(frozen=True)
class ValuePath:
    """`emails[type eq "work"]`: the inner filter's paths are sub-attributes of `path`."""

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH `path`: attribute, optional value filter, optional sub-attribute after it."""

    attr: AttrPath
    value_filter: Filter | None = None

    def __str__(self) -> str:
        return str(self.attr)


def parse_attr_path(text: str) -> AttrPath:
    """`userName`, `name.givenName`, `urn:...:User:employeeNumber`, `urn:...:User:manager.value`."""
    urn = None
    rest = text
    if text.lower().startswith("urn:"):
        urn, _, rest = text.rpartition(":")
        if not urn or not rest:
            raise invalid_path(f"'{text}' is a schema URN without an attribute name")
    attr, _, sub = rest.partition(".")
    if not _NAME.match(attr) or (sub and not _NAME.match(sub)):
        raise invalid_path(f"'{text}' is not an attribute path")
    return AttrPath(urn, attr, sub or None)


_TOKEN = re.compile(r'\s*(?:(?P<punct>[()\[\]])|(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()\[\]"]+))')


@dataclass
class _Token:
    kind: str  # "punct", "string", "word"
    text: str
    position: int


def _tokenize(text: str, make_error) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise make_error(f"cannot read the filter at character {position + 1}: {text[position : position + 20]!r}")
        kind = match.lastgroup or "word"
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, make_error, max_depth: int):
        self.text = text
        self.tokens = _tokenize(text, make_error)
        self.index = 0
        self.depth = 0
        self.max_depth = max_depth
        self.error = make_error

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error(f"the filter {self.text!r} ends too early")
        self.index += 1
        return token

    def expect(self, punct: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.text != punct:
            raise self.error(f"expected '{punct}' at character {token.position + 1} of {self.text!r}")

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.index += 1
            return True
        return False

    def nested(self):
        self.depth += 1
        if self.depth > self.max_depth:
            raise self.error(f"the filter nests deeper than {self.max_depth} levels")

    def parse_or(self) -> Filter:
        terms = [self.parse_and()]
        while self.keyword("or"):
            terms.append(self.parse_and())
        return _balanced(Or, terms)

    def parse_and(self) -> Filter:
        terms = [self.parse_unary()]
        while self.keyword("and"):
            terms.append(self.parse_unary())
        return _balanced(And, terms)

    def parse_unary(self) -> Filter:
        self.nested()
        try:
            if self.keyword("not"):
                return Not(self.parse_unary())
            token = self.peek()
            if token is not None and token.kind == "punct" and token.text == "(":
                self.take()
                inner = self.parse_or()
                self.expect(")")
                return inner
            return self.parse_attribute_expression()
        finally:
            self.depth -= 1

    def parse_attribute_expression(self) -> Filter:
        token = self.take()
        if token.kind != "word":
            raise self.error(f"expected an attribute name at character {token.position + 1} of {self.text!r}")
        path = self.attr_path(token.text)
        following = self.peek()
        if following is not None and following.kind == "punct" and following.text == "[":
            return self.parse_value_path(path)
        return self.parse_comparison(path)

    def parse_value_path(self, path: AttrPath) -> Filter:
        if path.sub:
            raise self.error(f"'{path}' cannot take a [filter]: only a multi-valued attribute can")
        self.take()
        inner = self.parse_or()
        self.expect("]")
        after = self.peek()
        if after is not None and after.kind == "word" and after.text.startswith("."):
            self.take()
            sub = self.attr_path(after.text[1:])
            inner = And(inner, self.parse_comparison(sub))
        return ValuePath(path, inner)

    def parse_comparison(self, path: AttrPath) -> Filter:
        operator = self.take()
        op = operator.text.lower()
        if operator.kind != "word" or (op not in COMPARISONS and op != "pr"):
            raise self.error(
                f"expected an operator (eq ne co sw ew gt ge lt le pr) after '{path}', found {operator.text!r}"
            )
        if op == "pr":
            return Present(path)
        return Compare(path, op, self.value())

    def value(self) -> Any:
        token = self.take()
        if token.kind == "string":
            try:
                return check_text(json.loads(token.text))
            except ValueError:
                raise self.error(f"the string at character {token.position + 1} is not valid JSON") from None
            except ScimError as error:
                raise self.error(error.detail) from None
        if token.kind != "word":
            raise self.error(f"expected a value at character {token.position + 1} of {self.text!r}")
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if _NUMBER.match(token.text):
            try:
                return json.loads(token.text)
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                raise self.error(f"the number at character {token.position + 1} is too long") from None
        return token.text

    def attr_path(self, text: str) -> AttrPath:
        try:
            return parse_attr_path(text)
        except ScimError as error:
            raise self.error(error.detail) from None

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected {token.text!r} at character {token.position + 1} of {self.text!r}")


def _balanced(kind: type[And] | type[Or], terms: list[Filter]) -> Filter:
    """`a and b and c ...` as a balanced tree: a chain of n terms is log2(n) deep, not n deep, so
    everything that walks the tree recursively stays far from Python's recursion limit."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return kind(_balanced(kind, terms[:middle]), _balanced(kind, terms[middle:]))


def parse_filter(text: str, limits: Limits = DEFAULT_LIMITS) -> Filter:
    """Parse a `filter` query parameter; every problem is a 400 invalidFilter saying where."""
    if not text or not text.strip():
        raise invalid_filter("the filter is empty")
    if len(text) > limits.filter_length:
        raise invalid_filter(f"the filter is longer than {limits.filter_length} characters")
    parser = _Parser(text, invalid_filter, limits.filter_depth)
    result = parser.parse_or()
    parser.done()
    return result


def parse_patch_path(text: str, limits: Limits = DEFAULT_LIMITS) -> PatchPath:
    """Parse a PATCH `path`: `attr`, `attr.sub`, `urn:...:attr`, `attr[filter]`, `attr[filter].sub`."""
    if not isinstance(text, str) or not text.strip():
        raise invalid_path("the operation's path is empty")
    if len(text) > limits.filter_length:
        raise invalid_path(f"the path is longer than {limits.filter_length} characters")
    text = text.strip()
    if "[" not in text:
        return PatchPath(parse_attr_path(text))
    head, _, rest = text.partition("[")
    body, closing, tail = rest.rpartition("]")
    if not closing:
        raise invalid_path(f"the path {text!r} opens '[' without closing it")
    attr = parse_attr_path(head)
    if attr.sub:
        raise invalid_path(f"'{attr}' cannot take a [filter]: only a multi-valued attribute can")
    parser = _Parser(body, invalid_path, limits.filter_depth)
    value_filter = parser.parse_or()
    parser.done()
    sub = None
    if tail:
        if not tail.startswith(".") or not _NAME.match(tail[1:]):
            raise invalid_path(f"unexpected {tail!r} after ']' in the path {text!r}")
        sub = tail[1:]
    return PatchPath(AttrPath(attr.urn, attr.attr, sub), value_filter)


def walk(node: Filter):
    """Every node of a filter, depth first."""
    yield node
    if isinstance(node, (And, Or)):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Not):
        yield from walk(node.inner)
    elif isinstance(node, ValuePath):
        yield from walk(node.filter)
