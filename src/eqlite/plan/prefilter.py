"""Necessary literals: text an event's raw JSON line must contain for a stage to match it.

A predicate like ``process.name : "mmc.exe"`` can only hold for an event whose JSON text
contains ``mmc.exe`` (in some case). Collecting such literals for every stage of every
rule lets the fast path skip, without parsing it, any line that contains none of a rule's
literals.

Only *necessary* conditions are derived, so skipping is always safe:

* ``and`` needs the literals of any one of its operands (the most selective is kept);
* ``or`` needs one literal of each operand (an operand without literals frees the whole);
* ``not``, ranges, scripts, ``exists`` and regular expressions give no literal;
* a literal is a run of characters that JSON never escapes (ASCII letters, digits and
  punctuation other than ``"``, ``\\`` and ``/``), lower-cased, at least 3 long. A value
  such as ``C:\\Windows\\cmd.exe`` appears in the JSON text escaped, so only its runs
  (``windows``, ``cmd.exe``) are used.

The matching text is compared lower-cased (ASCII only), which keeps case-insensitive
operators exact and only costs case-sensitive ones some selectivity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from eqlite.plan import ir
from eqlite.syntax import ast

MIN_LITERAL = 3
_SAFE_RUN = re.compile(r"[A-Za-z0-9!#$%&'()*+,\-.:;<=>?@\[\]^_`{|}~ ]+")

Frequency = Callable[[str], float]
Textual = Callable[[str], bool]
"""Whether a field's values are compared as the text found in the JSON (keyword-like, or unmapped).

Fields that convert their values (``ip``, ``date``, numbers, a keyword with a ``null_value``)
may match text that is not in the line (``::1`` matches ``0:0:0:0:0:0:0:1``), so they give no
literal."""


def _any_field(name: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Requirement:
    """At least one of ``literals`` must occur in the line; ``None`` as a requirement means "no constraint".

    An empty set means the stage can never match (e.g. ``where false``).
    """

    literals: frozenset[str]

    def cost(self, frequency: Frequency) -> float:
        return sum(frequency(literal) for literal in self.literals)


def literal_runs(text: str) -> list[str]:
    """The runs of ``text`` that appear verbatim (lower-cased) in any JSON encoding of it.

    >>> literal_runs("C:\\\\Windows\\\\System32\\\\cmd.exe")
    ['c:', 'windows', 'system32', 'cmd.exe']
    >>> literal_runs("élan")
    ['lan']
    """
    return [run.lower() for run in _SAFE_RUN.findall(text)]


def _best_run(text: str, frequency: Frequency) -> str | None:
    runs = [run for run in literal_runs(text) if len(run.strip()) >= MIN_LITERAL]
    if not runs:
        return None
    return min(runs, key=lambda run: (frequency(run), -len(run)))


def _values(values: Iterable[ast.Expr], frequency: Frequency) -> Requirement | None:
    literals = set()
    for value in values:
        if not (isinstance(value, ast.Literal) and isinstance(value.value, str)):
            return None
        best = _best_run(value.value, frequency)
        if best is None:
            return None
        literals.add(best)
    return Requirement(frozenset(literals))


def _pattern(pattern: ir.WildcardPattern, frequency: Frequency) -> str | None:
    candidates = [run for part in pattern.parts if part not in (ir.WildcardPattern.ANY, ir.WildcardPattern.ONE)
                  for run in literal_runs(part) if len(run.strip()) >= MIN_LITERAL]
    if not candidates:
        return None
    return min(candidates, key=lambda run: (frequency(run), -len(run)))


def requirement(pred: ir.Pred, frequency: Frequency | None = None, textual: Textual = _any_field
                ) -> Requirement | None:
    """The literals a line must contain (one of them) for ``pred`` to hold; None when there are none.

    ``frequency`` estimates how often a literal occurs (from a sample of the input); the
    rarest choice is kept. Without it, longer literals are preferred.

    >>> from eqlite.plan.translate import translate
    >>> from eqlite.syntax.parser import parse
    >>> cond = parse('any where process.name : ("MMC.exe", "cmd.exe") and source.port > 1').body.condition
    >>> sorted(requirement(translate(cond)).literals)
    ['cmd.exe', 'mmc.exe']
    """
    estimate: Frequency = frequency or (lambda literal: 1.0 / len(literal))
    if isinstance(pred, ir.MatchNone):
        return Requirement(frozenset())
    if isinstance(pred, (ir.Term, ir.Prefix, ir.Wildcard)) and not textual(pred.field):
        return None
    if isinstance(pred, ir.Term):
        return _values(pred.values, estimate)
    if isinstance(pred, ir.Prefix):
        return _values((pred.prefix,), estimate)
    if isinstance(pred, ir.Wildcard):
        literals = set()
        for pattern in pred.patterns:
            best = _pattern(pattern, estimate)
            if best is None:
                return None
            literals.add(best)
        return Requirement(frozenset(literals))
    if isinstance(pred, ir.And):
        options = [r for r in (requirement(op, frequency, textual) for op in pred.operands) if r is not None]
        return min(options, key=lambda r: r.cost(estimate)) if options else None
    if isinstance(pred, ir.Or):
        union: set[str] = set()
        for operand in pred.operands:
            found = requirement(operand, frequency, textual)
            if found is None:
                return None
            union |= found.literals
        return Requirement(frozenset(union))
    return None


def union(requirements: Iterable[Requirement | None]) -> Requirement | None:
    """What a line needs for *any* of several stages to match: the union, or None if one is free."""
    literals: set[str] = set()
    for found in requirements:
        if found is None:
            return None
        literals |= found.literals
    return Requirement(frozenset(literals))


def candidate_literals(pred: ir.Pred) -> set[str]:
    """Every literal :func:`requirement` might choose for ``pred`` (to measure their frequency first)."""
    found: set[str] = set()
    stack = [pred]
    while stack:
        node = stack.pop()
        if isinstance(node, (ir.And, ir.Or)):
            stack.extend(node.operands)
        elif isinstance(node, (ir.Term, ir.Prefix)):
            values = node.values if isinstance(node, ir.Term) else (node.prefix,)
            for value in values:
                if isinstance(value, ast.Literal) and isinstance(value.value, str):
                    found.update(run for run in literal_runs(value.value) if len(run.strip()) >= MIN_LITERAL)
        elif isinstance(node, ir.Wildcard):
            for pattern in node.patterns:
                for part in pattern.parts:
                    if part not in (ir.WildcardPattern.ANY, ir.WildcardPattern.ONE):
                        found.update(run for run in literal_runs(part) if len(run.strip()) >= MIN_LITERAL)
    return found


def frequency_table(counts: Mapping[str, int], lines: int) -> Frequency:
    """A frequency function from literal hit counts over a sample of ``lines`` lines."""
    if lines <= 0:
        return lambda literal: 1.0 / len(literal)
    return lambda literal: (counts.get(literal, 0) + 0.5) / lines
