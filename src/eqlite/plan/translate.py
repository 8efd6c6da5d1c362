"""Translate a condition into the filter plan, applying Elasticsearch's optimizer rules on the way.

The rewrites that change results are the ones Elasticsearch's EQL optimizer applies
before it translates a condition to a query:

* ``x == null`` / ``x != null`` become *is null* / *is not null* (either operand order);
* a literal on the left of a comparison moves to the right (``1 < x`` is ``x > 1``);
* ``not`` is pushed into what can be negated: ``not (x > 1)`` is ``x <= 1`` (so a missing
  ``x`` does not match), ``not (x == 1)`` is ``x != 1`` (a missing ``x`` matches);
  ``not`` over anything else is a ``must_not`` of the query, or a script ``not``;
* ``f(...) == true`` is ``f(...)``, ``f(...) == false`` is ``not f(...)``;
* comparisons of one field in a conjunction combine into one range, which a single
  value must satisfy.

The rest is translation: predicates on a bare field with constants become queries,
``cidrMatch``/``startsWith``/``endsWith``/``stringContains`` on a bare field with a
constant become terms, prefix and wildcard queries (the last two with Lucene's wildcard
syntax applied to the constant, as Elasticsearch does), and everything else becomes a
script.
"""

from __future__ import annotations

from eqlite.plan import ir
from eqlite.syntax import ast

_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_BOOLEAN_FUNCTIONS = frozenset({"cidrmatch", "endswith", "startswith", "stringcontains"})


def is_constant(node: ast.Expr) -> bool:
    """True when ``node`` reads no field (Elasticsearch would fold it)."""
    return not any(isinstance(child, ast.Field) for child in node.walk())


def is_null(node: ast.Expr) -> bool:
    return isinstance(node, ast.Literal) and node.kind == "null"


def eql_wildcard(pattern: str) -> ir.WildcardPattern:
    """An EQL ``:``/``like`` pattern: ``*`` and ``?`` are wildcards, everything else (even ``\\``) is literal.

    >>> eql_wildcard("C:\\\\*.exe").parts == ("C:\\\\", ir.WildcardPattern.ANY, ".exe")
    True
    """
    return _split_wildcards(pattern, escapes=False)


def lucene_wildcard(pattern: str) -> ir.WildcardPattern:
    """A raw Lucene wildcard: ``*``, ``?`` and ``\\`` (which makes the next character literal).

    >>> lucene_wildcard("*\\\\cmd.exe").parts == (ir.WildcardPattern.ANY, "cmd.exe")
    True
    """
    return _split_wildcards(pattern, escapes=True)


def _split_wildcards(pattern: str, *, escapes: bool) -> ir.WildcardPattern:
    parts: list[str] = []
    literal: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escapes and char == "\\" and index + 1 < len(pattern):
            literal.append(pattern[index + 1])
            index += 2
            continue
        if char in "*?":
            if literal:
                parts.append("".join(literal))
                literal = []
            marker = ir.WildcardPattern.ANY if char == "*" else ir.WildcardPattern.ONE
            if not (marker == ir.WildcardPattern.ANY and parts and parts[-1] == marker):
                parts.append(marker)
        else:
            literal.append(char)
        index += 1
    if literal:
        parts.append("".join(literal))
    return ir.WildcardPattern(tuple(parts))


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _and(operands: list[ir.Pred]) -> ir.Pred:
    kept: list[ir.Pred] = []
    for operand in operands:
        if isinstance(operand, ir.MatchNone):
            return operand
        if isinstance(operand, ir.And):
            kept.extend(operand.operands)
        elif not isinstance(operand, ir.MatchAll):
            kept.append(operand)
    kept = _combine_ranges(kept)
    if not kept:
        return ir.MatchAll()
    return kept[0] if len(kept) == 1 else ir.And(tuple(kept))


def _or(operands: list[ir.Pred]) -> ir.Pred:
    kept: list[ir.Pred] = []
    for operand in operands:
        if isinstance(operand, ir.MatchAll):
            return operand
        if isinstance(operand, ir.Or):
            kept.extend(operand.operands)
        elif not isinstance(operand, ir.MatchNone):
            kept.append(operand)
    if not kept:
        return ir.MatchNone()
    return kept[0] if len(kept) == 1 else ir.Or(tuple(kept))


def _combine_ranges(operands: list[ir.Pred]) -> list[ir.Pred]:
    """Merge the range bounds on one field into one range, as Elasticsearch's optimizer does."""
    first_at: dict[str, int] = {}
    merged: list[ir.Pred] = []
    for operand in operands:
        if isinstance(operand, ir.Range):
            position = first_at.get(operand.field)
            if position is not None:
                previous = merged[position]
                assert isinstance(previous, ir.Range)
                merged[position] = ir.Range(operand.field, previous.bounds + operand.bounds)
                continue
            first_at[operand.field] = len(merged)
        merged.append(operand)
    return merged


def _negate(pred: ir.Pred, expr: ast.Expr) -> ir.Pred:
    if isinstance(pred, ir.MatchAll):
        return ir.MatchNone()
    if isinstance(pred, ir.MatchNone):
        return ir.MatchAll()
    if isinstance(pred, ir.Script):
        return ir.Script(ast.Not(expr, span=expr.span))
    if isinstance(pred, ir.Not):
        return pred.operand
    return ir.Not(pred)


def translate(expr: ast.Expr) -> ir.Pred:
    """Translate a (type-checked) boolean condition into a plan predicate.

    >>> from eqlite.syntax.parser import parse
    >>> translate(parse('any where not x > 1').body.condition)
    Range(field='x', bounds=(('<=', Literal(value=1, kind='long')),))
    """
    if isinstance(expr, ast.Literal):
        return ir.MatchAll() if expr.value is True else ir.MatchNone()
    if isinstance(expr, ast.And):
        return _and([translate(term) for term in expr.terms])
    if isinstance(expr, ast.Or):
        return _or([translate(term) for term in expr.terms])
    if isinstance(expr, ast.Not):
        return _translate_not(expr)
    if isinstance(expr, ast.Comparison):
        return _comparison(expr)
    if isinstance(expr, ast.InList):
        return _in_list(expr)
    if isinstance(expr, ast.Match):
        return _match(expr)
    if isinstance(expr, ast.FunctionCall):
        return _function(expr)
    if isinstance(expr, ast.Field):
        return ir.Term(expr.name, (ast.Literal(True, "boolean"),))
    return ir.Script(expr)


def _translate_not(node: ast.Not) -> ir.Pred:
    operand = node.operand
    if isinstance(operand, ast.Literal):
        if operand.kind == "boolean":
            return ir.MatchNone() if operand.value else ir.MatchAll()
        return ir.MatchNone()  # not null is null
    if isinstance(operand, ast.Not):
        return translate(operand.operand)
    if isinstance(operand, ast.Comparison):
        return translate(ast.Comparison(_NEGATED[operand.op], operand.left, operand.right,  # type: ignore[arg-type]
                                        span=operand.span))
    return _negate(translate(operand), operand)


def _comparison(node: ast.Comparison) -> ir.Pred:
    left, right, op = node.left, node.right, node.op
    if is_null(right) or is_null(left):
        other = left if is_null(right) else right
        if op in ("==", "!="):
            return _null_check(other, op == "==", node)
    if is_constant(left) and not is_constant(right):
        left, right, op = right, left, _MIRRORED[op]  # type: ignore[assignment]
    if isinstance(right, ast.Literal) and right.kind == "boolean" and op in ("==", "!=") and _is_predicate(left):
        positive = (op == "==") == right.value
        return translate(left) if positive else translate(ast.Not(left, span=node.span))
    if isinstance(left, ast.Field) and is_constant(right):
        if op == "==":
            return ir.Term(left.name, (right,))
        if op == "!=":
            return ir.Not(ir.Term(left.name, (right,)))
        return ir.Range(left.name, ((op, right),))
    if (left, right, op) != (node.left, node.right, node.op):
        node = ast.Comparison(op, left, right, span=node.span)
    return ir.Script(node)


def _null_check(operand: ast.Expr, want_null: bool, node: ast.Comparison) -> ir.Pred:
    if isinstance(operand, ast.Field):
        exists: ir.Pred = ir.Exists(operand.name)
        return ir.Not(exists) if want_null else exists
    if is_null(operand):
        return ir.MatchAll() if want_null else ir.MatchNone()
    return ir.Script(node)


def _is_predicate(node: ast.Expr) -> bool:
    if isinstance(node, (ast.Comparison, ast.InList, ast.Match, ast.And, ast.Or, ast.Not)):
        return True
    return isinstance(node, ast.FunctionCall) and node.name.lower() in _BOOLEAN_FUNCTIONS


def _in_list(node: ast.InList) -> ir.Pred:
    if isinstance(node.operand, ast.Field) and all(is_constant(value) for value in node.values):
        term: ir.Pred = ir.Term(node.operand.name, node.values, node.insensitive)
        return ir.Not(term) if node.negated else term
    return ir.Script(node)


def _match(node: ast.Match) -> ir.Pred:
    if not isinstance(node.operand, ast.Field):
        return ir.Script(node)
    name = node.operand.name
    insensitive = node.case_insensitive
    patterns = [str(pattern.value) for pattern in node.patterns]
    if node.op == "regex":
        return ir.Regexp(name, tuple(patterns), insensitive)
    literal = tuple(ast.Literal(p, "string") for p in patterns if not has_wildcard(p))
    wild = tuple(eql_wildcard(p) for p in patterns if has_wildcard(p))
    parts: list[ir.Pred] = []
    if literal:
        parts.append(ir.Term(name, literal, insensitive))
    if wild:
        parts.append(ir.Wildcard(name, wild, insensitive))
    return _or(parts)


def _function(node: ast.FunctionCall) -> ir.Pred:
    name = node.name.lower()
    args = node.args
    if name in _BOOLEAN_FUNCTIONS and args and isinstance(args[0], ast.Field) and all(
            is_constant(arg) for arg in args[1:]):
        field_name = args[0].name
        if name == "cidrmatch":
            return ir.Cidr(field_name, args[1:])
        constant = args[1]
        if isinstance(constant, ast.Literal) and isinstance(constant.value, str):
            if name == "startswith":
                return ir.Prefix(field_name, constant, node.insensitive)
            text = constant.value
            pattern = "*" + text if name == "endswith" else "*" + text + "*"
            return ir.Wildcard(field_name, (lucene_wildcard(pattern),), node.insensitive)
    return ir.Script(node)
