"""Parse EQL text (Elasticsearch dialect) into the AST of :mod:`eqlite.syntax.ast`.

The grammar is data (``eql.lark``); this module turns Lark's parse into AST nodes and
rejects, with a message that says how to fix it, every form Elasticsearch rejects while
building its tree: single-quoted and ``?"..."`` strings, ``=``, ``!:``, joins, lineage
(``child of``), pipes other than ``head``/``tail``, bad ``maxspan``/``runs`` values.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any, NoReturn

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from eqlite.errors import ParseError, Span, span_at
from eqlite.syntax import ast

_TIME_UNITS = ("ms", "s", "m", "h", "d")
_MAX_RUNS = 100

# Names shown to users for the grammar's terminals, in "expected ..." lists.
_TOKEN_NAMES = {
    "AND": "'and'", "ANY": "'any'", "BY": "'by'", "FALSE": "'false'", "IN": "'in'", "JOIN": "'join'",
    "LIKE": "'like'", "MAXSPAN": "'maxspan'", "NOT": "'not'", "NULL": "'null'", "OF": "'of'", "OR": "'or'",
    "REGEX": "'regex'", "SAMPLE": "'sample'", "SEQUENCE": "'sequence'", "TRUE": "'true'",
    "UNTIL": "'until'", "WHERE": "'where'", "WITH": "'with'", "IN_INSENSITIVE": "'in~'",
    "LIKE_INSENSITIVE": "'like~'", "REGEX_INSENSITIVE": "'regex~'", "TILDE_IDENTIFIER": "a function name",
    "SEQ": "':'", "NOT_SEQ": "'!:'", "ASGN": "'='", "EQ": "'=='", "NEQ": "'!='", "LT": "'<'", "LTE": "'<='",
    "GT": "'>'", "GTE": "'>='", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'",
    "PERCENT": "'%'", "DOT": "'.'", "COMMA": "','", "LB": "'['", "RB": "']'", "LP": "'('", "RP": "')'",
    "PIPE": "'|'", "MISSING_EVENT_OPEN": "'!['", "OPTIONAL": "'?'", "STRING": "a string",
    "RAW_STRING": "a string", "SINGLE_QUOTED_STRING": "a string", "QUESTION_RAW_STRING": "a string",
    "DECIMAL_VALUE": "a number", "INTEGER_VALUE": "a number", "IDENTIFIER": "a name",
    "ESCAPED_IDENTIFIER": "a name", "$END": "end of query",
}

_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u\{[^}]*\}?|.)", re.DOTALL)
_HEX_RE = re.compile(r"[0-9A-Fa-f]{2,8}")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*")

Item = ast.Node | Token


def _span(first: Item, last: Item | None = None) -> Span:
    last = first if last is None else last
    if isinstance(first, Token):
        start, line, col = first.start_pos or 0, first.line or 1, first.column or 1
    else:
        start, line, col = first.span.start, first.span.line, first.span.col
    end = (last.end_pos or 0) if isinstance(last, Token) else last.span.end
    return Span(start, max(end, start), line, col)


def _fail(message: str, first: Item, last: Item | None = None) -> NoReturn:
    raise ParseError(message, _span(first, last))


class _AstBuilder(Transformer[Token, ast.Query]):
    """Build AST nodes bottom-up while Lark's LALR parser reduces."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)

    @staticmethod
    def _sp(first: Item, last: Item | None = None) -> Span:
        return _span(first, last)

    # ------------------------------------------------------------ statements

    @v_args(inline=True)
    def start(self, statement: ast.Query) -> ast.Query:
        return statement

    def statement(self, items: list[Any]) -> ast.Query:
        body, pipes = items[0], tuple(items[1:])
        return ast.Query(body, pipes, span=self._sp(items[0], items[-1]))

    def pipe(self, items: list[Any]) -> ast.Pipe:
        bar, name = items[0], items[1]
        args = [a for a in items[2:] if not isinstance(a, Token)]
        if name.value not in ("head", "tail"):
            supported = "only 'head' and 'tail' pipes are supported"
            _fail(f"pipe '{name.value}' is not supported by Elasticsearch EQL; {supported}", name)
        if len(args) != 1:
            _fail(f"'{name.value}' takes exactly one argument, a non-negative integer, e.g. "
                  f"'| {name.value} 10'", bar, items[-1])
        count = args[0]
        if not (isinstance(count, ast.Literal) and count.kind == "long" and isinstance(count.value, int)):
            _fail(f"'{name.value}' needs a non-negative integer literal", count)
        if count.value < 0:
            _fail(f"'{name.value}' needs a non-negative integer, found {count.value}", count)
        return ast.Pipe(name.value, count.value, span=self._sp(bar, items[-1]))

    # ------------------------------------------------------------ event queries

    @v_args(inline=True)
    def event_query(self, query: ast.EventQuery) -> ast.EventQuery:
        return query

    @v_args(inline=True)
    def event_filter(self, category: tuple[str | None, Item], where: Token, condition: ast.Expr
                     ) -> ast.EventQuery:
        name, first = category
        return ast.EventQuery(name, condition, span=self._sp(first, condition))

    @v_args(inline=True)
    def any_category(self, token: Token) -> tuple[str | None, Item]:
        return None, token

    @v_args(inline=True)
    def named_category(self, token: Token) -> tuple[str | None, Item]:
        return token.value, token

    @v_args(inline=True)
    def quoted_category(self, literal: ast.Literal) -> tuple[str | None, Item]:
        assert isinstance(literal.value, str)
        return literal.value, literal

    # ------------------------------------------------------------ sequences and samples

    def sequence(self, items: list[Any]) -> ast.Sequence:
        keyword = items[0]
        keys: tuple[ast.Expr, ...] = ()
        maxspan: ast.TimeSpan | None = None
        stages: list[ast.SequenceStage] = []
        until: ast.SequenceStage | None = None
        for item in items[1:]:
            if isinstance(item, tuple) and item and item[0] == "header":
                keys, maxspan = item[1], item[2]
            elif isinstance(item, ast.SequenceStage):
                stages.append(item)
            elif isinstance(item, tuple) and item and item[0] == "until":
                until = item[1]
        last = items[-1][1] if isinstance(items[-1], tuple) else items[-1]
        span = self._sp(keyword, last)
        positive = [s for s in stages if not s.missing]
        if sum(s.runs for s in stages) < 2:
            raise ParseError(f"a sequence needs at least 2 queries, found {sum(s.runs for s in stages)}",
                             span)
        if not positive:
            raise ParseError("a sequence needs at least one positive query; every query is a missing "
                             "event '![ ... ]'", span)
        if len(positive) != len(stages) and maxspan is None:
            raise ParseError("a sequence with missing events '![ ... ]' needs 'with maxspan=...'",
                             span)
        if until is not None and until.missing:
            raise ParseError("'until' cannot be a missing event '![ ... ]'", until.span)
        if until is not None and until.runs != 1:
            raise ParseError("'with runs' is not allowed on 'until'", until.span)
        return ast.Sequence(keys, maxspan, tuple(stages), until, span=span)

    def sequence_header(self, items: list[Any]) -> tuple[str, tuple[ast.Expr, ...], ast.TimeSpan | None]:
        keys = items[0]
        maxspan = items[1] if len(items) > 1 else None
        return ("header", keys, maxspan)

    def sequence_header_with_first(self, items: list[Any]) -> NoReturn | tuple[str, tuple[()], ast.TimeSpan]:
        if len(items) > 1:
            keys = items[1]
            first = keys[0]
            raise ParseError("put 'by' before 'with maxspan': write 'sequence by <keys> with maxspan=<span>'",
                             first.span)
        return ("header", (), items[0])

    def sequence_params(self, items: list[Any]) -> ast.TimeSpan:
        with_token, _maxspan, _assign, value = items
        assert isinstance(value, ast.TimeSpan)
        return value

    def time_value(self, items: list[Any]) -> ast.TimeSpan:
        number = items[0]
        if len(items) == 1:
            hint = f"; did you mean '{number.value}s'" if isinstance(number.value, int) else ""
            _fail(f"maxspan needs a time unit, one of {', '.join(_TIME_UNITS)}{hint}", number)
        unit = items[1]
        if unit.value not in _TIME_UNITS:
            _fail(f"unknown time unit '{unit.value}'; use one of {', '.join(_TIME_UNITS)}", unit)
        if number.kind != "long":
            _fail(f"maxspan must be a whole number of units; {number.value} "
                  f"is not (write e.g. 500ms instead of 0.5s)", number, unit)
        if number.value <= 0:
            _fail("maxspan must be greater than zero", number, unit)
        return ast.TimeSpan(number.value, unit.value, span=self._sp(number, unit))

    def sequence_term(self, items: list[Any]) -> ast.SequenceStage:
        subquery, missing, first = items[0]
        keys: tuple[ast.Expr, ...] = ()
        runs = 1
        last: Item = subquery
        for item in items[1:]:
            if isinstance(item, tuple) and item and item[0] == "runs":
                runs, last = item[1], item[2]
            else:
                keys = item
                last = keys[-1]
        if items[1:] and isinstance(items[-1], tuple) and items[-1][0] == "runs":
            last = items[-1][2]
        return ast.SequenceStage(subquery, keys, missing, runs, span=self._sp(first, last))

    def term_params(self, items: list[Any]) -> tuple[str, int, Item]:
        with_token, key, _assign, value = items
        if key.value != "runs":
            _fail(f"unknown sequence parameter '{key.value}'; only 'with runs=<n>' is allowed here", key)
        if value.kind != "long" or not 1 <= value.value <= _MAX_RUNS:
            _fail(f"runs must be an integer between 1 and {_MAX_RUNS}", value)
        return ("runs", value.value, value)

    @v_args(inline=True)
    def until_term(self, keyword: Token, stage: ast.SequenceStage) -> tuple[str, ast.SequenceStage]:
        return ("until", stage)

    def sample(self, items: list[Any]) -> ast.Sample:
        keyword = items[0]
        keys: tuple[ast.Expr, ...] = ()
        stages: list[ast.SampleStage] = []
        for item in items[1:]:
            if isinstance(item, ast.SampleStage):
                stages.append(item)
            else:
                keys = item
        span = self._sp(keyword, stages[-1])
        if len(stages) < 2:
            raise ParseError(f"a sample needs at least 2 queries, found {len(stages)}", span)
        return ast.Sample(keys, tuple(stages), span=span)

    def join_term(self, items: list[Any]) -> ast.SampleStage:
        subquery, missing, first = items[0]
        if missing:
            _fail("missing events '![ ... ]' are only allowed in sequences", first)
        keys: tuple[ast.Expr, ...] = items[1] if len(items) > 1 else ()
        last: Item = keys[-1] if keys else subquery
        return ast.SampleStage(subquery, keys, span=self._sp(first, last))

    def join(self, items: list[Any]) -> NoReturn:
        _fail("'join' is not supported by Elasticsearch EQL; use 'sequence' or 'sample'", items[0])

    def until_join(self, items: list[Any]) -> NoReturn:
        _fail("'join' is not supported by Elasticsearch EQL", items[0])

    def positive_subquery(self, items: list[Any]) -> tuple[ast.EventQuery, bool, Item]:
        return (items[1], False, items[0])

    def missing_subquery(self, items: list[Any]) -> tuple[ast.EventQuery, bool, Item]:
        return (items[1], True, items[0])

    def join_keys(self, items: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(item for item in items[1:] if not isinstance(item, Token))

    # ------------------------------------------------------------ boolean logic

    def or_(self, items: list[Any]) -> ast.Or:
        left, right = items[0], items[2]
        terms = (*(left.terms if isinstance(left, ast.Or) else (left,)), right)
        return ast.Or(terms, span=self._sp(left, right))

    def and_(self, items: list[Any]) -> ast.And:
        left, right = items[0], items[2]
        terms = (*(left.terms if isinstance(left, ast.And) else (left,)), right)
        return ast.And(terms, span=self._sp(left, right))

    @v_args(inline=True)
    def not_(self, keyword: Token, operand: ast.Expr) -> ast.Not:
        return ast.Not(operand, span=self._sp(keyword, operand))

    def relationship(self, items: list[Any]) -> NoReturn:
        name = items[0]
        _fail(f"'{name.value} of' (process lineage) is not supported by Elasticsearch EQL", name, items[1])

    # ------------------------------------------------------------ comparisons and predicates

    @v_args(inline=True)
    def comparison(self, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Comparison:
        if op.value == "=":
            _fail("'=' is not an EQL operator; use '==' (case-sensitive) or ':' (case-insensitive)", op)
        if op.value == "!:":
            _fail("'!:' is not supported; write 'not <field> : <value>'", op)
        return ast.Comparison(op.value, left, right, span=self._sp(left, right))

    @v_args(inline=True)
    def comparison_op(self, token: Token) -> Token:
        return token

    @v_args(inline=True)
    def match_op(self, token: Token) -> Token:
        return token

    def predicated(self, items: list[Any]) -> ast.Expr:
        operand, (kind, build, last) = items
        node: ast.Expr = build(operand, self._sp(operand, last))
        return node

    def in_predicate(self, items: list[Any]) -> tuple[str, Any, Item]:
        insensitive = items[0].type == "IN_INSENSITIVE"
        values = tuple(i for i in items[2:] if not isinstance(i, Token))
        return ("in", lambda operand, span: ast.InList(operand, values, insensitive, False, span=span), items[-1])

    def not_in_predicate(self, items: list[Any]) -> tuple[str, Any, Item]:
        insensitive = items[1].type == "IN_INSENSITIVE"
        values = tuple(i for i in items[3:] if not isinstance(i, Token))
        return ("in", lambda operand, span: ast.InList(operand, values, insensitive, True, span=span), items[-1])

    def match_predicate(self, items: list[Any]) -> tuple[str, Any, Item]:
        op_token = items[0]
        patterns = tuple(i for i in items[1:] if not isinstance(i, Token))
        op = {"SEQ": ":", "LIKE": "like", "LIKE_INSENSITIVE": "like", "REGEX": "regex",
              "REGEX_INSENSITIVE": "regex"}[op_token.type]
        insensitive = op_token.type in ("LIKE_INSENSITIVE", "REGEX_INSENSITIVE")
        return ("match", lambda operand, span: ast.Match(op, operand, patterns, insensitive, span=span), items[-1])

    # ------------------------------------------------------------ arithmetic

    @v_args(inline=True)
    def arithmetic(self, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Arithmetic:
        return ast.Arithmetic(op.value, left, right, span=self._sp(left, right))

    @v_args(inline=True)
    def negate(self, sign: Token, operand: ast.Expr) -> ast.Expr:
        span = self._sp(sign, operand)
        if isinstance(operand, ast.Literal) and operand.kind in ("long", "double"):
            assert isinstance(operand.value, (int, float))
            return ast.Literal(-operand.value, operand.kind, span=span)
        return ast.Negate(operand, span=span)

    @v_args(inline=True)
    def plus(self, sign: Token, operand: ast.Expr) -> ast.Expr:
        return operand

    @v_args(inline=True)
    def parenthesized(self, open_paren: Token, inner: ast.Expr, close_paren: Token) -> ast.Expr:
        return inner

    # ------------------------------------------------------------ functions and fields

    def function_call(self, items: list[Any]) -> ast.FunctionCall:
        name_token = items[0]
        name = name_token.value
        insensitive = name.endswith("~")
        args = tuple(i for i in items[1:] if not isinstance(i, Token))
        return ast.FunctionCall(name.rstrip("~"), args, insensitive, span=self._sp(name_token, items[-1]))

    @v_args(inline=True)
    def function_name(self, token: Token) -> Token:
        return token

    def field(self, items: list[Any]) -> ast.Field:
        optional = isinstance(items[0], Token) and items[0].type == "OPTIONAL"
        parts = [i for i in items if isinstance(i, tuple)]
        path = tuple(name for name, _ in parts)
        first = items[0] if optional else parts[0][1]
        return ast.Field(path, optional, span=self._sp(first, parts[-1][1]))

    @v_args(inline=True)
    def identifier(self, token: Token) -> tuple[str, Token]:
        if token.type == "ESCAPED_IDENTIFIER":
            name = token.value[1:-1].replace("``", "`")
            if not name:
                _fail("an escaped field name cannot be empty", token)
            return (name, token)
        return (token.value, token)

    # ------------------------------------------------------------ literals

    @v_args(inline=True)
    def null_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(None, "null", span=self._sp(token))

    @v_args(inline=True)
    def true_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(True, "boolean", span=self._sp(token))

    @v_args(inline=True)
    def false_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(False, "boolean", span=self._sp(token))

    @v_args(inline=True)
    def integer_literal(self, token: Token) -> ast.Literal:
        value = int(token.value)
        if value > 2**63 - 1:
            # Elasticsearch reads integers too large for a long as doubles.
            return ast.Literal(float(value), "double", span=self._sp(token))
        return ast.Literal(value, "long", span=self._sp(token))

    @v_args(inline=True)
    def decimal_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(float(token.value), "double", span=self._sp(token))

    @v_args(inline=True)
    def string_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(self._unescape(token), "string", span=self._sp(token))

    @v_args(inline=True)
    def raw_string_literal(self, token: Token) -> ast.Literal:
        return ast.Literal(token.value[3:-3], "string", span=self._sp(token))

    @v_args(inline=True)
    def single_quoted_string(self, token: Token) -> NoReturn:
        _fail("single quotes are not allowed; use double quotes for strings, e.g. \"text\"", token)

    @v_args(inline=True)
    def question_raw_string(self, token: Token) -> NoReturn:
        _fail("'?\"...\"' raw strings are not supported; use triple double quotes, e.g. \"\"\"C:\\path\"\"\"", token)

    def _unescape(self, token: Token) -> str:
        body = token.value[1:-1]
        if "\\" not in body:
            return str(body)
        def replace(match: re.Match[str]) -> str:
            escape = match.group(1)
            if escape.startswith("u{"):
                digits = escape[2:-1] if escape.endswith("}") else ""
                if not _HEX_RE.fullmatch(digits):
                    self._escape_error(token, match,
                                       "a unicode escape is \\u{XXXX} with 2 to 8 hex digits")
                code = int(digits, 16)
                if code > 0x10FFFF:
                    self._escape_error(token, match,
                                       f"\\u{{{digits}}} is not a valid unicode code point")
                return chr(code)
            if escape in _ESCAPES:
                return _ESCAPES[escape]
            self._escape_error(token, match,
                               f"invalid escape sequence '\\{escape}'; write '\\\\' for a backslash, or use a "
                               f"raw string \"\"\"...\"\"\"")

        return _ESCAPE_RE.sub(replace, body)

    @staticmethod
    def _escape_error(token: Token, match: re.Match[str], message: str) -> NoReturn:
        start = (token.start_pos or 0) + 1 + match.start()
        column = (token.column or 1) + 1 + match.start()
        raise ParseError(message, Span(start, start + match.end() - match.start(), token.line or 1, column))


@cache
def _grammar() -> str:
    return resources.files("eqlite.syntax").joinpath("eql.lark").read_text(encoding="utf-8")


@cache
def _lark() -> Lark:
    return Lark(_grammar(), parser="lalr", lexer="basic", maybe_placeholders=False,
                transformer=_AstBuilder())


def _describe_expected(expected: set[str] | frozenset[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(name, name) for name in expected})
    if len(names) > 8:
        names = [*names[:8], "..."]
    return ", ".join(names)


def _syntax_error(text: str, error: UnexpectedInput) -> ParseError:
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream
        char = text[position]
        if char == '"':
            message = "unterminated string; a string must end with '\"' on the same line"
        elif char == "'":
            message = "single quotes are not allowed; use double quotes for strings"
        elif char == "`":
            message = "unterminated escaped name; it must end with '`'"
        elif char == "!":
            message = "unexpected '!'; use 'not' for negation, '!=' for inequality or '![' for a missing event"
        else:
            message = f"unexpected character {char!r}"
        return ParseError(message, span_at(text, position), text)
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            position = len(text.rstrip()) or 0
            return ParseError(f"unexpected end of query; expected {_describe_expected(error.expected)}",
                              span_at(text, max(position - 1, 0), max(position, 1)), text)
        start = token.start_pos or 0
        span = span_at(text, start, token.end_pos or start + 1)
        hint = ""
        if token.type == "LB" and "RB" not in error.expected and "BY" not in error.expected:
            hint = "; array indexes such as field[0] are not supported"
        elif token.type == "ASGN":
            hint = "; '=' is not an EQL operator, use '==' or ':'"
        elif token.type in ("SINGLE_QUOTED_STRING",):
            hint = "; single quotes are not allowed, use double quotes"
        elif token.type == "IDENTIFIER" and token.value in ("AND", "OR", "NOT", "WHERE", "IN"):
            hint = f"; keywords are lower case, write '{token.value.lower()}'"
        return ParseError(f"unexpected {token.value!r}; expected {_describe_expected(error.expected)}{hint}",
                          span, text)
    if isinstance(error, UnexpectedEOF):
        end = len(text)
        return ParseError(f"unexpected end of query; expected {_describe_expected(set(error.expected))}",
                          span_at(text, max(end - 1, 0), end), text)
    return ParseError(str(error), span_at(text, 0), text)


def parse(text: str) -> ast.Query:
    """Parse one EQL statement.

    Raises:
        ParseError: the text is not EQL as Elasticsearch accepts it.

    >>> parse('process where process.name == "cmd.exe"').body.category
    'process'
    """
    try:
        result = _lark().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    except ParseError as error:
        raise error.with_query(text) from None
    assert isinstance(result, ast.Query)
    return result


def is_plain_identifier(name: str) -> bool:
    """True when ``name`` can be written without backticks (and is not a keyword)."""
    return bool(_IDENTIFIER_RE.fullmatch(name)) and name not in KEYWORDS


KEYWORDS = frozenset({
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or", "regex",
    "sample", "sequence", "true", "until", "where", "with",
})
