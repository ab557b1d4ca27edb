"""A SCIM filter, translated through the map into one directory Query.

Anything the map cannot answer is a 400 invalidFilter that names it: the gateway never
widens a filter it does not understand into a scan of everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.mapping.model import ResourceMap, Rule
from gateway.scim.errors import ScimError, invalid_filter
from gateway.scim.filter import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from gateway.scim.patch import matches
from gateway.scim.resource import Resolved, coerce_simple, resolve
from gateway.scim.schema import Attribute
from gateway.store import EVERYTHING, NOTHING, AllOf, AnyOf, Exists, Match, Query, Ref, all_of, any_of, negate

_META_TIMES = {"created": "created_attribute", "lastmodified": "modified_attribute"}


def to_query(resource_map: ResourceMap, scim_filter: Filter) -> Query:
    """Translate a parsed SCIM filter; NOTHING means 'no entry can match' (no I/O needed)."""
    return _Translator(resource_map).visit(scim_filter)


class _Translator:
    def __init__(self, resource_map: ResourceMap):
        self.map = resource_map

    def visit(self, node: Filter) -> Query:
        if isinstance(node, And):
            return all_of(self.visit(node.left), self.visit(node.right))
        if isinstance(node, Or):
            return any_of(self.visit(node.left), self.visit(node.right))
        if isinstance(node, Not):
            return negate(self.visit(node.inner))
        if isinstance(node, ValuePath):
            return self.value_path(node)
        return self.comparison(node)

    def resolve(self, path: AttrPath) -> Resolved:
        try:
            return resolve(self.map.resource_type, path)
        except ScimError as error:
            raise invalid_filter(error.detail) from None

    def comparison(self, node: Compare | Present) -> Query:
        resolved = self.resolve(node.path)
        attribute, sub = resolved.attribute, resolved.sub
        if resolved.urn is None and attribute.name == "id":
            return self.compare_plain(self.map.id_attribute, node)
        if resolved.urn is None and attribute.name == "meta":
            return self.meta_time(node, sub)
        if attribute.type == "complex" and sub is None:
            sub = attribute.sub("value")  # `emails eq "x"`, `manager eq "id"` compare the value
            if sub is None:
                raise invalid_filter(f"'{node.path}' is complex: filter on one of its sub-attributes")
        rules = self.map.rules_for(resolved.urn, attribute.name, sub.name if sub else None)
        if not rules:
            raise invalid_filter(f"cannot filter on '{node.path}': this gateway's map does not store it")
        node = _typed(node, sub or attribute)
        return any_of(*(self.rule_query(rule, node) for rule in rules))

    def value_path(self, node: ValuePath) -> Query:
        resolved = self.resolve(node.path)
        attribute = resolved.attribute
        if not attribute.multi_valued or attribute.type != "complex":
            raise invalid_filter(f"'{node.path}' is not a multi-valued complex attribute: it takes no [filter]")
        rules = self.map.rules_for(resolved.urn, attribute.name)
        if not rules:
            raise invalid_filter(f"cannot filter on '{node.path}': this gateway's map does not store it")
        selectors = list(dict.fromkeys(rule.path.selector for rule in rules))
        return any_of(*(self.slot(node.filter, attribute, resolved.urn, s, rules) for s in selectors))

    def slot(self, node: Filter, attribute: Attribute, urn: str | None, selector: tuple, rules: list[Rule]) -> Query:
        """`emails[...]` for one stored element: it must exist, and the inner filter must hold."""
        query = self.in_slot(node, attribute, urn, selector, rules)
        if _positive(query):
            return query
        stored = [Exists(r.attribute) for r in rules if r.path.selector == selector]
        return all_of(query, any_of(*stored))

    def in_slot(self, node: Filter, attribute: Attribute, urn: str | None, selector: tuple, rules: list[Rule]) -> Query:
        """The inner filter, for the elements one group of rules stores (e.g. the work email)."""
        if isinstance(node, And):
            return all_of(*(self.in_slot(n, attribute, urn, selector, rules) for n in (node.left, node.right)))
        if isinstance(node, Or):
            return any_of(*(self.in_slot(n, attribute, urn, selector, rules) for n in (node.left, node.right)))
        if isinstance(node, Not):
            return negate(self.in_slot(node.inner, attribute, urn, selector, rules))
        if isinstance(node, ValuePath):
            raise invalid_filter("a [filter] cannot nest another [filter]")
        name = node.path.attr
        sub = attribute.sub(name)
        if sub is None or node.path.sub or node.path.urn:
            raise invalid_filter(f"{attribute.name} has no sub-attribute '{node.path}'")
        selected = dict(selector)
        if sub.name in selected:
            # The map stores this element under a fixed selector: decide here, not in the directory.
            return EVERYTHING if matches(selected, node, attribute) else NOTHING
        slot_rules = [r for r in rules if r.path.selector == selector and r.path.sub == sub.name]
        if not slot_rules:
            raise invalid_filter(f"cannot filter on {attribute.name}.{sub.name}: this gateway's map does not store it")
        node = _typed(node, sub)
        return any_of(*(self.rule_query(rule, node) for rule in slot_rules))

    def rule_query(self, rule: Rule, node: Compare | Present) -> Query:
        if isinstance(node, Present):
            return rule.transform.present(rule.attribute)
        if rule.reference:
            if node.op not in ("eq", "ne"):
                raise invalid_filter(f"'{node.path}' is a reference: only eq and ne compare it")
            if node.value in (None, ""):
                return negate(Exists(rule.attribute)) if node.op == "eq" else Exists(rule.attribute)
            match = Match(rule.attribute, "eq", Ref(rule.reference, str(node.value)))
            return match if node.op == "eq" else negate(match)
        return rule.transform.query(rule.attribute, node.op, node.value)

    def compare_plain(self, attribute: str, node: Compare | Present) -> Query:
        if isinstance(node, Present):
            return EVERYTHING
        value = _text(node.value)
        if node.op == "ne":
            return negate(Match(attribute, "eq", value))
        return Match(attribute, node.op, value)

    def meta_time(self, node: Compare | Present, sub: Attribute | None) -> Query:
        field = _META_TIMES.get(sub.name.lower()) if sub else None
        attribute = getattr(self.map, field) if field else None
        if attribute is None:
            raise invalid_filter(f"cannot filter on '{node.path}': only meta.created and meta.lastModified are stored")
        if isinstance(node, Present):
            return EVERYTHING
        moment = _datetime(node.value)
        if node.op == "ne":
            return negate(Match(attribute, "eq", moment))
        if node.op in ("co", "sw", "ew"):
            raise invalid_filter(f"'{node.op}' does not compare dates; use eq gt ge lt le")
        return Match(attribute, node.op, moment)


def _positive(query: Query) -> bool:
    """A query that can only match entries holding some value (so the element exists)."""
    if isinstance(query, (Match, Exists)):
        return True
    if isinstance(query, AllOf):
        return any(_positive(item) for item in query.items)
    if isinstance(query, AnyOf):
        return bool(query.items) and all(_positive(item) for item in query.items)
    return False


def _typed(node: Compare | Present, attribute: Attribute) -> Compare | Present:
    """`active eq "True"` compares a boolean: coerce the value to the attribute's SCIM type."""
    if isinstance(node, Present) or node.value is None:
        return node
    try:
        return Compare(node.path, node.op, coerce_simple(node.value, attribute, str(node.path)))
    except ScimError as error:
        raise invalid_filter(error.detail) from None


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise invalid_filter(f"{value!r} is not a value this attribute can be compared with")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _datetime(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid_filter(f"{value!r} is not an ISO 8601 date and time") from None
