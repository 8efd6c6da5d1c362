"""Compile plan predicates and expressions into Python closures.

Query nodes read a field's indexed values and hold when any value satisfies them; script
nodes evaluate an expression with three-valued logic once per combination of the values
of the fields they read (as Elasticsearch's multi-value-aware scripts do) and hold when
one combination gives true. Constants are converted once to the field's type, so a
``long`` field compares numbers, an ``ip`` field compares addresses and a ``keyword``
field compares text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from eqlite.errors import AnalysisError
from eqlite.plan import ir
from eqlite.runtime import functions, java
from eqlite.runtime.access import Document, FieldReaders
from eqlite.runtime.patterns import fold, regex_matcher, wildcard_matcher, wildcards_matcher
from eqlite.semantic.schema import FieldInfo, coerce_for_field
from eqlite.semantic.types import Family, format_ip, version_key
from eqlite.syntax import ast

Predicate = Callable[[Any], bool]  # over a `_source` dict, or an EventView with caching readers
Evaluator = Callable[[list[Any]], Any]

_NUMERIC = (int, float)


def _any_string(read: Callable[[Any], tuple[Any, ...]], test: Callable[[str], bool]) -> Predicate:
    """Whether ``test`` holds for any string value of the field ``read`` reads (a loop, not a generator:
    this runs for most events)."""
    def check(document: Any) -> bool:
        for value in read(document):  # noqa: SIM110 - any(<generator>) costs a generator per call
            if isinstance(value, str) and test(value):
                return True
        return False

    return check


class ScriptErrors:
    """Counts events whose script raised (overflow, division by zero, bad number); they do not match."""

    __slots__ = ("count", "last")

    def __init__(self) -> None:
        self.count = 0
        self.last = ""


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMERIC) and not isinstance(value, bool)


def _same_kind(a: object, b: object) -> bool:
    if _is_number(a):
        return _is_number(b)
    return type(a) is type(b)


class Compiler:
    """Compiles predicates of one query against one schema; shares field readers between them."""

    def __init__(self, readers: FieldReaders, errors: ScriptErrors | None = None) -> None:
        self.readers = readers
        self.errors = errors if errors is not None else ScriptErrors()

    # ------------------------------------------------------------ constants

    def constant(self, expr: ast.Expr) -> Any:
        """Fold a constant expression (no fields) to its value."""
        if isinstance(expr, ast.Literal):  # most constants: what expression() would give, without a closure
            return expr.value
        evaluator = self.expression(expr, [])
        return evaluator([])

    def _family(self, info: FieldInfo | None) -> Family | None:
        return None if info is None else info.family

    def _field_constant(self, info: FieldInfo | None, value: Any) -> Any:
        """A constant as the field would compare it; None when it can never match."""
        if value is None:
            return None
        family = self._family(info)
        if info is None or family is None:
            return value
        if family is Family.NUMERIC:
            if _is_number(value):
                return value
            try:
                return float(value) if "." in str(value) or "e" in str(value).lower() else int(value)
            except ValueError:
                return None
        if family in (Family.KEYWORD, Family.TEXT):
            return value if isinstance(value, str) else java.to_string(value)
        if family is Family.VERSION:
            return version_key(str(value))
        return coerce_for_field(info, value)

    def _comparable_reader(self, name: str) -> Callable[[Document], tuple[Any, ...]]:
        """The field's values in the form its constants are compared with (versions compare by precedence)."""
        read = self.readers(name)
        info = self.readers.info(name)
        if info is not None and info.family is Family.VERSION:
            return lambda document: tuple(version_key(str(v)) for v in read(document))
        return read

    # ------------------------------------------------------------ query predicates

    def predicate(self, pred: ir.Pred) -> Predicate:
        """Compile a plan predicate into a test of documents."""
        method = getattr(self, "_" + type(pred).__name__.lower())
        result: Predicate = method(pred)
        return result

    def _matchall(self, pred: ir.MatchAll) -> Predicate:
        return lambda document: True

    def _matchnone(self, pred: ir.MatchNone) -> Predicate:
        return lambda document: False

    def _and(self, pred: ir.And) -> Predicate:
        tests = tuple(self.predicate(operand) for operand in pred.operands)
        return lambda document: all(test(document) for test in tests)

    def _or(self, pred: ir.Or) -> Predicate:
        tests = tuple(self.predicate(operand) for operand in pred.operands)
        return lambda document: any(test(document) for test in tests)

    def _not(self, pred: ir.Not) -> Predicate:
        test = self.predicate(pred.operand)
        return lambda document: not test(document)

    def _exists(self, pred: ir.Exists) -> Predicate:
        read = self.readers(pred.field)
        return lambda document: bool(read(document))

    def _term(self, pred: ir.Term) -> Predicate:
        read = self._comparable_reader(pred.field)
        info = self.readers.info(pred.field)
        wanted = [self._field_constant(info, self.constant(value)) for value in pred.values]
        wanted = [value for value in wanted if value is not None]
        if pred.insensitive:
            folded = frozenset(fold(value) for value in wanted if isinstance(value, str))
            read_folded = self.readers.folded(pred.field)
            return lambda document: not folded.isdisjoint(read_folded(document))
        if info is None:
            # No mapping: compare JSON values of the same kind only ("1" is not 1).
            return lambda document: any(
                v == w and _same_kind(v, w) for v in read(document) for w in wanted)
        try:
            hashed = frozenset(wanted)
        except TypeError:
            return lambda document: any(v == w for v in read(document) for w in wanted)
        if len(hashed) == 1:
            only = next(iter(hashed))
            return lambda document: only in read(document)
        return lambda document: any(v in hashed for v in read(document))

    def _range(self, pred: ir.Range) -> Predicate:
        read = self._comparable_reader(pred.field)
        info = self.readers.info(pred.field)
        bounds = []
        for op, expr in pred.bounds:
            value = self._field_constant(info, self.constant(expr))
            if value is None:
                return lambda document: False
            bounds.append((op, value))
        checks = tuple(_comparator(op, value) for op, value in bounds)

        def test(document: Document) -> bool:
            for value in read(document):
                if all(_same_kind(value, bound) and check(value) for check, (_, bound) in zip(checks, bounds,
                                                                                             strict=True)):
                    return True
            return False

        return test

    def _wildcard(self, pred: ir.Wildcard) -> Predicate:
        # Case-insensitive: each value is folded once (by its reader), not once per pattern.
        read = self.readers.folded(pred.field) if pred.insensitive else self.readers(pred.field)
        test = wildcards_matcher(pred.patterns, pred.insensitive, folded_input=True)
        if pred.insensitive:  # folded values are strings
            return lambda document: any(map(test, read(document)))
        return _any_string(read, test)

    def _prefix(self, pred: ir.Prefix) -> Predicate:
        read = self.readers(pred.field)
        prefix = self.constant(pred.prefix)
        if not isinstance(prefix, str):
            return lambda document: False
        if pred.insensitive:
            folded, read_folded = fold(prefix), self.readers.folded(pred.field)
            return lambda document: any(map(lambda value: value.startswith(folded), read_folded(document)))
        return _any_string(read, lambda value: value.startswith(prefix))

    def _regexp(self, pred: ir.Regexp) -> Predicate:
        read = self.readers(pred.field)
        tests = tuple(regex_matcher(pattern, pred.insensitive) for pattern in pred.patterns)
        if len(tests) == 1:
            return _any_string(read, tests[0])
        return _any_string(read, lambda value: any(test(value) for test in tests))

    def _cidr(self, pred: ir.Cidr) -> Predicate:
        read = self.readers(pred.field)
        blocks = tuple(str(self.constant(block)) for block in pred.blocks)
        for block in blocks:
            try:
                functions.cidr_contains("0.0.0.0", (block,))
            except ValueError:
                raise AnalysisError(f"cidrMatch: {block!r} is not a CIDR block") from None
        inside = functions.cidr_tester(blocks)
        return lambda document: any(map(inside, read(document)))

    def _script(self, pred: ir.Script) -> Predicate:
        occurrences: list[ast.Field] = []
        evaluate = self.expression(pred.expr, occurrences)
        readers = [self._script_reader(field) for field in occurrences]
        errors = self.errors

        def run(env: list[Any]) -> bool:
            try:
                return evaluate(env) is True
            except (ArithmeticError, ValueError, TypeError, OverflowError) as error:
                errors.count += 1
                errors.last = str(error)
                return False

        if not readers:
            constant = run([])
            return lambda document: constant

        def test(document: Document) -> bool:
            columns = [reader(document) or (None,) for reader in readers]
            if all(len(column) == 1 for column in columns):
                return run([column[0] for column in columns])
            return any(run(list(combination)) for combination in itertools.product(*columns))

        return test

    def _script_reader(self, node: ast.Field) -> Callable[[Document], tuple[Any, ...]]:
        read = self.readers(node.name)
        info = self.readers.info(node.name)
        if info is not None and info.family is Family.IP:
            # Painless sees ip doc values as text.
            return lambda document: tuple(format_ip(v) for v in read(document))
        if info is not None and info.family is Family.DATE:
            return lambda document: tuple(v // 1_000_000 for v in read(document))
        return read

    # ------------------------------------------------------------ script expressions

    def expression(self, expr: ast.Expr, occurrences: list[ast.Field]) -> Evaluator:
        """Compile an expression evaluated over ``env``, the values of its field occurrences in order."""
        if isinstance(expr, ast.Literal):
            value = expr.value
            return lambda env: value
        if isinstance(expr, ast.Field):
            index = len(occurrences)
            occurrences.append(expr)
            return lambda env: env[index]
        if isinstance(expr, ast.And):
            return self._script_and([self.expression(t, occurrences) for t in expr.terms])
        if isinstance(expr, ast.Or):
            return self._script_or([self.expression(t, occurrences) for t in expr.terms])
        if isinstance(expr, ast.Not):
            inner = self.expression(expr.operand, occurrences)
            return lambda env: None if (v := inner(env)) is None else not v
        if isinstance(expr, ast.Comparison):
            return self._script_comparison(expr, occurrences)
        if isinstance(expr, ast.InList):
            return self._script_in(expr, occurrences)
        if isinstance(expr, ast.Match):
            return self._script_match(expr, occurrences)
        if isinstance(expr, ast.Arithmetic):
            return self._script_arithmetic(expr, occurrences)
        if isinstance(expr, ast.Negate):
            inner = self.expression(expr.operand, occurrences)
            return lambda env: None if (v := inner(env)) is None else java.negate(v)
        if isinstance(expr, ast.FunctionCall):
            args = [self.expression(arg, occurrences) for arg in expr.args]
            name, insensitive = expr.name, expr.insensitive
            return lambda env: functions.call(name, [arg(env) for arg in args], insensitive)
        raise TypeError(f"cannot compile {type(expr).__name__}")

    @staticmethod
    def _script_and(terms: list[Evaluator]) -> Evaluator:
        def evaluate(env: list[Any]) -> Any:
            unknown = False
            for term in terms:
                value = term(env)
                if value is False:
                    return False
                if value is None:
                    unknown = True
            return None if unknown else True

        return evaluate

    @staticmethod
    def _script_or(terms: list[Evaluator]) -> Evaluator:
        def evaluate(env: list[Any]) -> Any:
            unknown = False
            for term in terms:
                value = term(env)
                if value is True:
                    return True
                if value is None:
                    unknown = True
            return None if unknown else False

        return evaluate

    def _script_comparison(self, expr: ast.Comparison, occurrences: list[ast.Field]) -> Evaluator:
        left = self.expression(expr.left, occurrences)
        right = self.expression(expr.right, occurrences)
        null_literal = [isinstance(side, ast.Literal) and side.kind == "null" for side in (expr.left, expr.right)]
        if any(null_literal) and expr.op in ("==", "!="):
            other = right if null_literal[0] else left
            want_null = expr.op == "=="
            return lambda env: (other(env) is None) == want_null
        check = _script_comparator(expr.op)

        def evaluate(env: list[Any]) -> Any:
            a, b = left(env), right(env)
            if a is None or b is None:
                return None
            return check(a, b)

        return evaluate

    def _script_in(self, expr: ast.InList, occurrences: list[ast.Field]) -> Evaluator:
        operand = self.expression(expr.operand, occurrences)
        values = [self.expression(value, occurrences) for value in expr.values]
        insensitive, negated = expr.insensitive, expr.negated

        def evaluate(env: list[Any]) -> Any:
            value = operand(env)
            if value is None:
                return None
            candidates = [candidate(env) for candidate in values]
            if insensitive and isinstance(value, str):
                found = any(isinstance(c, str) and java.lower(c) == java.lower(value) for c in candidates)
            else:
                found = any(c is not None and _java_equals(value, c) for c in candidates)
            if not found and any(c is None for c in candidates):
                return None
            return found != negated

        return evaluate

    def _script_match(self, expr: ast.Match, occurrences: list[ast.Field]) -> Evaluator:
        from eqlite.plan.translate import eql_wildcard

        operand = self.expression(expr.operand, occurrences)
        insensitive = expr.case_insensitive
        if expr.op == "regex":
            tests = [regex_matcher(str(p.value), insensitive, lucene=False) for p in expr.patterns]
        else:
            tests = [wildcard_matcher(eql_wildcard(str(p.value)), insensitive) for p in expr.patterns]

        def evaluate(env: list[Any]) -> Any:
            value = operand(env)
            if value is None:
                return None
            return any(test(str(value)) for test in tests)

        return evaluate

    def _script_arithmetic(self, expr: ast.Arithmetic, occurrences: list[ast.Field]) -> Evaluator:
        left = self.expression(expr.left, occurrences)
        right = self.expression(expr.right, occurrences)
        operation = {"+": java.add, "-": java.subtract, "*": java.multiply, "/": java.divide,
                     "%": java.modulo}[expr.op]

        def evaluate(env: list[Any]) -> Any:
            a, b = left(env), right(env)
            if a is None or b is None:
                return None
            return operation(a, b)

        return evaluate


def _java_equals(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _comparator(op: str, bound: Any) -> Callable[[Any], bool]:
    if op == "<":
        return lambda value: bool(value < bound)
    if op == "<=":
        return lambda value: bool(value <= bound)
    if op == ">":
        return lambda value: bool(value > bound)
    return lambda value: bool(value >= bound)


def _script_comparator(op: str) -> Callable[[Any, Any], Any]:
    def compare(a: Any, b: Any) -> Any:
        if op in ("==", "!="):
            equal = _java_equals(a, b)
            return equal if op == "==" else not equal
        if not _same_kind(a, b):
            raise TypeError(f"cannot compare {a!r} with {b!r}")
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    return compare
