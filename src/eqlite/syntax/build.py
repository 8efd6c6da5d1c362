"""AST construction rules shared by both parsers.

Elasticsearch rejects several forms only once it builds its tree (bad ``maxspan`` units,
``runs`` out of range, unsupported pipes, single-quoted strings, ...). Both the fast parser
and the Lark reference parser call these functions, so that they accept the same queries
and reject the others with the same message at the same place.
"""

from __future__ import annotations

import re
from typing import NoReturn

from eqlite.errors import ParseError, Span
from eqlite.syntax import ast

TIME_UNITS = ("ms", "s", "m", "h", "d")
MAX_RUNS = 100
KEYWORDS = frozenset({
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or", "regex",
    "sample", "sequence", "true", "until", "where", "with",
})

_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u\{[^}]*\}?|.)", re.DOTALL)
_HEX_RE = re.compile(r"[0-9A-Fa-f]{2,8}")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*")


def merge(first: Span, last: Span) -> Span:
    """The span from the start of ``first`` to the end of ``last``."""
    return Span(first.start, max(last.end, first.start), first.line, first.col)


def fail(message: str, span: Span) -> NoReturn:
    raise ParseError(message, span)


def is_plain_identifier(name: str) -> bool:
    """True when ``name`` can be written without backticks (it is a name and not a keyword).

    >>> is_plain_identifier("entity_id"), is_plain_identifier("my-field"), is_plain_identifier("by")
    (True, False, False)
    """
    return bool(_IDENTIFIER_RE.fullmatch(name)) and name not in KEYWORDS


# ---------------------------------------------------------------- literals


def unescape_string(token_text: str, span: Span) -> str:
    """The value of a double-quoted string token, with its escapes resolved.

    >>> unescape_string('"a\\\\tb\\\\u{41}"', Span(0, 12, 1, 1))
    'a\\tbA'
    """
    body = token_text[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        where = Span(span.start + 1 + match.start(), span.start + 1 + match.end(), span.line,
                     span.col + 1 + match.start())
        if escape.startswith("u{"):
            digits = escape[2:-1] if escape.endswith("}") else ""
            if not _HEX_RE.fullmatch(digits):
                fail("a unicode escape is \\u{XXXX} with 2 to 8 hex digits", where)
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                fail(f"\\u{{{digits}}} is not a valid unicode code point", where)
            return chr(code)
        replacement = _ESCAPES.get(escape)
        if replacement is None:
            fail(f"invalid escape sequence '\\{escape}'; write '\\\\' for a backslash, or use a raw string "
                 f"\"\"\"...\"\"\"", where)
        return replacement

    return _ESCAPE_RE.sub(replace, body)


def string_literal(token_type: str, text: str, span: Span) -> ast.Literal:
    """Build a string literal from a string token, rejecting the forms Elasticsearch rejects."""
    if token_type == "RAW_STRING":
        return ast.Literal(text[3:-3], "string", span=span)
    if token_type == "SINGLE_QUOTED_STRING":
        fail("single quotes are not allowed; use double quotes for strings, e.g. \"text\"", span)
    if token_type == "QUESTION_RAW_STRING":
        fail("'?\"...\"' raw strings are not supported; use triple double quotes, e.g. \"\"\"C:\\path\"\"\"", span)
    return ast.Literal(unescape_string(text, span), "string", span=span)


def integer_literal(text: str, span: Span) -> ast.Literal:
    value = int(text)
    if value > 2**63 - 1:
        # Elasticsearch reads integer literals too large for a long as doubles.
        return ast.Literal(float(value), "double", span=span)
    return ast.Literal(value, "long", span=span)


def decimal_literal(text: str, span: Span) -> ast.Literal:
    return ast.Literal(float(text), "double", span=span)


def negate(operand: ast.Expr, span: Span) -> ast.Expr:
    """Unary minus; folded into the literal for numbers, as Elasticsearch folds it."""
    if isinstance(operand, ast.Literal) and operand.kind in ("long", "double"):
        assert isinstance(operand.value, (int, float))
        return ast.Literal(-operand.value, operand.kind, span=span)
    return ast.Negate(operand, span=span)


def field(path: tuple[str, ...], optional: bool, span: Span) -> ast.Field:
    return ast.Field(path, optional, span=span)


def escaped_identifier(text: str, span: Span) -> str:
    name = text[1:-1].replace("``", "`")
    if not name:
        fail("an escaped field name cannot be empty", span)
    return name


# ---------------------------------------------------------------- boolean logic and operators


def and_(left: ast.Expr, right: ast.Expr) -> ast.And:
    terms = (*(left.terms if isinstance(left, ast.And) else (left,)), right)
    return ast.And(terms, span=merge(left.span, right.span))


def or_(left: ast.Expr, right: ast.Expr) -> ast.Or:
    terms = (*(left.terms if isinstance(left, ast.Or) else (left,)), right)
    return ast.Or(terms, span=merge(left.span, right.span))


def comparison(left: ast.Expr, op: str, op_span: Span, right: ast.Expr) -> ast.Comparison:
    if op == "=":
        fail("'=' is not an EQL operator; use '==' (case-sensitive) or ':' (case-insensitive)", op_span)
    if op == "!:":
        fail("'!:' is not supported; write 'not <field> : <value>'", op_span)
    return ast.Comparison(op, left, right, span=merge(left.span, right.span))  # type: ignore[arg-type]


MATCH_OPERATORS = {
    "SEQ": (":", False), "LIKE": ("like", False), "LIKE_INSENSITIVE": ("like", True),
    "REGEX": ("regex", False), "REGEX_INSENSITIVE": ("regex", True),
}


def relationship(name: str, span: Span) -> NoReturn:
    fail(f"'{name} of' (process lineage) is not supported by Elasticsearch EQL", span)


# ---------------------------------------------------------------- queries


def time_span(number: ast.Literal, unit: str | None, unit_span: Span | None) -> ast.TimeSpan:
    """Validate a ``maxspan`` value the way Elasticsearch does."""
    if unit is None or unit_span is None:
        hint = f"; did you mean '{number.value}s'" if number.kind == "long" else ""
        fail(f"maxspan needs a time unit, one of {', '.join(TIME_UNITS)}{hint}", number.span)
    if unit not in TIME_UNITS:
        fail(f"unknown time unit '{unit}'; use one of {', '.join(TIME_UNITS)}", unit_span)
    span = merge(number.span, unit_span)
    if number.kind != "long":
        fail(f"maxspan must be a whole number of units, not {number.value} (write 500ms instead of 0.5s)", span)
    assert isinstance(number.value, int)
    if number.value <= 0:
        fail("maxspan must be greater than zero", span)
    return ast.TimeSpan(number.value, unit, span=span)  # type: ignore[arg-type]


def runs(key: str, key_span: Span, value: ast.Literal) -> int:
    if key != "runs":
        fail(f"unknown sequence parameter '{key}'; only 'with runs=<n>' is allowed here", key_span)
    if value.kind != "long" or not 1 <= value.value <= MAX_RUNS:  # type: ignore[operator]
        fail(f"runs must be an integer between 1 and {MAX_RUNS}", value.span)
    assert isinstance(value.value, int)
    return value.value


def keys_before_maxspan(keys: tuple[ast.Expr, ...]) -> NoReturn:
    fail("put 'by' before 'with maxspan': write 'sequence by <keys> with maxspan=<span>'", keys[0].span)


def sequence(span: Span, keys: tuple[ast.Expr, ...], maxspan: ast.TimeSpan | None,
             stages: tuple[ast.SequenceStage, ...], until: ast.SequenceStage | None) -> ast.Sequence:
    count = sum(stage.runs for stage in stages)
    if count < 2:
        fail(f"a sequence needs at least 2 queries, found {count}", span)
    if all(stage.missing for stage in stages):
        fail("a sequence needs at least one positive query; every query is a missing event '![ ... ]'", span)
    if maxspan is None and any(stage.missing for stage in stages):
        fail("a sequence with missing events '![ ... ]' needs 'with maxspan=...'", span)
    if until is not None and until.missing:
        fail("'until' cannot be a missing event '![ ... ]'", until.span)
    if until is not None and until.runs != 1:
        fail("'with runs' is not allowed on 'until'", until.span)
    return ast.Sequence(keys, maxspan, stages, until, span=span)


def sample(span: Span, keys: tuple[ast.Expr, ...], stages: tuple[ast.SampleStage, ...]) -> ast.Sample:
    if len(stages) < 2:
        fail(f"a sample needs at least 2 queries, found {len(stages)}", span)
    return ast.Sample(keys, stages, span=span)


def sample_stage(query: ast.EventQuery, missing: bool, open_span: Span, keys: tuple[ast.Expr, ...]
                 ) -> ast.SampleStage:
    if missing:
        fail("missing events '![ ... ]' are only allowed in sequences", open_span)
    last = keys[-1].span if keys else query.span
    return ast.SampleStage(query, keys, span=merge(open_span, last))


def join(span: Span) -> NoReturn:
    fail("'join' is not supported by Elasticsearch EQL; use 'sequence' or 'sample'", span)


def pipe(name: str, name_span: Span, args: list[ast.Expr], span: Span) -> ast.Pipe:
    if name not in ("head", "tail"):
        fail(f"pipe '{name}' is not supported by Elasticsearch EQL; only 'head' and 'tail' pipes are supported",
             name_span)
    if len(args) != 1:
        fail(f"'{name}' takes exactly one argument, a non-negative integer, e.g. '| {name} 10'", span)
    count = args[0]
    if not (isinstance(count, ast.Literal) and count.kind == "long" and isinstance(count.value, int)):
        fail(f"'{name}' needs a non-negative integer literal", count.span)
    if count.value < 0:
        fail(f"'{name}' needs a non-negative integer, found {count.value}", count.span)
    return ast.Pipe(name, count.value, span=span)  # type: ignore[arg-type]
