"""The EQL abstract syntax tree.

Nodes are frozen, slotted dataclasses. Each carries the :class:`~eqlite.errors.Span` of the
text it came from; spans never take part in equality, so a query printed and parsed again
compares equal to the original.

Boolean ``and``/``or`` are n-ary and flattened; ``+x`` is dropped and ``-<number>`` is
folded into a negative literal, as Elasticsearch does when it builds its tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral
from typing import TypeAlias

from eqlite.errors import NO_SPAN, Span

LiteralKind: TypeAlias = TypingLiteral["null", "boolean", "long", "double", "string"]
ComparisonOp: TypeAlias = TypingLiteral["==", "!=", "<", "<=", ">", ">="]
ArithmeticOp: TypeAlias = TypingLiteral["+", "-", "*", "/", "%"]
MatchOp: TypeAlias = TypingLiteral[":", "like", "regex"]
PipeName: TypeAlias = TypingLiteral["head", "tail"]
TimeUnit: TypeAlias = TypingLiteral["ms", "s", "m", "h", "d"]

@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node."""

    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    def children(self) -> Iterator[Node]:
        """Yield the direct child nodes, in source order."""
        return iter(())

    def walk(self) -> Iterator[Node]:
        """Yield this node and all its descendants, depth first, in source order."""
        yield self
        for child in self.children():
            yield from child.walk()


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Expr(Node):
    """Base of expression nodes."""


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A constant: ``null``, ``true``, ``42``, ``4.2``, ``"text"``.

    ``kind`` keeps ``1`` (long) apart from ``1.0`` (double) and ``true`` apart from ``1``.
    """

    value: str | int | float | bool | None
    kind: LiteralKind


@dataclass(frozen=True, slots=True)
class Field(Expr):
    """A field reference such as ``process.parent.name``; ``?field`` sets ``optional``."""

    path: tuple[str, ...]
    optional: bool = False

    @property
    def name(self) -> str:
        """The dotted name, as used in mappings and documents."""
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True, slots=True)
class And(Expr):
    terms: tuple[Expr, ...]

    def children(self) -> Iterator[Node]:
        yield from self.terms


@dataclass(frozen=True, slots=True)
class Or(Expr):
    terms: tuple[Expr, ...]

    def children(self) -> Iterator[Node]:
        yield from self.terms


@dataclass(frozen=True, slots=True)
class Comparison(Expr):
    op: ComparisonOp
    left: Expr
    right: Expr

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True, slots=True)
class InList(Expr):
    """``x in (...)``, ``x in~ (...)``, ``x not in (...)``, ``x not in~ (...)``."""

    operand: Expr
    values: tuple[Expr, ...]
    insensitive: bool = False
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand
        yield from self.values


@dataclass(frozen=True, slots=True)
class Match(Expr):
    """``x : p``, ``x like p``, ``x like~ p``, ``x regex p``, ``x regex~ p``, with one or more patterns.

    ``:`` is always case-insensitive; ``insensitive`` records the ``~`` of ``like~``/``regex~``.
    """

    op: MatchOp
    operand: Expr
    patterns: tuple[Literal, ...]
    insensitive: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand
        yield from self.patterns

    @property
    def case_insensitive(self) -> bool:
        return self.op == ":" or self.insensitive


@dataclass(frozen=True, slots=True)
class Arithmetic(Expr):
    op: ArithmeticOp
    left: Expr
    right: Expr

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True, slots=True)
class Negate(Expr):
    operand: Expr

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True, slots=True)
class FunctionCall(Expr):
    """A function call; ``insensitive`` records the ``~`` of ``startsWith~(...)``."""

    name: str
    args: tuple[Expr, ...]
    insensitive: bool = False

    def children(self) -> Iterator[Node]:
        yield from self.args


# ---------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class EventQuery(Node):
    """``<category> where <condition>``; ``category`` is None for ``any``."""

    category: str | None
    condition: Expr

    def children(self) -> Iterator[Node]:
        yield self.condition


_UNIT_MILLIS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True, slots=True)
class TimeSpan(Node):
    """A ``maxspan`` value such as ``1m``."""

    value: int
    unit: TimeUnit

    @property
    def millis(self) -> int:
        return self.value * _UNIT_MILLIS[self.unit]

    @property
    def nanos(self) -> int:
        return self.millis * 1_000_000


@dataclass(frozen=True, slots=True)
class SequenceStage(Node):
    """One ``[ ... ]`` of a sequence (``missing`` for ``![ ... ]``) with its own ``by`` keys."""

    query: EventQuery
    keys: tuple[Expr, ...] = ()
    missing: bool = False
    runs: int = 1

    def children(self) -> Iterator[Node]:
        yield self.query
        yield from self.keys


@dataclass(frozen=True, slots=True)
class Sequence(Node):
    keys: tuple[Expr, ...]
    maxspan: TimeSpan | None
    stages: tuple[SequenceStage, ...]
    until: SequenceStage | None = None

    def children(self) -> Iterator[Node]:
        yield from self.keys
        if self.maxspan is not None:
            yield self.maxspan
        yield from self.stages
        if self.until is not None:
            yield self.until

    def expanded_stages(self) -> tuple[SequenceStage, ...]:
        """The stages with ``with runs=N`` written out N times, as Elasticsearch runs them."""
        return tuple(stage for stage in self.stages for _ in range(stage.runs))


@dataclass(frozen=True, slots=True)
class SampleStage(Node):
    query: EventQuery
    keys: tuple[Expr, ...] = ()

    def children(self) -> Iterator[Node]:
        yield self.query
        yield from self.keys


@dataclass(frozen=True, slots=True)
class Sample(Node):
    keys: tuple[Expr, ...]
    stages: tuple[SampleStage, ...]

    def children(self) -> Iterator[Node]:
        yield from self.keys
        yield from self.stages


@dataclass(frozen=True, slots=True)
class Pipe(Node):
    name: PipeName
    count: int


QueryBody: TypeAlias = EventQuery | Sequence | Sample


@dataclass(frozen=True, slots=True)
class Query(Node):
    """A whole EQL statement: an event query, sequence or sample, then its pipes."""

    body: QueryBody
    pipes: tuple[Pipe, ...] = ()

    def children(self) -> Iterator[Node]:
        yield self.body
        yield from self.pipes
