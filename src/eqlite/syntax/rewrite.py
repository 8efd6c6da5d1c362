"""Tree rewriting: rebuild an AST bottom-up with some nodes replaced.

Nodes are immutable, so a rewrite returns a new tree and shares every unchanged subtree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from eqlite.syntax import ast

N = TypeVar("N", bound=ast.Node)


def _rebuild_value(value: Any, visit: Callable[[ast.Node], ast.Node]) -> Any:
    if isinstance(value, ast.Node):
        return visit(value)
    if isinstance(value, tuple):
        items = tuple(_rebuild_value(item, visit) for item in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def transform(node: N, replace: Callable[[ast.Node], ast.Node | None]) -> N:
    """Rebuild ``node`` bottom-up; wherever ``replace`` returns a node, use it instead.

    >>> from eqlite.syntax.parser import parse
    >>> from eqlite.syntax.printer import to_eql
    >>> q = parse('any where x == 1')
    >>> to_eql(transform(q, lambda n: ast.Literal(2, "long") if n == ast.Literal(1, "long") else None))
    'any where x == 2'
    """

    def visit(current: ast.Node) -> ast.Node:
        changes = {}
        for item in dataclasses.fields(current):
            if item.name == "span":
                continue
            old = getattr(current, item.name)
            new = _rebuild_value(old, visit)
            if new is not old:
                changes[item.name] = new
        rebuilt = dataclasses.replace(current, **changes) if changes else current
        replacement = replace(rebuilt)
        return rebuilt if replacement is None else replacement

    result = visit(node)
    assert isinstance(result, type(node))
    return result


def replace_fields(node: N, replacement: Callable[[ast.Field], ast.Expr | None]) -> N:
    """Replace field references for which ``replacement`` returns an expression."""

    def replace(current: ast.Node) -> ast.Node | None:
        return replacement(current) if isinstance(current, ast.Field) else None

    return transform(node, replace)
