"""Query plans: what to search for, stage by stage, independent of how events are read.

A plan is built once per query. Each stage carries its filter (category test and
condition, translated by :mod:`eqlite.plan.translate`), its join keys (the sequence's or
sample's shared keys followed by the stage's own), and whether each key may be null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eqlite.plan import ir
from eqlite.plan.translate import translate
from eqlite.syntax import ast

DEFAULT_CATEGORY_FIELD = "event.category"


@dataclass(frozen=True, slots=True)
class Key:
    """One join key: its expression, and whether a null value is an ordinary value (``?field``)."""

    expr: ast.Expr
    optional: bool


@dataclass(frozen=True, slots=True)
class Stage:
    """One filter of a query: ``[ category where condition ] by keys``."""

    filter: ir.Pred
    keys: tuple[Key, ...] = ()
    missing: bool = False
    source: ast.EventQuery | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class EventPlan:
    stage: Stage


@dataclass(frozen=True, slots=True)
class SequencePlan:
    """Stages with ``runs`` written out; ``maxspan_ms`` is None when unbounded."""

    stages: tuple[Stage, ...]
    until: Stage | None
    maxspan_ms: int | None


@dataclass(frozen=True, slots=True)
class SamplePlan:
    stages: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class Pipe:
    kind: Literal["head", "tail"]
    count: int


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """A whole query: its body plan and pipes, and every field it reads."""

    body: EventPlan | SequencePlan | SamplePlan
    pipes: tuple[Pipe, ...]
    fields: frozenset[str]
    category_field: str


def _key(expr: ast.Expr) -> Key:
    optional = (isinstance(expr, ast.Field) and expr.optional) or (
        isinstance(expr, ast.Literal) and expr.kind == "null")
    return Key(expr, optional)


def _stage(query: ast.EventQuery, keys: tuple[ast.Expr, ...], missing: bool, category_field: str) -> Stage:
    condition = translate(query.condition)
    if query.category is not None and not isinstance(condition, ir.MatchNone):
        category = ir.Term(category_field, (ast.Literal(query.category, "string"),))
        condition = category if isinstance(condition, ir.MatchAll) else ir.And((category, condition))
    return Stage(condition, tuple(_key(key) for key in keys), missing, query)


def plan_query(query: ast.Query, *, category_field: str = DEFAULT_CATEGORY_FIELD) -> QueryPlan:
    """Build the plan of an analysed query.

    >>> from eqlite.syntax.parser import parse
    >>> plan = plan_query(parse("sequence by h [a where true] with runs=2 [b where true]"))
    >>> len(plan.body.stages), [k.expr.name for k in plan.body.stages[0].keys]
    (3, ['h'])
    """
    body = query.body
    plan_body: EventPlan | SequencePlan | SamplePlan
    if isinstance(body, ast.EventQuery):
        plan_body = EventPlan(_stage(body, (), False, category_field))
    elif isinstance(body, ast.Sequence):
        stages = tuple(
            _stage(stage.query, body.keys + stage.keys, stage.missing, category_field)
            for stage in body.expanded_stages()
        )
        until = None
        if body.until is not None:
            until = _stage(body.until.query, body.keys + body.until.keys, False, category_field)
        plan_body = SequencePlan(stages, until, body.maxspan.millis if body.maxspan else None)
    else:
        plan_body = SamplePlan(tuple(
            _stage(stage.query, body.keys + stage.keys, False, category_field) for stage in body.stages))
    fields = {child.name for child in query.walk() if isinstance(child, ast.Field)}
    fields.add(category_field)
    return QueryPlan(plan_body, tuple(Pipe(pipe.name, pipe.count) for pipe in query.pipes), frozenset(fields),
                     category_field)
