"""Read and write rules in Kibana's shapes: export NDJSON, API JSON and Fleet package assets.

An export file has one rule object per line, then (optionally) exception lists, their items and
action connectors, then a summary line ``{"exported_count": ...}``; only the rules are loaded,
the rest is skipped. Repository-only data (``[metadata]``, ``[transform]``) has no place in
Kibana's API, so the writer carries it inside the rule's free-form ``meta`` object under the
``eqlite`` key, where Kibana keeps it untouched and the reader finds it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from eqlite.errors import RuleError
from eqlite.rules._fields import FieldError
from eqlite.rules.locate import LineIndex, json_array_items, json_position, trace_string
from eqlite.rules.model import Rule, RuleLoadResult, RuleMetadata, SourceLocation

META_KEY = "eqlite"
"""Key of ``meta`` under which repository-only tables travel through the API shape."""

_FLEET_TYPE = "security-rule"


def rule_to_api(rule: Rule, *, defaults: bool = True, repository: bool = True) -> dict[str, Any]:
    """The rule as Kibana's API shows it (field names, and defaults filled as Kibana fills them).

    With ``repository`` true, ``[metadata]``, ``[transform]`` and unknown top-level TOML tables
    are kept in ``meta.eqlite`` so that :func:`rules_from_ndjson` restores them.

    >>> rule = Rule.from_dict({"rule_id": "r1", "name": "Demo", "description": "d", "type": "eql",
    ...     "language": "eql", "query": "any where true", "risk_score": 21, "severity": "low"},
    ...     metadata=RuleMetadata(maturity="production"))
    >>> api = rule_to_api(rule)
    >>> api["from"], api["max_signals"], api["meta"]
    ('now-6m', 100, {'eqlite': {'metadata': {'maturity': 'production'}}})
    """
    body = rule.to_dict(defaults=defaults)
    carried: dict[str, Any] = {}
    if repository:
        if rule.metadata is not None:
            carried["metadata"] = rule.metadata.to_dict()
        if rule.transform is not None:
            carried["transform"] = dict(rule.transform)
        if rule.extra_tables:
            carried["tables"] = dict(rule.extra_tables)
    if carried:
        body["meta"] = {**(rule.meta or {}), META_KEY: carried}
    return body


def rules_to_ndjson(rules: Iterable[Rule], *, summary: bool = False, repository: bool = True) -> str:
    """Render rules as a Kibana export file, one rule per line; ``summary`` adds Kibana's trailer.

    >>> rule = Rule.from_dict({"rule_id": "r1", "name": "Demo", "description": "d", "type": "eql",
    ...     "language": "eql", "query": "any where true", "risk_score": 21, "severity": "low"})
    >>> text = rules_to_ndjson([rule], summary=True)
    >>> rules_from_ndjson(text).rules == (rule,)
    True
    """
    lines = [orjson.dumps(rule_to_api(rule, repository=repository)).decode() for rule in rules]
    if summary:
        lines.append(orjson.dumps(_export_summary(len(lines))).decode())
    return "".join(line + "\n" for line in lines)


def _export_summary(count: int) -> dict[str, Any]:
    return {
        "exported_count": count, "exported_rules_count": count, "missing_rules": [], "missing_rules_count": 0,
        "exported_exception_list_count": 0, "exported_exception_list_item_count": 0,
        "missing_exception_list_item_count": 0, "missing_exception_list_items": [],
        "missing_exception_lists": [], "missing_exception_lists_count": 0,
        "exported_action_connector_count": 0, "missing_action_connection_count": 0,
        "missing_action_connections": [], "excluded_action_connection_count": 0,
        "excluded_action_connections": [],
    }


def rule_from_api(data: Mapping[str, Any], path: str = "") -> Rule:
    """Build a rule from a Kibana API object (or a Fleet ``security-rule`` asset wrapping one).

    >>> rule_from_api({"rule_id": "r1", "name": "Demo", "description": "d", "type": "query",
    ...     "risk_score": 21, "severity": "low", "from": "now-9m"}).from_
    'now-9m'
    """
    try:
        return _rule_from_api(data, SourceLocation(path) if path else None)
    except FieldError as error:
        raise RuleError(str(error), path) from None


def _is_fleet_asset(data: Mapping[str, Any]) -> bool:
    return data.get("type") == _FLEET_TYPE and isinstance(data.get("attributes"), Mapping)


def _rule_body(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return data["attributes"] if _is_fleet_asset(data) else data


def _rule_from_api(data: Mapping[str, Any], source: SourceLocation | None) -> Rule:
    body = dict(_rule_body(data))
    meta = body.get("meta")
    metadata = transform = None
    tables: Mapping[str, Any] = {}
    if isinstance(meta, Mapping) and isinstance(meta.get(META_KEY), Mapping):
        meta = dict(meta)
        carried = dict(meta.pop(META_KEY))
        try:
            carried_metadata = _mapping(carried.pop("metadata", None), "metadata")
            if carried_metadata is not None:
                try:
                    metadata = RuleMetadata.from_dict(carried_metadata)
                except FieldError as error:
                    raise error.within("metadata") from None
            transform = _mapping(carried.pop("transform", None), "transform")
            tables = _mapping(carried.pop("tables", None), "tables") or {}
        except FieldError as error:
            raise error.within(META_KEY).within("meta") from None
        if carried:
            meta[META_KEY] = carried
        body["meta"] = meta
    return Rule.from_dict(body, metadata=metadata, transform=transform, extra_tables=tables, source=source)


def _mapping(value: object, key: str) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    raise FieldError((key,), "expected an object")


def _kind_of(data: object) -> str:
    """``rule``, ``skip`` (export trailer, exception lists, connectors) or ``other``."""
    if not isinstance(data, Mapping):
        return "other"
    if "rule_id" in data or _is_fleet_asset(data):
        return "rule"
    if "exported_count" in data or "list_id" in data or "item_id" in data or data.get("type") == "action":
        return "skip"
    return "other"


def rules_from_ndjson(text: str, path: str = "") -> RuleLoadResult:
    """Load the rules of a Kibana export (NDJSON); a bad line becomes an error, not a stop.

    >>> result = rules_from_ndjson('{"rule_id": "r1", "name": "n", "description": "", "type": "eql",'
    ...     ' "risk_score": 1, "severity": "low"}\\n{"a": 1,}\\n{"exported_count": 1}\\n', "x.ndjson")
    >>> [rule.rule_id for rule in result.rules], [str(error) for error in result.errors]
    (['r1'], ['x.ndjson:2:8: invalid JSON: trailing comma is not allowed'])
    """
    rules: list[Rule] = []
    errors: list[RuleError] = []
    for number, raw_line in enumerate(text.split("\n"), 1):
        line = raw_line.rstrip("\r")
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            errors.append(RuleError(f"invalid JSON: {error.msg}", path, number, error.colno))
            continue
        _Reader(line, path, number, rules, errors).collect(data, 0)
    return RuleLoadResult(tuple(rules), tuple(errors), 1)


def rules_from_json(text: str, path: str = "") -> RuleLoadResult:
    """Load a JSON file holding one rule (API object or Fleet asset) or an array of them.

    >>> rules_from_json('[{"rule_id": "r1", "name": "n", "description": "", "type": "eql",'
    ...     ' "risk_score": 1, "severity": "low"}]').rules[0].rule_id
    'r1'
    """
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        failure = RuleError(f"invalid JSON: {error.msg}", path, error.lineno, error.colno)
        return RuleLoadResult((), (failure,), 1)
    rules: list[Rule] = []
    errors: list[RuleError] = []
    reader = _Reader(text, path, None, rules, errors)
    if isinstance(data, list):
        offsets = json_array_items(text)
        for position, item in enumerate(data):
            reader.collect(item, offsets[position] if position < len(offsets) else None)
    else:
        reader.collect(data, 0)
    return RuleLoadResult(tuple(rules), tuple(errors), 1)


class _Reader:
    """Turns decoded objects of one file into rules or errors, locating both in the file's text.

    ``line`` is the file line of ``text`` when it is one NDJSON record, ``None`` for a whole file.
    """

    def __init__(self, text: str, path: str, line: int | None, rules: list[Rule],
                 errors: list[RuleError]) -> None:
        self.text, self.path, self.line = text, path, line
        self.index = LineIndex(text)
        self.rules, self.errors = rules, errors

    def position(self, offset: int) -> tuple[int, int]:
        if self.line is not None:
            return self.line, offset + 1
        return self.index.position(offset)

    def collect(self, data: object, start: int | None) -> None:
        """Add ``data`` (whose JSON text starts at offset ``start``, if known) as a rule or an error."""
        kind = _kind_of(data)
        if kind == "skip":
            return
        start_line, start_col = self.position(start or 0)
        if kind == "other" or not isinstance(data, Mapping):
            self.errors.append(RuleError("not a detection rule: the object has no rule_id", self.path,
                                         start_line, start_col))
            return
        prefix = ("attributes",) if _is_fleet_asset(data) else ()
        try:
            self.rules.append(_rule_from_api(data, self.source(data, start, prefix, start_line)))
        except FieldError as error:
            line, col = self.error_position(start, prefix, error.path)
            self.errors.append(RuleError(f"rule {_name_of(data)}: {error}", self.path, line, col))

    def source(self, data: Mapping[str, Any], start: int | None, prefix: tuple[str, ...],
               start_line: int) -> SourceLocation:
        query = _rule_body(data).get("query")
        offset = None if start is None else json_position(self.text, (*prefix, "query"), start)
        if offset is None or not isinstance(query, str):
            return SourceLocation(self.path, start_line)
        q_line, q_col = self.position(offset)
        traced = trace_string(self.text, offset, q_line, q_col, json=True)
        if traced is None or traced[0] != query or not traced[1]:
            return SourceLocation(self.path, start_line, q_line, q_col + 1)
        first = traced[1][0]
        return SourceLocation(self.path, start_line, first[2], first[3], traced[1])

    def error_position(self, start: int | None, prefix: Sequence[str],
                       field_path: Sequence[str | int]) -> tuple[int | None, int | None]:
        # The deepest part of the path that exists: a missing key is reported at its object.
        for depth in range(len(field_path), -1, -1):
            if start is None:
                break
            offset = json_position(self.text, (*prefix, *field_path[:depth]), start)
            if offset is not None:
                return self.position(offset)
        return self.line, None


def _name_of(data: Mapping[str, Any]) -> str:
    name = _rule_body(data).get("name")
    return repr(name) if isinstance(name, str) else repr(data.get("rule_id", "?"))
