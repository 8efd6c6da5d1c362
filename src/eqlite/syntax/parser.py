"""Parse EQL text (Elasticsearch dialect) into the AST of :mod:`eqlite.syntax.ast`.

The language is defined by the Lark grammar ``eql.lark``. This module implements that
grammar as a hand-written recursive-descent parser over the tokens of
:mod:`eqlite.syntax.lexer`, because Lark's pure-Python LALR driver is about six times
slower on Elastic's rule corpus. :mod:`eqlite.syntax.reference` parses with Lark itself;
the test suite checks that both parsers give the same tree, or the same error at the same
place, for every query they are given.
"""

from __future__ import annotations

from typing import NoReturn

from eqlite.errors import ParseError, Span
from eqlite.syntax import ast, build
from eqlite.syntax.build import merge
from eqlite.syntax.lexer import Token, tokenize

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

_CONSTANT_START = frozenset({
    "NULL", "TRUE", "FALSE", "INTEGER_VALUE", "DECIMAL_VALUE", "STRING", "RAW_STRING",
    "SINGLE_QUOTED_STRING", "QUESTION_RAW_STRING",
})
_STRING_TYPES = frozenset({"STRING", "RAW_STRING", "SINGLE_QUOTED_STRING", "QUESTION_RAW_STRING"})
_EXPRESSION_START = _CONSTANT_START | {
    "NOT", "IDENTIFIER", "TILDE_IDENTIFIER", "ESCAPED_IDENTIFIER", "OPTIONAL", "LP", "MINUS", "PLUS",
}
_PRIMARY_START = _CONSTANT_START | {"IDENTIFIER", "TILDE_IDENTIFIER", "ESCAPED_IDENTIFIER", "OPTIONAL", "LP"}
_COMPARISON_TYPES = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "ASGN", "NOT_SEQ"})
_MATCH_TYPES = frozenset(build.MATCH_OPERATORS)
_IN_TYPES = frozenset({"IN", "IN_INSENSITIVE"})
_ADD_TYPES = frozenset({"PLUS", "MINUS"})
_MUL_TYPES = frozenset({"STAR", "SLASH", "PERCENT"})
_STATEMENT_END = ("PIPE", "$END")
_LIST_FOLLOW = frozenset({"COMMA", "RP"})


def describe_expected(expected: set[str] | frozenset[str]) -> str:
    """Turn terminal names into the list users read after 'expected'."""
    names = sorted({_TOKEN_NAMES.get(name, name) for name in expected})
    if len(names) > 8:
        names = [*names[:8], "..."]
    return ", ".join(names)


def unexpected_token_error(text: str, token_type: str, value: str, start: int, end: int, line: int, col: int,
                           expected: set[str] | frozenset[str]) -> ParseError:
    """The error for a token the grammar does not allow here, with a hint for the usual mistakes."""
    if token_type == "$END":
        stripped = len(text.rstrip())
        position = max(stripped - 1, 0)
        prefix = text[:position]
        span = Span(position, position + 1, prefix.count("\n") + 1, position - (prefix.rfind("\n") + 1) + 1)
        return ParseError(f"unexpected end of query; expected {describe_expected(expected)}", span, text)
    hint = ""
    if token_type == "LB" and "RB" not in expected and "BY" not in expected and "LB" not in expected:
        hint = "; array indexes such as field[0] are not supported"
    elif token_type == "ASGN":
        hint = "; '=' is not an EQL operator, use '==' or ':'"
    elif token_type == "IDENTIFIER" and value in ("AND", "OR", "NOT", "WHERE", "IN", "BY", "WITH"):
        hint = f"; keywords are lower case, write '{value.lower()}'"
    return ParseError(f"unexpected {value!r}; expected {describe_expected(expected)}{hint}",
                      Span(start, end, line, col), text)


class _Parser:
    """Recursive descent over the grammar's rules.

    Like Elasticsearch, which parses the whole query before it builds its tree, a syntax
    error anywhere wins over a construction error (``=``, single quotes, a bad ``maxspan``);
    construction errors are recorded in tree order and the first is raised at the end.
    """

    __slots__ = ("deferred", "position", "text", "tokens")

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.position = 0
        self.deferred: list[ParseError] = []

    def _defer(self, error: ParseError) -> None:
        self.deferred.append(error)

    def finish(self) -> None:
        if self.deferred:
            raise self.deferred[0]

    # ------------------------------------------------------------ token helpers

    def _peek_type(self) -> str:
        return self.tokens[self.position].type

    def _next(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _unexpected(self, expected: set[str] | frozenset[str]) -> NoReturn:
        token = self.tokens[self.position]
        if token.type == "$ERROR":
            tokenize(self.text)  # raises the lexical error, worded by the lexer
        raise unexpected_token_error(self.text, token.type, token.value, token.start, token.end, token.line,
                                     token.col, expected)

    def _expect(self, token_type: str) -> Token:
        token = self.tokens[self.position]
        if token.type != token_type:
            self._unexpected({token_type})
        self.position += 1
        return token

    # ------------------------------------------------------------ statements

    def statement(self) -> ast.Query:
        body = self.query()
        pipes: list[ast.Pipe] = []
        while self._peek_type() == "PIPE":
            pipes.append(self.pipe())
        if self._peek_type() != "$END":
            self._unexpected(self._after_query_expected(body))
        last_span = pipes[-1].span if pipes else body.span
        self.finish()
        return ast.Query(body, tuple(pipes), span=merge(body.span, last_span))

    @staticmethod
    def _after_query_expected(body: ast.QueryBody) -> set[str]:
        expected = {"PIPE", "$END"}
        if isinstance(body, ast.EventQuery):
            expected |= {"AND", "OR"}
        return expected

    def query(self) -> ast.QueryBody:
        kind = self._peek_type()
        if kind == "SEQUENCE":
            return self.sequence()
        if kind == "SAMPLE":
            return self.sample()
        if kind == "JOIN":
            return self.join()
        return self.event_filter()

    def pipe(self) -> ast.Pipe:
        bar = self._next()
        name = self._expect("IDENTIFIER")
        args: list[ast.Expr] = []
        last: Span = name.span
        if self._peek_type() in _EXPRESSION_START:
            args.append(self.expression())
            while self._peek_type() == "COMMA":
                self.position += 1
                args.append(self.expression())
            last = args[-1].span
        if self._peek_type() not in _STATEMENT_END:
            self._unexpected({"PIPE", "$END", "COMMA", "AND", "OR"})
        try:
            return build.pipe(name.value, name.span, args, merge(bar.span, last))
        except ParseError as error:
            self._defer(error)
            return ast.Pipe("head", 0, span=merge(bar.span, last))

    # ------------------------------------------------------------ event queries

    def event_filter(self) -> ast.EventQuery:
        token = self._next()
        kind = token.type
        if kind == "ANY":
            category: str | None = None
        elif kind == "IDENTIFIER":
            category = token.value
        elif kind in _STRING_TYPES:
            literal = self._string(token)
            assert isinstance(literal.value, str)
            category = literal.value
        else:
            self.position -= 1
            expected = {"ANY", "IDENTIFIER", "STRING", "RAW_STRING", "SINGLE_QUOTED_STRING",
                        "QUESTION_RAW_STRING"}
            if self.position == 0:
                expected |= {"SEQUENCE", "SAMPLE", "JOIN"}
            self._unexpected(expected)
        self._expect("WHERE")
        condition = self.expression()
        return ast.EventQuery(category, condition, span=merge(token.span, condition.span))

    # ------------------------------------------------------------ sequences, samples, joins

    def sequence(self) -> ast.Sequence:
        keyword = self._next()
        keys: tuple[ast.Expr, ...] = ()
        maxspan: ast.TimeSpan | None = None
        kind = self._peek_type()
        if kind == "BY":
            keys = self.join_keys()
            if self._peek_type() == "WITH":
                maxspan = self.sequence_params()
        elif kind == "WITH":
            maxspan = self.sequence_params()
            if self._peek_type() == "BY":
                keys_after = self.join_keys()
                try:
                    build.keys_before_maxspan(keys_after)
                except ParseError as error:
                    self._defer(error)
        stages: list[ast.SequenceStage] = []
        while self._peek_type() in ("LB", "MISSING_EVENT_OPEN"):
            stages.append(self.sequence_term())
        if not stages:
            expected = {"LB", "MISSING_EVENT_OPEN"}
            if kind not in ("BY", "WITH"):
                expected |= {"BY", "WITH"}
            elif kind == "BY" and maxspan is None:
                expected |= {"WITH", "COMMA"}
            self._unexpected(expected)
        until: ast.SequenceStage | None = None
        if self._peek_type() == "UNTIL":
            self.position += 1
            if self._peek_type() not in ("LB", "MISSING_EVENT_OPEN"):
                self._unexpected({"LB", "MISSING_EVENT_OPEN"})
            until = self.sequence_term()
        last = until if until is not None else stages[-1]
        span = merge(keyword.span, last.span)
        try:
            return build.sequence(span, keys, maxspan, tuple(stages), until)
        except ParseError as error:
            self._defer(error)
            return ast.Sequence(keys, maxspan, tuple(stages), until, span=span)

    def sequence_params(self) -> ast.TimeSpan:
        self._expect("WITH")
        self._expect("MAXSPAN")
        self._expect("ASGN")
        number = self.number()
        unit = self._next() if self._peek_type() == "IDENTIFIER" else None
        try:
            return build.time_span(number, unit.value if unit else None, unit.span if unit else None)
        except ParseError as error:
            self._defer(error)
            return ast.TimeSpan(1, "s", span=number.span)

    def number(self) -> ast.Literal:
        token = self._next()
        if token.type == "INTEGER_VALUE":
            return build.integer_literal(token.value, token.span)
        if token.type == "DECIMAL_VALUE":
            return build.decimal_literal(token.value, token.span)
        self.position -= 1
        self._unexpected({"INTEGER_VALUE", "DECIMAL_VALUE"})

    def subquery(self) -> tuple[ast.EventQuery, bool, Token]:
        opening = self._next()
        query = self.event_filter()
        if self._peek_type() != "RB":
            self._unexpected({"RB", "AND", "OR"})
        self.position += 1
        return query, opening.type == "MISSING_EVENT_OPEN", opening

    def sequence_term(self) -> ast.SequenceStage:
        query, missing, opening = self.subquery()
        keys: tuple[ast.Expr, ...] = ()
        last: Span = query.span
        runs = 1
        if self._peek_type() == "BY":
            keys = self.join_keys()
            last = keys[-1].span
        if self._peek_type() == "WITH":
            self.position += 1
            key = self._expect("IDENTIFIER")
            self._expect("ASGN")
            value = self.number()
            try:
                runs = build.runs(key.value, key.span, value)
            except ParseError as error:
                self._defer(error)
            last = value.span
        return ast.SequenceStage(query, keys, missing, runs, span=merge(opening.span, last))

    def sample(self) -> ast.Sample:
        keyword = self._next()
        keys: tuple[ast.Expr, ...] = ()
        if self._peek_type() == "BY":
            keys = self.join_keys()
        stages: list[ast.SampleStage] = []
        while self._peek_type() in ("LB", "MISSING_EVENT_OPEN"):
            stages.append(self.join_term())
        if not stages:
            self._unexpected({"LB", "MISSING_EVENT_OPEN"} | (set() if keys else {"BY"}))
        span = merge(keyword.span, stages[-1].span)
        try:
            return build.sample(span, keys, tuple(stages))
        except ParseError as error:
            self._defer(error)
            return ast.Sample(keys, tuple(stages), span=span)

    def join_term(self) -> ast.SampleStage:
        query, missing, opening = self.subquery()
        keys = self.join_keys() if self._peek_type() == "BY" else ()
        try:
            return build.sample_stage(query, missing, opening.span, keys)
        except ParseError as error:
            self._defer(error)
            return ast.SampleStage(query, keys, span=opening.span)

    def join(self) -> ast.QueryBody:
        keyword = self._next()
        keys = self.join_keys() if self._peek_type() == "BY" else ()
        stages: list[ast.SampleStage] = []
        while self._peek_type() in ("LB", "MISSING_EVENT_OPEN"):
            stages.append(self.join_term())
        if not stages:
            self._unexpected({"LB", "MISSING_EVENT_OPEN"} | (set() if keys else {"BY"}))
        if self._peek_type() == "UNTIL":
            self.position += 1
            if self._peek_type() not in ("LB", "MISSING_EVENT_OPEN"):
                self._unexpected({"LB", "MISSING_EVENT_OPEN"})
            stages.append(self.join_term())
        if self._peek_type() not in _STATEMENT_END:
            self._unexpected({"LB", "MISSING_EVENT_OPEN", "UNTIL", "PIPE", "$END"})
        try:
            build.join(keyword.span)
        except ParseError as error:
            self._defer(error)
        return ast.Sample(keys, tuple(stages), span=keyword.span)

    def join_keys(self) -> tuple[ast.Expr, ...]:
        self._expect("BY")
        keys = [self.expression()]
        while self._peek_type() == "COMMA":
            self.position += 1
            keys.append(self.expression())
        return tuple(keys)

    # ------------------------------------------------------------ expressions

    def expression(self) -> ast.Expr:
        # Fast path for list elements and arguments: a lone constant before ',' or ')'
        # parses to the constant itself, so skip the descent through every precedence level.
        tokens, position = self.tokens, self.position
        if tokens[position].type in _CONSTANT_START and tokens[position + 1].type in _LIST_FOLLOW:
            return self.constant()
        node = self.and_expr()
        while self._peek_type() == "OR":
            self.position += 1
            node = build.or_(node, self.and_expr())
        return node

    def and_expr(self) -> ast.Expr:
        node = self.not_expr()
        while self._peek_type() == "AND":
            self.position += 1
            node = build.and_(node, self.not_expr())
        return node

    def not_expr(self) -> ast.Expr:
        token = self.tokens[self.position]
        if token.type == "NOT":
            self.position += 1
            operand = self.not_expr()
            return ast.Not(operand, span=merge(token.span, operand.span))
        if token.type == "IDENTIFIER" and self.tokens[self.position + 1].type == "OF":
            self.position += 2
            if self._peek_type() not in ("LB", "MISSING_EVENT_OPEN"):
                self._unexpected({"LB", "MISSING_EVENT_OPEN"})
            query, _, _ = self.subquery()
            try:
                build.relationship(token.value, merge(token.span, query.span))
            except ParseError as error:
                self._defer(error)
            return ast.Literal(True, "boolean", span=token.span)
        left = self.op_expr()
        op = self.tokens[self.position]
        if op.type in _COMPARISON_TYPES:
            self.position += 1
            right = self.op_expr()
            try:
                return build.comparison(left, op.value, op.span, right)
            except ParseError as error:
                self._defer(error)
                return ast.Comparison("==", left, right, span=merge(left.span, right.span))
        return left

    def op_expr(self) -> ast.Expr:
        node = self.mul_expr()
        while self._peek_type() in _ADD_TYPES:
            op = self._next()
            right = self.mul_expr()
            node = ast.Arithmetic(op.value, node, right, span=merge(node.span, right.span))  # type: ignore[arg-type]
        return node

    def mul_expr(self) -> ast.Expr:
        node = self.unary_expr()
        while self._peek_type() in _MUL_TYPES:
            op = self._next()
            right = self.unary_expr()
            node = ast.Arithmetic(op.value, node, right, span=merge(node.span, right.span))  # type: ignore[arg-type]
        return node

    def unary_expr(self) -> ast.Expr:
        token = self.tokens[self.position]
        if token.type == "MINUS":
            self.position += 1
            operand = self.unary_expr()
            return build.negate(operand, merge(token.span, operand.span))
        if token.type == "PLUS":
            self.position += 1
            return self.unary_expr()
        primary = self.primary_expr()
        kind = self._peek_type()
        if kind in _IN_TYPES or kind == "NOT":
            return self.in_predicate(primary)
        if kind in _MATCH_TYPES:
            return self.match_predicate(primary)
        return primary

    def in_predicate(self, operand: ast.Expr) -> ast.InList:
        negated = self._peek_type() == "NOT"
        if negated:
            self.position += 1
            if self._peek_type() not in _IN_TYPES:
                self._unexpected(_IN_TYPES)
        keyword = self._next()
        self._expect("LP")
        values = [self.expression()]
        while self._peek_type() == "COMMA":
            self.position += 1
            values.append(self.expression())
        closing = self._expect_list_end()
        return ast.InList(operand, tuple(values), keyword.type == "IN_INSENSITIVE", negated,
                          span=merge(operand.span, closing.span))

    def _expect_list_end(self) -> Token:
        if self._peek_type() != "RP":
            self._unexpected({"RP", "COMMA"})
        return self._next()

    def match_predicate(self, operand: ast.Expr) -> ast.Match:
        op_token = self._next()
        op, insensitive = build.MATCH_OPERATORS[op_token.type]
        if self._peek_type() == "LP":
            self.position += 1
            patterns = [self.constant()]
            while self._peek_type() == "COMMA":
                self.position += 1
                patterns.append(self.constant())
            last = self._expect_list_end().span
        else:
            patterns = [self.constant()]
            last = patterns[0].span
        return ast.Match(op, operand, tuple(patterns), insensitive,  # type: ignore[arg-type]
                         span=merge(operand.span, last))

    def primary_expr(self) -> ast.Expr:
        token = self.tokens[self.position]
        kind = token.type
        if kind in _CONSTANT_START:
            return self.constant()
        if kind == "TILDE_IDENTIFIER" or (kind == "IDENTIFIER" and self.tokens[self.position + 1].type == "LP"):
            return self.function_call()
        if kind in ("IDENTIFIER", "ESCAPED_IDENTIFIER", "OPTIONAL"):
            return self.field()
        if kind == "LP":
            self.position += 1
            inner = self.expression()
            if self._peek_type() != "RP":
                self._unexpected({"RP", "AND", "OR"})
            self.position += 1
            return inner
        self._unexpected(_EXPRESSION_START)

    def function_call(self) -> ast.FunctionCall:
        name = self._next()
        self._expect("LP")
        args: list[ast.Expr] = []
        if self._peek_type() != "RP":
            args.append(self.expression())
            while self._peek_type() == "COMMA":
                self.position += 1
                args.append(self.expression())
        closing = self._expect_list_end() if args else self._expect("RP")
        insensitive = name.value.endswith("~")
        return ast.FunctionCall(name.value.rstrip("~"), tuple(args), insensitive,
                                span=merge(name.span, closing.span))

    def field(self) -> ast.Field:
        first = self.tokens[self.position]
        optional = first.type == "OPTIONAL"
        if optional:
            self.position += 1
        path = [self.identifier()]
        last = self.tokens[self.position - 1]
        while self._peek_type() == "DOT":
            self.position += 1
            path.append(self.identifier())
            last = self.tokens[self.position - 1]
        return ast.Field(tuple(path), optional, span=merge(first.span, last.span))

    def identifier(self) -> str:
        token = self._next()
        if token.type == "IDENTIFIER":
            return token.value
        if token.type == "ESCAPED_IDENTIFIER":
            try:
                return build.escaped_identifier(token.value, token.span)
            except ParseError as error:
                self._defer(error)
                return "_"
        self.position -= 1
        self._unexpected({"IDENTIFIER", "ESCAPED_IDENTIFIER"})

    def _string(self, token: Token) -> ast.Literal:
        if token.type == "STRING" and "\\" not in token.value:
            return ast.Literal(token.value[1:-1], "string", span=token.span)
        try:
            return build.string_literal(token.type, token.value, token.span)
        except ParseError as error:
            self._defer(error)
            return ast.Literal("", "string", span=token.span)

    def constant(self) -> ast.Literal:
        token = self._next()
        kind = token.type
        if kind in _STRING_TYPES:
            return self._string(token)
        if kind == "INTEGER_VALUE":
            return build.integer_literal(token.value, token.span)
        if kind == "DECIMAL_VALUE":
            return build.decimal_literal(token.value, token.span)
        if kind == "NULL":
            return ast.Literal(None, "null", span=token.span)
        if kind == "TRUE":
            return ast.Literal(True, "boolean", span=token.span)
        if kind == "FALSE":
            return ast.Literal(False, "boolean", span=token.span)
        self.position -= 1
        self._unexpected(_CONSTANT_START)


def parse(text: str) -> ast.Query:
    """Parse one EQL statement.

    Raises:
        ParseError: the text is not EQL as Elasticsearch accepts it; the error has the
            ``line:col`` of the problem and draws a caret under it.

    >>> parse('process where process.name == "cmd.exe"').body.category
    'process'
    """
    try:
        return _Parser(text, tokenize(text, lazy_errors=True)).statement()
    except ParseError as error:
        raise error.with_query(text) from None


def parse_expression(text: str) -> ast.Expr:
    """Parse a lone expression, e.g. ``length("abc") == 3``.

    >>> parse_expression('1 + 2').op
    '+'
    """
    try:
        parser = _Parser(text, tokenize(text, lazy_errors=True))
        node = parser.expression()
        if parser._peek_type() != "$END":
            parser._unexpected({"$END", "AND", "OR"})
        parser.finish()
        return node
    except ParseError as error:
        raise error.with_query(text) from None
