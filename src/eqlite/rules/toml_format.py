"""Read and write rules in the detection-rules repository format (TOML).

A file has a ``[metadata]`` table (repository-only facts: dates, maturity, integrations), a
``[rule]`` table with the Kibana API fields (``[[rule.threat]]`` and other sub-tables), and
optionally ``[transform]``. The writer lays a file out the way the repository does: metadata
first, scalar rule keys sorted, then ``query``/``note``/``setup`` as multi-line literal strings,
then sub-tables, so that written files read like hand-maintained ones.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import re2
import rtoml

from eqlite.errors import RuleError
from eqlite.rules._fields import FieldError, format_path
from eqlite.rules.locate import LineIndex, toml_positions, trace_string
from eqlite.rules.model import Rule, RuleMetadata, SourceLocation

# Texts that tomllib reads, whatever rtoml would make of them (see _tomllib_only; a match inside a
# string only costs speed):
# - a date-time with an offset: rtoml gives it a time zone of its own class, tomllib a datetime.timezone;
# - what TOML 1.1 allows and TOML 1.0 (tomllib) refuses, which rtoml accepts: the escapes \x and \e,
#   a trailing comma or a newline in an inline table, a time without seconds, and bare keys beyond
#   ASCII (any non-ASCII character before a "=" on a line without quotes).
# All but the last in one RE2 scan (linear: Python's re took 1.2 s over the repository's files, RE2
# 0.05 s). A time without seconds is two digits, a colon and two digits, neither within a longer time
# nor followed by ":" and a digit.
_TOMLLIB_ONLY = re2.compile(
    r"\\x|\\e|\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)|,\s*\}|\{[^}\n]*\n"
    r"|(?:\A|[^\d:])\d\d:\d\d(?:\z|[^:]|:\z|:[^\d])")


def _tomllib_only(text: str) -> bool:
    """Whether ``text`` may hold what tomllib and rtoml read differently (see above)."""
    if _TOMLLIB_ONLY.search(text) is not None:
        return True
    if text.isascii():
        return False
    for line in text.split("\n"):
        if not line.isascii() and "=" in line:
            key = line.partition("=")[0]
            if not key.isascii() and not any(mark in key for mark in "\"'#"):
                return True
    return False


_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_QUERY_KEY = re.compile(r"""^[ \t]*(?:query|"query"|'query')[ \t]*=[ \t]*""", re.MULTILINE)
_TRAILING_KEYS = ("query", "note", "setup")
_ARRAY_WIDTH = 110
_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')
_LITERAL_UNSAFE = re.compile(r"'''|[\x00-\x08\x0b-\x1f\x7f]")


# ---------------------------------------------------------------------------------- loading


def _parse(text: str) -> dict[str, Any]:
    """The TOML document of ``text``, as :func:`tomllib.loads` gives it.

    rtoml (Rust) reads the 2,200 files of the detection-rules repository in 0.26 s, where
    tomllib takes 3.2 s, with equal results. tomllib still reads what rtoml refuses (so that
    errors, and their positions, are tomllib's), and any text with a date-time with an offset
    or with something only TOML 1.1 allows (see _tomllib_only): 79 of the repository's files.
    """
    if not _tomllib_only(text):
        try:
            document: dict[str, Any] = rtoml.loads(text)
        except rtoml.TomlParsingError:
            pass
        else:
            return document
    return tomllib.loads(text)



def rule_from_toml(text: str, path: str = "") -> Rule:
    """Load one rule from the text of a detection-rules TOML file.

    Raises :class:`RuleError` with the path and, where known, the line and column (TOML
    syntax errors, missing or mistyped fields).

    >>> rule = rule_from_toml('''[metadata]
    ... maturity = "production"
    ... [rule]
    ... rule_id = "r1"
    ... name = "Demo"
    ... description = "A demo."
    ... type = "eql"
    ... risk_score = 21
    ... severity = "low"
    ... query = \\'\\'\\'
    ... process where process.name == "x"
    ... \\'\\'\\'
    ... ''', "demo.toml")
    >>> rule.name, rule.metadata.maturity, rule.version
    ('Demo', 'production', 1)
    >>> rule.locate(1, 15)
    'demo.toml:11:15'
    """
    try:
        document = _parse(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _POSITION.search(message)
        line = col = None
        if match is not None:
            message = message[:match.start()]
            if match.group(1):
                line, col = int(match.group(1)), int(match.group(2))
            else:
                line, col = LineIndex(text).position(len(text))
        raise RuleError(f"TOML syntax error: {message}", path, line, col) from None
    body = document.pop("rule", None)
    if not isinstance(body, dict):
        raise RuleError("not a detection rule: the file has no [rule] table", path, 1, 1)
    metadata = document.pop("metadata", None)
    transform = document.pop("transform", None)
    try:
        if metadata is not None and not isinstance(metadata, dict):
            raise FieldError((), "expected a table")
        if transform is not None and not isinstance(transform, dict):
            raise FieldError(("transform",), "expected a table")
        meta_record = None if metadata is None else RuleMetadata.from_dict(metadata)
    except FieldError as error:
        raise _field_error(error, "metadata", text, path) from None
    try:
        rule = Rule.from_dict(
            _from_repository_shape(body), metadata=meta_record, transform=transform, extra_tables=document,
            source=_source(text, path, body.get("query")))
    except FieldError as error:
        raise _field_error(error, "rule", text, path) from None
    return rule


def _field_error(error: FieldError, table: str, text: str, path: str) -> RuleError:
    where = _deepest_position(table, error.path, toml_positions(text))
    line, col = LineIndex(text).position(where) if where is not None else (None, None)
    return RuleError(f"[{table}] {error}", path, line, col)


def _deepest_position(table: str, field_path: tuple[str | int, ...],
                      positions: dict[tuple[str, str], tuple[int, int]]) -> int | None:
    # A mistyped value is shown at its key; a missing one at the table that lacks it.
    for depth in range(len(field_path), -1, -1):
        prefix = field_path[:depth]
        last = prefix[-1] if prefix else None
        if isinstance(last, str):
            at_key = positions.get((format_path((table, *prefix[:-1])), last))
            if at_key is not None:
                return at_key[0]
        at_header = positions.get((format_path((table, *prefix)), ""))
        if at_header is not None:
            return at_header[0]
    return None


def _source(text: str, path: str, query: object) -> SourceLocation:
    if not isinstance(query, str):
        return SourceLocation(path, 1)
    # Scanning the whole file costs about as much as parsing it; a `query =` line whose string
    # decodes to exactly the query is the rule's (other tables' queries differ). The full scan
    # is the fallback for layouts the pattern misses.
    index = LineIndex(text)
    for offset in (match.end() for match in _QUERY_KEY.finditer(text)):
        located = _located(text, index, offset, query, path)
        if located is not None:
            return located
    scanned = toml_positions(text).get(("rule", "query"))
    located = None if scanned is None else _located(text, index, scanned[1], query, path)
    return located or SourceLocation(path, 1)


def _located(text: str, index: LineIndex, offset: int, query: str, path: str) -> SourceLocation | None:
    line, col = index.position(offset)
    traced = trace_string(text, offset, line, col)
    if traced is None or traced[0] != query or not traced[1]:
        return None
    first = traced[1][0]
    return SourceLocation(path, 1, first[2], first[3], traced[1])


def _from_repository_shape(body: dict[str, Any]) -> dict[str, Any]:
    """Turn the repository's ``[rule.new_terms]`` table into the API's flat fields."""
    new_terms = body.get("new_terms")
    if not isinstance(new_terms, dict) or set(new_terms) != {"field", "value", "history_window_start"}:
        return body
    window = new_terms["history_window_start"]
    if new_terms["field"] != "new_terms_fields" or not (
            isinstance(window, list) and len(window) == 1 and isinstance(window[0], dict)
            and set(window[0]) == {"field", "value"} and window[0]["field"] == "history_window_start"):
        return body
    flat = {key: value for key, value in body.items() if key != "new_terms"}
    flat["new_terms_fields"] = new_terms["value"]
    flat["history_window_start"] = window[0]["value"]
    return flat


def _to_repository_shape(body: dict[str, Any]) -> dict[str, Any]:
    if "new_terms_fields" not in body or "history_window_start" not in body or "new_terms" in body:
        return body
    flat_keys = ("new_terms_fields", "history_window_start")
    shaped = {key: value for key, value in body.items() if key not in flat_keys}
    shaped["new_terms"] = {
        "field": "new_terms_fields", "value": body["new_terms_fields"],
        "history_window_start": [{"field": "history_window_start", "value": body["history_window_start"]}],
    }
    return shaped


# ---------------------------------------------------------------------------------- writing


def rule_to_toml(rule: Rule, *, drop_nulls: bool = False) -> str:
    """Render a rule as a detection-rules TOML file; :func:`rule_from_toml` reads it back equal.

    TOML has no null: a ``None`` inside ``extra`` or a JSON-valued field (possible in rules
    loaded from Kibana exports) raises ``ValueError`` unless ``drop_nulls`` is true.

    >>> rule = Rule.from_dict({"rule_id": "r1", "name": "Demo", "description": "d", "type": "eql",
    ...     "language": "eql", "query": "any where true\\n", "risk_score": 21, "severity": "low"})
    >>> print(rule_to_toml(rule))
    [rule]
    description = "d"
    language = "eql"
    name = "Demo"
    risk_score = 21
    rule_id = "r1"
    severity = "low"
    type = "eql"
    query = '''
    any where true
    '''
    <BLANKLINE>
    >>> rule_from_toml(rule_to_toml(rule)) == rule
    True
    """
    document: dict[str, Any] = {
        key: value for key, value in rule.extra_tables.items() if not isinstance(value, Mapping)}
    if rule.metadata is not None:
        document["metadata"] = dict(sorted(rule.metadata.to_dict().items()))
    body = _to_repository_shape(rule.to_dict())
    ordered = dict(sorted(body.items(), key=lambda item: _rank(item[0])))
    # Threat tables come last, after any other sub-table, as in the repository's files.
    if "threat" in ordered:
        ordered["threat"] = ordered.pop("threat")
    document["rule"] = ordered
    if rule.transform is not None:
        document["transform"] = rule.transform
    document.update((key, value) for key, value in rule.extra_tables.items() if isinstance(value, Mapping))
    writer = _TomlWriter(drop_nulls)
    writer.table([], document)
    return writer.text()


def _rank(key: str) -> tuple[int, str]:
    return (1 + _TRAILING_KEYS.index(key), "") if key in _TRAILING_KEYS else (0, key)


def _is_table_array(value: object) -> bool:
    if not isinstance(value, list | tuple) or not value:
        return False
    return all(isinstance(item, Mapping) for item in value)


class _TomlWriter:
    def __init__(self, drop_nulls: bool) -> None:
        self._lines: list[str] = []
        self._drop_nulls = drop_nulls

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"

    def table(self, path: list[str], table: Mapping[str, Any], *, array: bool = False) -> None:
        if path:
            if self._lines:
                self._lines.append("")
            header = ".".join(_key(part) for part in path)
            self._lines.append(f"[[{header}]]" if array else f"[{header}]")
        nested: list[tuple[str, Any]] = []
        for key, value in table.items():
            if value is None:
                self._null([*path, key])
            elif isinstance(value, Mapping) or _is_table_array(value):
                nested.append((key, value))
            else:
                self._lines.append(f"{_key(key)} = {self._value(value, [*path, key], top=True)}")
        for key, value in nested:
            if isinstance(value, Mapping):
                self.table([*path, key], value)
            else:
                for item in value:
                    self.table([*path, key], item, array=True)

    def _null(self, path: Sequence[str | int]) -> None:
        if not self._drop_nulls:
            shown = format_path(tuple(path))
            raise ValueError(f"{shown} is null, which TOML cannot store; drop_nulls=True leaves it out")

    def _items(self, pairs: Iterable[tuple[str | int, object]], path: Sequence[str | int], *,
               multiline: bool = False) -> list[tuple[str | int, str]]:
        rendered = []
        for key, item in pairs:
            if item is None:
                self._null([*path, key])
            else:
                rendered.append((key, self._value(item, [*path, key], top=multiline)))
        return rendered

    def _value(self, value: object, path: Sequence[str | int], *, top: bool = False) -> str:
        if isinstance(value, str):
            return _string(value, multiline=top)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value):
                return "nan"
            return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, Mapping):
            pairs = self._items(value.items(), path)
            if not pairs:
                return "{}"
            return "{ " + ", ".join(f"{_key(str(key))} = {item}" for key, item in pairs) + " }"
        if isinstance(value, list | tuple):
            # Multi-line strings stay readable in arrays, not in inline tables (one line each).
            items = [item for _, item in self._items(enumerate(value), path, multiline=top)]
            one_line = "[" + ", ".join(items) + "]"
            if len(one_line) <= _ARRAY_WIDTH and "\n" not in one_line:
                return one_line
            return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
        raise ValueError(f"{format_path(tuple(path))}: TOML cannot store a {type(value).__name__}")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key, multiline=False)


def _string(text: str, *, multiline: bool) -> str:
    if multiline and "\n" in text:
        if not _LITERAL_UNSAFE.search(text):
            return f"'''\n{text}'''"
        escaped = re.sub(r'[\\"\x00-\x09\x0b-\x1f\x7f]', _escape_char, text)
        return f'"""\n{escaped}"""'
    if not _NEEDS_ESCAPE.search(text):
        return f'"{text}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, text) + '"'


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _TOML_ESCAPES.get(char) or f"\\u{ord(char):04x}"
