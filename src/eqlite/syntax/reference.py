"""The reference parser: Lark's LALR(1) parser driven directly by the grammar file ``eql.lark``.

It is the executable form of the grammar. :func:`eqlite.syntax.parser.parse` is the fast
hand-written implementation used everywhere else; the tests check that both agree.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, NoReturn

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from eqlite.errors import ParseError, Span
from eqlite.syntax import ast, build
from eqlite.syntax.build import merge
from eqlite.syntax.lexer import tokenize
from eqlite.syntax.parser import unexpected_token_error

Item = ast.Node | Token


def _sp(item: Item) -> Span:
    if isinstance(item, Token):
        start = item.start_pos or 0
        return Span(start, item.end_pos or start, item.line or 1, item.column or 1)
    return item.span


def _between(first: Item, last: Item) -> Span:
    return merge(_sp(first), _sp(last))


def _nodes(items: list[Any]) -> tuple[Any, ...]:
    return tuple(item for item in items if not isinstance(item, Token))


class _AstBuilder(Transformer[Token, ast.Query]):
    """Build AST nodes bottom-up while Lark's LALR parser reduces."""

    @v_args(inline=True)
    def start(self, statement: ast.Query) -> ast.Query:
        return statement

    def statement(self, items: list[Any]) -> ast.Query:
        return ast.Query(items[0], tuple(items[1:]), span=_between(items[0], items[-1]))

    def pipe(self, items: list[Any]) -> ast.Pipe:
        bar, name = items[0], items[1]
        return build.pipe(name.value, _sp(name), list(_nodes(items[2:])), _between(bar, items[-1]))

    @v_args(inline=True)
    def event_query(self, query: ast.EventQuery) -> ast.EventQuery:
        return query

    @v_args(inline=True)
    def event_filter(self, category: tuple[str | None, Span], where: Token, condition: ast.Expr
                     ) -> ast.EventQuery:
        return ast.EventQuery(category[0], condition, span=merge(category[1], condition.span))

    @v_args(inline=True)
    def any_category(self, token: Token) -> tuple[str | None, Span]:
        return None, _sp(token)

    @v_args(inline=True)
    def named_category(self, token: Token) -> tuple[str | None, Span]:
        return token.value, _sp(token)

    @v_args(inline=True)
    def quoted_category(self, literal: ast.Literal) -> tuple[str | None, Span]:
        assert isinstance(literal.value, str)
        return literal.value, literal.span

    def sequence(self, items: list[Any]) -> ast.Sequence:
        keys: tuple[ast.Expr, ...] = ()
        maxspan: ast.TimeSpan | None = None
        stages: list[ast.SequenceStage] = []
        until: ast.SequenceStage | None = None
        for item in items[1:]:
            if isinstance(item, ast.SequenceStage):
                stages.append(item)
            elif item[0] == "header":
                keys, maxspan = item[1], item[2]
            else:
                until = item[1]
        last = until if until is not None else stages[-1]
        return build.sequence(_between(items[0], last), keys, maxspan, tuple(stages), until)

    def sequence_header(self, items: list[Any]) -> tuple[str, tuple[ast.Expr, ...], ast.TimeSpan | None]:
        return ("header", items[0], items[1] if len(items) > 1 else None)

    def sequence_header_with_first(self, items: list[Any]) -> tuple[str, tuple[()], ast.TimeSpan]:
        if len(items) > 1:
            build.keys_before_maxspan(items[1])
        return ("header", (), items[0])

    def sequence_params(self, items: list[Any]) -> ast.TimeSpan:
        value = items[3]
        assert isinstance(value, ast.TimeSpan)
        return value

    def time_value(self, items: list[Any]) -> ast.TimeSpan:
        unit = items[1] if len(items) > 1 else None
        return build.time_span(items[0], unit.value if unit else None, _sp(unit) if unit else None)

    def sequence_term(self, items: list[Any]) -> ast.SequenceStage:
        query, missing, opening = items[0]
        keys: tuple[ast.Expr, ...] = ()
        runs = 1
        last: Span = query.span
        for item in items[1:]:
            if isinstance(item, tuple) and item and item[0] == "runs":
                runs, last = item[1], item[2]
            else:
                keys = item
                last = keys[-1].span
        return ast.SequenceStage(query, keys, missing, runs, span=merge(opening, last))

    def term_params(self, items: list[Any]) -> tuple[str, int, Span]:
        key, value = items[1], items[3]
        return ("runs", build.runs(key.value, _sp(key), value), value.span)

    @v_args(inline=True)
    def until_term(self, keyword: Token, stage: ast.SequenceStage) -> tuple[str, ast.SequenceStage]:
        return ("until", stage)

    def sample(self, items: list[Any]) -> ast.Sample:
        stages = tuple(item for item in items[1:] if isinstance(item, ast.SampleStage))
        keys = next((item for item in items[1:] if isinstance(item, tuple)), ())
        return build.sample(_between(items[0], stages[-1]), keys, stages)

    def join_term(self, items: list[Any]) -> ast.SampleStage:
        query, missing, opening = items[0]
        return build.sample_stage(query, missing, opening, items[1] if len(items) > 1 else ())

    def join(self, items: list[Any]) -> NoReturn:
        build.join(_sp(items[0]))

    def until_join(self, items: list[Any]) -> ast.SampleStage:
        stage = items[1]
        assert isinstance(stage, ast.SampleStage)
        return stage

    def positive_subquery(self, items: list[Any]) -> tuple[ast.EventQuery, bool, Span]:
        return (items[1], False, _sp(items[0]))

    def missing_subquery(self, items: list[Any]) -> tuple[ast.EventQuery, bool, Span]:
        return (items[1], True, _sp(items[0]))

    def join_keys(self, items: list[Any]) -> tuple[ast.Expr, ...]:
        return _nodes(items)

    def or_(self, items: list[Any]) -> ast.Or:
        return build.or_(items[0], items[2])

    def and_(self, items: list[Any]) -> ast.And:
        return build.and_(items[0], items[2])

    @v_args(inline=True)
    def not_(self, keyword: Token, operand: ast.Expr) -> ast.Not:
        return ast.Not(operand, span=merge(_sp(keyword), operand.span))

    def relationship(self, items: list[Any]) -> NoReturn:
        build.relationship(items[0].value, merge(_sp(items[0]), items[2][0].span))

    @v_args(inline=True)
    def comparison(self, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Comparison:
        return build.comparison(left, op.value, _sp(op), right)

    @v_args(inline=True)
    def comparison_op(self, token: Token) -> Token:
        return token

    @v_args(inline=True)
    def match_op(self, token: Token) -> Token:
        return token

    @v_args(inline=True)
    def predicated(self, operand: ast.Expr, predicate: tuple[str, Any, Item]) -> ast.Expr:
        kind, payload, last = predicate
        span = merge(operand.span, _sp(last))
        if kind == "in":
            values, insensitive, negated = payload
            return ast.InList(operand, values, insensitive, negated, span=span)
        op, insensitive, patterns = payload
        return ast.Match(op, operand, patterns, insensitive, span=span)

    def in_predicate(self, items: list[Any]) -> tuple[str, Any, Item]:
        return ("in", (_nodes(items), items[0].type == "IN_INSENSITIVE", False), items[-1])

    def not_in_predicate(self, items: list[Any]) -> tuple[str, Any, Item]:
        return ("in", (_nodes(items), items[1].type == "IN_INSENSITIVE", True), items[-1])

    def match_predicate(self, items: list[Any]) -> tuple[str, Any, Item]:
        op, insensitive = build.MATCH_OPERATORS[items[0].type]
        return ("match", (op, insensitive, _nodes(items[1:])), items[-1])

    @v_args(inline=True)
    def arithmetic(self, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Arithmetic:
        return ast.Arithmetic(op.value, left, right, span=merge(left.span, right.span))

    @v_args(inline=True)
    def negate(self, sign: Token, operand: ast.Expr) -> ast.Expr:
        return build.negate(operand, merge(_sp(sign), operand.span))

    @v_args(inline=True)
    def plus(self, sign: Token, operand: ast.Expr) -> ast.Expr:
        return operand

    @v_args(inline=True)
    def parenthesized(self, open_paren: Token, inner: ast.Expr, close_paren: Token) -> ast.Expr:
        return inner

    def function_call(self, items: list[Any]) -> ast.FunctionCall:
        name = items[0].value
        return ast.FunctionCall(name.rstrip("~"), _nodes(items[1:]), name.endswith("~"),
                                span=_between(items[0], items[-1]))

    @v_args(inline=True)
    def function_name(self, token: Token) -> Token:
        return token

    def field(self, items: list[Any]) -> ast.Field:
        optional = isinstance(items[0], Token)
        parts = [item for item in items if isinstance(item, tuple)]
        first = _sp(items[0]) if optional else parts[0][1]
        return build.field(tuple(name for name, _ in parts), optional, merge(first, parts[-1][1]))

    @v_args(inline=True)
    def identifier(self, token: Token) -> tuple[str, Span]:
        if token.type == "ESCAPED_IDENTIFIER":
            return (build.escaped_identifier(token.value, _sp(token)), _sp(token))
        return (token.value, _sp(token))

    @v_args(inline=True)
    def null_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(None, "null", span=_sp(token))

    @v_args(inline=True)
    def true_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(True, "boolean", span=_sp(token))

    @v_args(inline=True)
    def false_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(False, "boolean", span=_sp(token))

    @v_args(inline=True)
    def integer_literal(self, token: Token) -> ast.Literal:
        return build.integer_literal(token.value, _sp(token))

    @v_args(inline=True)
    def decimal_literal(self, token: Token) -> ast.Literal:
        return build.decimal_literal(token.value, _sp(token))

    @v_args(inline=True)
    def string_literal(self, token: Token) -> ast.Literal:
        return build.string_literal(token.type, token.value, _sp(token))

    raw_string_literal = string_literal
    single_quoted_string = string_literal
    question_raw_string = string_literal


def grammar_text() -> str:
    """The grammar file shipped with eqlite."""
    return resources.files("eqlite.syntax").joinpath("eql.lark").read_text(encoding="utf-8")


@cache
def _lark() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="basic", maybe_placeholders=False)


def _syntax_error(text: str, error: UnexpectedInput) -> ParseError:
    if isinstance(error, UnexpectedCharacters):
        # The fast lexer words these errors; reuse it so both parsers say the same thing.
        try:
            tokenize(text)
        except ParseError as lexical:
            return lexical
        position = error.pos_in_stream or 0
        return ParseError(f"unexpected character {text[position]!r}",
                          Span(position, position + 1, error.line, error.column), text)
    if isinstance(error, UnexpectedToken):
        token = error.token
        start = token.start_pos or 0
        return unexpected_token_error(text, token.type, token.value, start, token.end_pos or start + 1,
                                      token.line or 1, token.column or 1, set(error.expected))
    if isinstance(error, UnexpectedEOF):
        return unexpected_token_error(text, "$END", "", len(text), len(text), 1, 1, set(error.expected))
    raise error


def parse_reference(text: str) -> ast.Query:
    """Parse with Lark straight from the grammar file; same result as :func:`eqlite.syntax.parser.parse`.

    >>> parse_reference('any where true').body.category is None
    True
    """
    # Parse first, then build: as in Elasticsearch, a syntax error anywhere wins.
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    try:
        result = _AstBuilder().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, ParseError):
            raise error.orig_exc.with_query(text) from None
        raise
    assert isinstance(result, ast.Query)
    return result
