"""Render an AST as canonical EQL text.

The printer adds only the parentheses that precedence requires, writes strings with the
escapes Elasticsearch accepts, and back-quotes field names that need it, so that
``parse(to_eql(q)) == q`` for every query.
"""

from __future__ import annotations

from eqlite.syntax import ast
from eqlite.syntax.build import is_plain_identifier

# Binding strength, loosest first; mirrors the grammar's layering.
_OR, _AND, _NOT, _COMPARISON, _ADD, _MUL, _UNARY, _PRIMARY = range(1, 9)

_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def quote_string(value: str) -> str:
    """Write ``value`` as a double-quoted EQL string.

    >>> print(quote_string('C:\\\\Windows\\\\"x"'))
    "C:\\\\Windows\\\\\\"x\\""
    """
    out = []
    for char in value:
        escaped = _STRING_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{{{ord(char):02x}}}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def field_name(node: ast.Field) -> str:
    """Write a field reference, back-quoting the parts that are not plain names.

    >>> field_name(ast.Field(("process", "my-field"), optional=True))
    '?process.`my-field`'
    """
    parts = (part if is_plain_identifier(part) else "`" + part.replace("`", "``") + "`" for part in node.path)
    return ("?" if node.optional else "") + ".".join(parts)


def _literal(node: ast.Literal) -> str:
    if node.kind == "null":
        return "null"
    if node.kind == "boolean":
        return "true" if node.value else "false"
    if node.kind == "string":
        assert isinstance(node.value, str)
        return quote_string(node.value)
    if node.kind == "double":
        text = repr(float(node.value))  # type: ignore[arg-type]
        return text if any(c in text for c in ".e") else text + ".0"
    return str(node.value)


def _precedence(node: ast.Expr) -> int:
    if isinstance(node, ast.Or):
        return _OR
    if isinstance(node, ast.And):
        return _AND
    if isinstance(node, ast.Not):
        return _NOT
    if isinstance(node, ast.Comparison):
        return _COMPARISON
    if isinstance(node, ast.Arithmetic):
        return _ADD if node.op in ("+", "-") else _MUL
    if isinstance(node, (ast.Negate, ast.InList, ast.Match)):
        return _UNARY
    if isinstance(node, ast.Literal) and node.kind in ("long", "double") and _literal(node).startswith("-"):
        return _UNARY  # printed with a minus sign, as -0.0 is too
    return _PRIMARY


def _wrap(node: ast.Expr, minimum: int) -> str:
    text = to_eql_expr(node)
    return f"({text})" if _precedence(node) < minimum else text


def _join(values: tuple[ast.Expr, ...]) -> str:
    return ", ".join(to_eql_expr(v) for v in values)


def _in_list(node: ast.InList) -> str:
    keyword = ("not in" if node.negated else "in") + ("~" if node.insensitive else "")
    return f"{_wrap(node.operand, _PRIMARY)} {keyword} ({_join(node.values)})"


def _match(node: ast.Match) -> str:
    op = node.op + ("~" if node.insensitive else "")
    patterns = _join(node.patterns)
    rhs = patterns if len(node.patterns) == 1 else f"({patterns})"
    return f"{_wrap(node.operand, _PRIMARY)} {op} {rhs}"


def _arithmetic(node: ast.Arithmetic) -> str:
    level = _precedence(node)
    return f"{_wrap(node.left, level)} {node.op} {_wrap(node.right, level + 1)}"


def to_eql_expr(node: ast.Expr) -> str:
    """Render one expression.

    >>> from eqlite.syntax.parser import parse
    >>> to_eql_expr(parse('any where (a + 1) * 2 > 3 and not b : "x"').body.condition)
    '(a + 1) * 2 > 3 and not b : "x"'
    """
    if isinstance(node, ast.Literal):
        return _literal(node)
    if isinstance(node, ast.Field):
        return field_name(node)
    if isinstance(node, ast.Or):
        return " or ".join(_wrap(term, _AND) for term in node.terms)
    if isinstance(node, ast.And):
        return " and ".join(_wrap(term, _NOT) for term in node.terms)
    if isinstance(node, ast.Not):
        return f"not {_wrap(node.operand, _NOT)}"
    if isinstance(node, ast.Comparison):
        return f"{_wrap(node.left, _ADD)} {node.op} {_wrap(node.right, _ADD)}"
    if isinstance(node, ast.InList):
        return _in_list(node)
    if isinstance(node, ast.Match):
        return _match(node)
    if isinstance(node, ast.Arithmetic):
        return _arithmetic(node)
    if isinstance(node, ast.Negate):
        return f"-{_wrap(node.operand, _UNARY)}"
    if isinstance(node, ast.FunctionCall):
        return f"{node.name}{'~' if node.insensitive else ''}({_join(node.args)})"
    raise TypeError(f"cannot print {type(node).__name__}")


def _category(name: str | None) -> str:
    if name is None:
        return "any"
    return name if is_plain_identifier(name) else quote_string(name)


def _event_query(node: ast.EventQuery) -> str:
    return f"{_category(node.category)} where {to_eql_expr(node.condition)}"


def _keys(keys: tuple[ast.Expr, ...]) -> str:
    return f" by {_join(keys)}" if keys else ""


def _stage(stage: ast.SequenceStage) -> str:
    opening = "![" if stage.missing else "["
    runs = f" with runs={stage.runs}" if stage.runs != 1 else ""
    return f"{opening}{_event_query(stage.query)}]{_keys(stage.keys)}{runs}"


def to_eql(node: ast.Query | ast.QueryBody) -> str:
    """Render a whole query as canonical EQL; sequences and samples put one stage per line.

    >>> from eqlite.syntax.parser import parse
    >>> print(to_eql(parse('sequence by host.id with maxspan=1m [process where true] [file where true] | tail 3')))
    sequence by host.id with maxspan=1m
      [process where true]
      [file where true]
    | tail 3
    """
    if isinstance(node, ast.Query):
        text = to_eql(node.body)
        separator = "\n" if "\n" in text else " "
        return text + "".join(f"{separator}| {pipe.name} {pipe.count}" for pipe in node.pipes)
    if isinstance(node, ast.EventQuery):
        return _event_query(node)
    if isinstance(node, ast.Sequence):
        header = "sequence" + _keys(node.keys)
        if node.maxspan is not None:
            header += f" with maxspan={node.maxspan.value}{node.maxspan.unit}"
        lines = [header, *(f"  {_stage(stage)}" for stage in node.stages)]
        if node.until is not None:
            lines.append(f"until {_stage(node.until)}")
        return "\n".join(lines)
    if isinstance(node, ast.Sample):
        lines = ["sample" + _keys(node.keys)]
        lines += [f"  [{_event_query(stage.query)}]{_keys(stage.keys)}" for stage in node.stages]
        return "\n".join(lines)
    raise TypeError(f"cannot print {type(node).__name__}")
