"""Error classes, source spans and the one caret renderer.

Every error that points into a query carries a :class:`Span`, so that the user sees
``line:col`` and a caret under the offending text. Errors about files (rules, event
files) carry a path and, where known, a line.
"""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A half-open character range ``[start, end)`` in a query, with 1-based line and column.

    A named tuple rather than a dataclass: the parser makes one per node, and tuples are
    several times cheaper to build.

    >>> Span(0, 3, 1, 1).end_col
    4
    """

    start: int
    end: int
    line: int
    col: int

    @property
    def end_col(self) -> int:
        return self.col + (self.end - self.start)

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


NO_SPAN = Span(0, 0, 1, 1)


def span_at(text: str, start: int, end: int | None = None) -> Span:
    """Build the span of ``text[start:end]``, computing its line and column.

    >>> span_at("a\\nbc", 3)
    Span(start=3, end=4, line=2, col=2)
    """
    end = start + 1 if end is None else end
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(start, max(end, start), line, col)


def render_caret(text: str, span: Span) -> str:
    """Return the source line of ``span`` with carets under the spanned text.

    >>> print(render_caret("process where x = 1", Span(16, 17, 1, 17)))
    process where x = 1
                    ^
    """
    lines = text.split("\n")
    if not lines or span.line > len(lines):
        return ""
    source_line = lines[span.line - 1].replace("\t", " ")
    width = max(1, min(span.end - span.start, len(source_line) - span.col + 1))
    return f"{source_line}\n{' ' * (span.col - 1)}{'^' * width}"


class EqliteError(Exception):
    """Base class of every error eqlite raises on purpose."""

    kind = "error"


class QueryError(EqliteError):
    """An error located in a query's text.

    Attributes:
        message: what is wrong, and where it helps, how to fix it.
        span: where in the query.
        query: the query's text, used to draw the caret.
    """

    kind = "query_error"

    def __init__(self, message: str, span: Span = NO_SPAN, query: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.query = query

    def with_query(self, query: str) -> QueryError:
        if not self.query:
            self.query = query
        return self

    def describe(self, *, caret: bool = True) -> str:
        """The error as a user sees it: class, ``line:col``, message and a caret.

        >>> print(ParseError("unexpected '='", Span(16, 17, 1, 17), "process where x = 1").describe())
        ParseError at 1:17: unexpected '='
        process where x = 1
                        ^
        """
        head = f"{type(self).__name__} at {self.span}: {self.message}"
        if caret and self.query:
            return f"{head}\n{render_caret(self.query, self.span)}"
        return head

    def __str__(self) -> str:
        return f"{self.span}: {self.message}"


class ParseError(QueryError):
    """The query's text does not follow the EQL grammar (Elasticsearch dialect)."""

    kind = "parse_error"


class AnalysisError(QueryError):
    """The query parses but Elasticsearch would reject it: types, arity, unsupported features."""

    kind = "analysis_error"


class UnsupportedError(AnalysisError):
    """A construct that Elasticsearch EQL does not support (joins, most pipes, ...)."""

    kind = "unsupported"


class SourceError(EqliteError):
    """A problem with an input file or record: names the file and, where known, the line or record."""

    kind = "source_error"

    def __init__(self, message: str, path: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class RuleError(EqliteError):
    """A rule file that cannot be loaded; names the file and, where known, the position."""

    kind = "rule_error"

    def __init__(self, message: str, path: str = "", line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.col = col

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.message}" if where else self.message


class ExecutionError(EqliteError):
    """A failure while evaluating a query over events (e.g. division by zero, overflow)."""

    kind = "execution_error"
