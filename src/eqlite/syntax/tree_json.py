"""The AST as plain JSON-ready data, for ``eqlite parse --json`` and other tools."""

from __future__ import annotations

import dataclasses
from typing import Any

from eqlite.syntax import ast


def to_data(node: ast.Node) -> dict[str, Any]:
    """Turn a node into a dict: ``{"type": <class>, <fields>..., "span": {...}}``.

    >>> from eqlite.syntax.parser import parse
    >>> to_data(parse("any where true").body)["condition"]
    {'type': 'Literal', 'value': True, 'kind': 'boolean', 'span': {'start': 10, 'end': 14, 'line': 1, 'col': 11}}
    """
    data: dict[str, Any] = {"type": type(node).__name__}
    for item in dataclasses.fields(node):
        if item.name != "span":
            data[item.name] = _value(getattr(node, item.name))
    span = node.span
    data["span"] = {"start": span.start, "end": span.end, "line": span.line, "col": span.col}
    return data


def _value(value: Any) -> Any:
    if isinstance(value, ast.Node):
        return to_data(value)
    if isinstance(value, tuple):
        return [_value(item) for item in value]
    return value
