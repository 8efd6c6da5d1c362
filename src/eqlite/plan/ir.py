"""The filter plan: what an event query's condition means, as Elasticsearch executes it.

Elasticsearch turns a condition into a Lucene query where it can (a *pushed-down*
predicate on a bare field) and into a Painless script where it cannot. The two behave
differently on missing fields and arrays, so the plan keeps them apart:

* query nodes (:class:`Term`, :class:`Range`, :class:`Wildcard`, ...) are two-valued at
  the document level: a predicate holds if *any* value of the field satisfies it, a
  missing field satisfies nothing, and :class:`Not` is the complement (``must_not``), so
  ``not`` over a missing field is true;
* :class:`Script` nodes evaluate an expression with three-valued logic (null propagates),
  once per combination of the values of the fields they read, and hold if any
  combination gives true.

Values in the plan are constant expressions (``ast.Expr`` without fields); the runtime
folds them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from eqlite.syntax import ast

RangeOp: TypeAlias = Literal["<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class WildcardPattern:
    """A wildcard pattern as a sequence of literal runs, ``*`` (any run) and ``?`` (one character)."""

    parts: tuple[str, ...]

    ANY = "\x00*"
    ONE = "\x00?"

    @property
    def is_literal(self) -> bool:
        return all(part not in (self.ANY, self.ONE) for part in self.parts)

    def literal(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True, slots=True)
class Pred:
    """Base of plan predicates."""


@dataclass(frozen=True, slots=True)
class MatchAll(Pred):
    pass


@dataclass(frozen=True, slots=True)
class MatchNone(Pred):
    pass


@dataclass(frozen=True, slots=True)
class Term(Pred):
    """Some value of ``field`` equals one of ``values`` (``==``, ``in``, ``:`` without wildcards)."""

    field: str
    values: tuple[ast.Expr, ...]
    insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Range(Pred):
    """Some single value of ``field`` satisfies every bound (comparisons on one field are combined)."""

    field: str
    bounds: tuple[tuple[RangeOp, ast.Expr], ...]


@dataclass(frozen=True, slots=True)
class Wildcard(Pred):
    """Some value of ``field`` matches one of the wildcard patterns."""

    field: str
    patterns: tuple[WildcardPattern, ...]
    insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Prefix(Pred):
    """Some value of ``field`` starts with ``prefix`` (``startsWith`` on a field)."""

    field: str
    prefix: ast.Expr
    insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Regexp(Pred):
    """Some value of ``field`` matches one of the (Lucene syntax, anchored) regular expressions."""

    field: str
    patterns: tuple[str, ...]
    insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Exists(Pred):
    """``field`` has at least one value."""

    field: str


@dataclass(frozen=True, slots=True)
class Cidr(Pred):
    """Some value of the ip ``field`` lies in one of the blocks (``cidrMatch`` on a field)."""

    field: str
    blocks: tuple[ast.Expr, ...]


@dataclass(frozen=True, slots=True)
class Not(Pred):
    """The complement of a query (``bool.must_not``)."""

    operand: Pred


@dataclass(frozen=True, slots=True)
class And(Pred):
    operands: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Or(Pred):
    operands: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Script(Pred):
    """A boolean expression evaluated per event with three-valued logic; true only if it yields true."""

    expr: ast.Expr


def fields_of(pred: Pred) -> set[str]:
    """Every field a predicate reads."""
    found: set[str] = set()
    stack = [pred]
    while stack:
        node = stack.pop()
        if isinstance(node, (And, Or)):
            stack.extend(node.operands)
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, Script):
            found.update(child.name for child in node.expr.walk() if isinstance(child, ast.Field))
        elif hasattr(node, "field"):
            found.add(node.field)
    return found
