"""Semantic analysis: check a parsed query as Elasticsearch's verifier would, and describe it.

The analyzer resolves every field against a schema (field → Elasticsearch type), infers
the type of every expression, and rejects what Elasticsearch rejects before running a
query: unknown functions, wrong arity or argument types, non-boolean conditions, field to
field comparisons, ``:``/``like``/``regex`` on non-strings, arithmetic on strings.

When a schema does not know a field, the field's type is unknown (``any``) and the checks
that need it are skipped: an open schema (ECS plus whatever the data holds) must not reject
a valid rule because a field is missing from the table. A *closed* schema, built from an
index mapping, behaves like Elasticsearch: unknown fields are errors and unknown optional
fields become ``null``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from eqlite.errors import AnalysisError, Span
from eqlite.semantic.functions import ENDGAME_ONLY, FUNCTIONS, ValueType, accepts_value, lookup
from eqlite.syntax import ast

_NUMERIC_TYPES = frozenset({
    "long", "integer", "short", "byte", "unsigned_long", "double", "float", "half_float", "scaled_float",
})
_INTEGRAL_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
_STRING_TYPES = frozenset({"keyword", "constant_keyword", "wildcard", "text", "match_only_text", "version"})
_LITERAL_TYPES: dict[str, ValueType] = {
    "null": "null", "boolean": "boolean", "long": "long", "double": "double", "string": "string",
}


class FieldTypes(Protocol):
    """What the analyzer needs from a schema."""

    def field_type(self, name: str) -> str | None:
        """The Elasticsearch type of ``name`` (aliases resolved), or None when unknown."""
        ...


class OpenSchema:
    """A schema that knows no field: every field is allowed and its type is unknown."""

    closed = False

    def field_type(self, name: str) -> str | None:
        return None


def value_type(es_type: str | None) -> ValueType:
    """Map an Elasticsearch field type to the value family that comparisons use.

    >>> value_type("wildcard"), value_type("integer"), value_type("float"), value_type(None)
    ('string', 'long', 'double', 'any')
    """
    if es_type is None:
        return "any"
    if es_type in _STRING_TYPES:
        return "string"
    if es_type in _INTEGRAL_TYPES:
        return "long"
    if es_type in _NUMERIC_TYPES:
        return "double"
    if es_type in ("date", "date_nanos"):
        return "date"
    if es_type == "ip":
        return "ip"
    if es_type == "boolean":
        return "boolean"
    return "any"


@dataclass(frozen=True, slots=True)
class Analysis:
    """The result of analysing a query.

    Attributes:
        query: the query, with optional fields that the (closed) schema does not know
            replaced by ``null`` literals.
        fields: every field the query reads, in conditions and in join keys.
        warnings: messages that do not stop the query (e.g. fields the schema does not know).
    """

    query: ast.Query
    fields: frozenset[str]
    warnings: tuple[str, ...] = ()


@dataclass(slots=True)
class _Context:
    schema: FieldTypes
    closed: bool
    fields: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def _error(message: str, span: Span) -> AnalysisError:
    return AnalysisError(message, span)


def _describe(node: ast.Expr) -> str:
    from eqlite.syntax.printer import to_eql_expr

    return to_eql_expr(node)


def _keyword_field(node: ast.Expr, kind: ValueType) -> bool:
    """A keyword field indexes numbers and booleans as their text, and a term query converts
    its value the same way, so comparing one with any literal is valid."""
    return kind == "string" and isinstance(node, ast.Field)


def _has_field(node: ast.Node) -> bool:
    return any(isinstance(child, ast.Field) for child in node.walk())


class _Analyzer:
    def __init__(self, context: _Context) -> None:
        self.context = context

    # ------------------------------------------------------------ fields

    def field_type(self, node: ast.Field) -> ValueType:
        name = node.name
        self.context.fields.add(name)
        es_type = self.context.schema.field_type(name)
        if es_type is None and self.context.closed:
            if node.optional:
                return "null"
            raise _error(f"unknown field '{name}'; mark it optional with '?{name}' if it may be absent",
                         node.span)
        return value_type(es_type)

    # ------------------------------------------------------------ expressions

    def expression(self, node: ast.Expr) -> ValueType:
        if isinstance(node, ast.Literal):
            return _LITERAL_TYPES[node.kind]
        if isinstance(node, ast.Field):
            return self.field_type(node)
        if isinstance(node, (ast.And, ast.Or)):
            for term in node.terms:
                self.condition(term)
            return "boolean"
        if isinstance(node, ast.Not):
            self.condition(node.operand)
            return "boolean"
        if isinstance(node, ast.Comparison):
            return self.comparison(node)
        if isinstance(node, ast.InList):
            return self.in_list(node)
        if isinstance(node, ast.Match):
            return self.match(node)
        if isinstance(node, ast.Arithmetic):
            left = self.numeric_operand(node.left, node.op)
            right = self.numeric_operand(node.right, node.op)
            return "double" if "double" in (left, right) else ("long" if left == right == "long" else "any")
        if isinstance(node, ast.Negate):
            return self.numeric_operand(node.operand, "-")
        if isinstance(node, ast.FunctionCall):
            return self.function(node)
        raise TypeError(f"unexpected node {type(node).__name__}")

    def condition(self, node: ast.Expr) -> None:
        kind = self.expression(node)
        if kind not in ("boolean", "null", "any"):
            raise _error(f"a condition must be boolean, but '{_describe(node)}' is {kind}", node.span)

    def numeric_operand(self, node: ast.Expr, op: str) -> ValueType:
        kind = self.expression(node)
        if kind not in ("long", "double", "null", "any"):
            raise _error(f"'{op}' needs numbers, but '{_describe(node)}' is {kind}", node.span)
        return kind

    def comparison(self, node: ast.Comparison) -> ValueType:
        left = self.expression(node.left)
        right = self.expression(node.right)
        self.reject_field_comparison(node.left, node.right, node.span)
        if not (_keyword_field(node.left, left) or _keyword_field(node.right, right)):
            self.check_comparable(left, right, node.right.span, node.op)
        if node.op not in ("==", "!=") and "boolean" in (left, right):
            raise _error(f"'{node.op}' cannot order booleans", node.span)
        return "boolean"

    def reject_field_comparison(self, left: ast.Expr, right: ast.Expr, span: Span) -> None:
        if self.references_field(left) and self.references_field(right):
            raise _error("comparisons against fields are not supported; compare each field with a constant",
                         span)

    def references_field(self, node: ast.Expr) -> bool:
        if not self.context.closed:
            return _has_field(node)
        # An optional field missing from a closed schema is the constant null.
        return any(
            isinstance(child, ast.Field) and not (child.optional and self.context.schema.field_type(child.name)
                                                  is None)
            for child in node.walk()
        )

    @staticmethod
    def check_comparable(left: ValueType, right: ValueType, span: Span, op: str) -> None:
        if "any" in (left, right) or "null" in (left, right) or left == right:
            return
        numeric = ("long", "double")
        if left in numeric and right in numeric:
            return
        textual = ("string", "date", "ip")
        if (left in textual and right == "string") or (right in textual and left == "string"):
            return
        if "date" in (left, right) and ("long" in (left, right)):
            return
        raise _error(f"cannot compare {left} with {right} using '{op}'", span)

    def in_list(self, node: ast.InList) -> ValueType:
        operand = self.expression(node.operand)
        keyword = ("not in" if node.negated else "in") + ("~" if node.insensitive else "")
        for value in node.values:
            kind = self.expression(value)
            if self.references_field(value):
                raise _error(f"'{keyword}' takes constants, not fields: '{_describe(value)}'", value.span)
            if not _keyword_field(node.operand, operand):
                self.check_comparable(operand, kind, value.span, keyword)
        if node.insensitive and operand not in ("string", "any", "null"):
            raise _error(f"'{keyword}' compares strings, but '{_describe(node.operand)}' is {operand}",
                         node.operand.span)
        return "boolean"

    def match(self, node: ast.Match) -> ValueType:
        op = node.op + ("~" if node.insensitive else "")
        operand = self.expression(node.operand)
        if operand not in ("string", "any", "null"):
            raise _error(f"'{op}' matches strings, but '{_describe(node.operand)}' is {operand}",
                         node.operand.span)
        for pattern in node.patterns:
            if pattern.kind != "string":
                raise _error(f"'{op}' needs string patterns, found {_describe(pattern)}", pattern.span)
        return "boolean"

    def function(self, node: ast.FunctionCall) -> ValueType:
        signature = lookup(node.name)
        if signature is None:
            hint = ENDGAME_ONLY.get(node.name.lower(), f"known functions: {', '.join(sorted(FUNCTIONS))}")
            raise _error(f"unknown function '{node.name}'; {hint}", node.span)
        if node.insensitive and not signature.insensitive:
            raise _error(f"'{node.name}' has no case-insensitive form '{node.name}~'", node.span)
        if not signature.accepts(len(node.args)):
            raise _error(f"'{node.name}' takes {signature.arity()} arguments, found {len(node.args)}", node.span)
        kinds: list[ValueType] = []
        for position, arg in enumerate(node.args):
            kind = self.expression(arg)
            param = signature.param(position)
            if not accepts_value(param, kind):
                raise _error(f"argument {position + 1} of '{node.name}' must be {param}, "
                             f"but '{_describe(arg)}' is {kind}", arg.span)
            if param == "ip" and isinstance(arg, ast.Field) and kind == "string":
                raise _error(f"argument {position + 1} of '{node.name}' must be an ip field, "
                             f"but '{arg.name}' is a string field", arg.span)
            if position in signature.constant and self.references_field(arg):
                raise _error(f"argument {position + 1} of '{node.name}' must be a constant", arg.span)
            kinds.append(kind)
        if signature.returns == "numeric":
            return "double" if "double" in kinds else ("long" if kinds and all(k == "long" for k in kinds)
                                                       else "any")
        return signature.returns

    # ------------------------------------------------------------ queries

    def event_query(self, node: ast.EventQuery) -> None:
        self.condition(node.condition)

    def keys(self, keys: tuple[ast.Expr, ...]) -> None:
        for key in keys:
            kind = self.expression(key)
            if not _has_field(key):
                raise _error(f"join key '{_describe(key)}' must reference a field", key.span)
            del kind

    def query(self, node: ast.Query) -> None:
        body = node.body
        if isinstance(body, ast.EventQuery):
            self.event_query(body)
        elif isinstance(body, ast.Sequence):
            self.keys(body.keys)
            stages = (*body.stages, *((body.until,) if body.until else ()))
            for stage in stages:
                self.event_query(stage.query)
                self.keys(stage.keys)
                self.check_key_count(body.keys, stage.keys, stages[0].keys, stage.span)
        else:
            self.keys(body.keys)
            for sample_stage in body.stages:
                self.event_query(sample_stage.query)
                self.keys(sample_stage.keys)
                self.check_key_count(body.keys, sample_stage.keys, body.stages[0].keys, sample_stage.span)

    @staticmethod
    def check_key_count(shared: tuple[ast.Expr, ...], own: tuple[ast.Expr, ...], first: tuple[ast.Expr, ...],
                        span: Span) -> None:
        if len(own) != len(first):
            raise _error(f"every query must have the same number of 'by' keys: the first has "
                         f"{len(shared) + len(first)}, this one {len(shared) + len(own)}", span)


def _fold_missing_optionals(node: ast.Query, schema: FieldTypes) -> ast.Query:
    """Replace optional fields a closed schema does not know with ``null`` (Elasticsearch does this)."""
    from eqlite.syntax.rewrite import replace_fields

    def replacement(field_node: ast.Field) -> ast.Expr | None:
        if field_node.optional and schema.field_type(field_node.name) is None:
            return ast.Literal(None, "null", span=field_node.span)
        return None

    return replace_fields(node, replacement)


def analyze(query: ast.Query, schema: FieldTypes | None = None, *, closed: bool | None = None) -> Analysis:
    """Check ``query`` against ``schema`` and collect the fields it reads.

    Args:
        query: a parsed query.
        schema: field types; None means nothing is known about the fields.
        closed: whether the schema lists every field (as an index mapping does). Defaults to the
            schema's own ``closed`` attribute, or False.

    Raises:
        AnalysisError: the query is one Elasticsearch would reject.

    >>> from eqlite.syntax.parser import parse
    >>> sorted(analyze(parse('process where process.name : "cmd.exe" and ?user.id != null')).fields)
    ['process.name', 'user.id']
    """
    schema = schema if schema is not None else OpenSchema()
    is_closed = bool(getattr(schema, "closed", False)) if closed is None else closed
    context = _Context(schema, is_closed)
    _Analyzer(context).query(query)
    if is_closed:
        query = _fold_missing_optionals(query, schema)
    return Analysis(query, frozenset(context.fields), tuple(context.warnings))


def iter_fields(node: ast.Node) -> Iterator[ast.Field]:
    """Every field reference under ``node``, in source order."""
    for child in node.walk():
        if isinstance(child, ast.Field):
            yield child
