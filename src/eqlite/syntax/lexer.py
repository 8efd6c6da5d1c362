"""Split EQL text into tokens, exactly as the terminals of ``eql.lark`` do.

Token type names are the grammar's terminal names, and the alternatives are tried in the
order Lark tries them (by terminal priority, then longest literal first), so that both
parsers see the same tokens.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from eqlite.errors import ParseError, Span

KEYWORD_TYPES = {
    "and": "AND", "any": "ANY", "by": "BY", "false": "FALSE", "in": "IN", "join": "JOIN", "like": "LIKE",
    "maxspan": "MAXSPAN", "not": "NOT", "null": "NULL", "of": "OF", "or": "OR", "regex": "REGEX",
    "sample": "SAMPLE", "sequence": "SEQUENCE", "true": "TRUE", "until": "UNTIL", "where": "WHERE",
    "with": "WITH",
}

OPERATOR_TYPES = {
    "==": "EQ", "!=": "NEQ", "<=": "LTE", ">=": "GTE", "![": "MISSING_EVENT_OPEN", "!:": "NOT_SEQ",
    ":": "SEQ", "=": "ASGN", "<": "LT", ">": "GT", "+": "PLUS", "-": "MINUS", "*": "STAR", "/": "SLASH",
    "%": "PERCENT", ".": "DOT", ",": "COMMA", "[": "LB", "]": "RB", "(": "LP", ")": "RP", "|": "PIPE",
    "?": "OPTIONAL",
}

_SKIP = r"(?:[ \t\r\n]+|//[^\r\n]*|/\*(?:.|\n)*?\*/)*"
_SKIP_RE = re.compile(_SKIP)
# Whitespace and comments are swallowed as a prefix of the next token, so that the
# regular-expression engine, not a Python loop, skips them.
_MASTER = re.compile(_SKIP + r"""(?:
  (?P<RAW_STRING>"{3}[^\r\n]*?"{3}"{0,2})
| (?P<QUESTION_RAW_STRING>\?"(?:\\"|[^"\r\n])*"|\?'(?:\\'|[^'\r\n])*')
| (?P<STRING>"(?:\\.|[^"\\\r\n])*")
| (?P<SINGLE_QUOTED_STRING>'(?:\\.|[^'\\\r\n])*')
| (?P<IN_INSENSITIVE>in~)
| (?P<LIKE_INSENSITIVE>like~)
| (?P<REGEX_INSENSITIVE>regex~)
| (?P<TILDE_IDENTIFIER>[A-Za-z_@][A-Za-z0-9_]*~)
| (?P<DECIMAL_VALUE>[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)
| (?P<INTEGER_VALUE>[0-9]+)
| (?P<IDENTIFIER>[A-Za-z_@][A-Za-z0-9_]*)
| (?P<ESCAPED_IDENTIFIER>`(?:[^`]|``)*`)
| (?P<OPERATOR>==|!=|<=|>=|!\[|!:|[:=<>+\-*/%.,\[\]()|?])
| (?P<END>\Z)
)""", re.VERBOSE)


class Token(NamedTuple):
    """One token: its grammar terminal name, text, and position (1-based line and column)."""

    type: str
    value: str
    start: int
    end: int
    line: int
    col: int

    @property
    def span(self) -> Span:
        return Span(self.start, self.end, self.line, self.col)


def _unexpected_character(text: str, position: int, line: int, col: int) -> ParseError:
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
    return ParseError(message, Span(position, position + 1, line, col), text)


def tokenize(text: str, *, lazy_errors: bool = False) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``$END`` token.

    With ``lazy_errors``, a character that starts no token ends the list with an ``$ERROR``
    token instead of raising, so that a parser reports it only if it gets that far (as a
    lexer that runs on demand would).

    Raises:
        ParseError: a character that starts no token.

    >>> [t.type for t in tokenize('process where x in~ ("a")')]
    ['IDENTIFIER', 'WHERE', 'IDENTIFIER', 'IN_INSENSITIVE', 'LP', 'STRING', 'RP', '$END']
    """
    tokens: list[Token] = []
    append = tokens.append
    new = tuple.__new__
    keywords = KEYWORD_TYPES
    operators = OPERATOR_TYPES
    count = text.count
    line, line_start, position = 1, 0, 0
    for found in _MASTER.finditer(text):
        if found.start() != position:
            break
        kind = found.lastgroup
        start = found.start(kind)  # type: ignore[arg-type]
        if start != position and count("\n", position, start):
            line += count("\n", position, start)
            line_start = text.rfind("\n", position, start) + 1
        position = found.end()
        if kind == "END":
            append(new(Token, ("$END", "", start, start, line, start - line_start + 1)))
            return tokens
        value = text[start:position]
        if kind == "IDENTIFIER":
            kind = keywords.get(value, "IDENTIFIER")
        elif kind == "OPERATOR":
            kind = operators[value]
        append(new(Token, (kind, value, start, position, line, start - line_start + 1)))
    # Either no token starts at `position` or a gap was skipped: find the offending character.
    bad = _SKIP_RE.match(text, position).end()  # type: ignore[union-attr]
    line += count("\n", position, bad)
    if bad > position and "\n" in text[position:bad]:
        line_start = text.rfind("\n", position, bad) + 1
    if lazy_errors:
        append(new(Token, ("$ERROR", text[bad], bad, bad + 1, line, bad - line_start + 1)))
        return tokens
    raise _unexpected_character(text, bad, line, bad - line_start + 1)
