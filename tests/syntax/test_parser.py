"""Fixture-driven parser tests: valid queries round-trip, invalid ones fail at the right place."""

from __future__ import annotations

from pathlib import Path

import pytest

from eqlite.errors import AnalysisError, ParseError, QueryError
from eqlite.semantic.analyzer import analyze
from eqlite.syntax import ast
from eqlite.syntax.parser import parse
from eqlite.syntax.printer import to_eql
from eqlite.syntax.reference import parse_reference
from tests.conftest import FIXTURES


def _lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.replace("\\n", "\n") for line in lines if line.strip() and not line.startswith("#")]


VALID = _lines(FIXTURES / "syntax" / "valid.eql")
INVALID = [
    (head.split()[0], head.split()[1], query)
    for head, _, query in (line.partition(" | ") for line in _lines(FIXTURES / "syntax" / "invalid.eql"))
]
ERROR_CLASSES: dict[str, type[QueryError]] = {"ParseError": ParseError, "AnalysisError": AnalysisError}


@pytest.mark.parametrize("query", VALID)
def test_valid_query_round_trips(query: str) -> None:
    tree = parse(query)
    assert parse(to_eql(tree)) == tree


@pytest.mark.parametrize("query", VALID)
def test_valid_query_agrees_with_reference_parser(query: str) -> None:
    assert parse(query) == parse_reference(query)


@pytest.mark.parametrize(("error_class", "position", "query"), INVALID)
def test_invalid_query_is_rejected_at_position(error_class: str, position: str, query: str) -> None:
    with pytest.raises(ERROR_CLASSES[error_class]) as raised:
        analyze(parse(query))
    assert type(raised.value) is ERROR_CLASSES[error_class]
    assert str(raised.value.span) == position, raised.value.describe()


@pytest.mark.parametrize(("error_class", "position", "query"), [i for i in INVALID if i[0] == "ParseError"])
def test_reference_parser_rejects_at_same_position(error_class: str, position: str, query: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_reference(query)
    assert str(raised.value.span) == position, raised.value.describe()


def test_fixture_counts() -> None:
    assert len(VALID) + len(INVALID) >= 150


def test_error_draws_caret_under_offending_text() -> None:
    with pytest.raises(ParseError) as raised:
        parse("process where x = 1")
    assert raised.value.describe() == (
        "ParseError at 1:17: '=' is not an EQL operator; use '==' (case-sensitive) or ':' (case-insensitive)\n"
        "process where x = 1\n"
        "                ^"
    )


def test_single_quote_error_says_how_to_fix() -> None:
    with pytest.raises(ParseError, match="use double quotes"):
        parse("process where x == 'a'")


def test_unexpected_token_lists_what_was_expected() -> None:
    with pytest.raises(ParseError, match="expected 'where'"):
        parse("process true")


def test_seed_rule_query_shape() -> None:
    query = parse(
        'sequence by host.id with maxspan=1m\n'
        ' [network where event.type == "start" and process.name : "mmc.exe"] by process.entity_id\n'
        ' [process where event.type in ("start", "process_started")] by process.parent.entity_id'
    )
    body = query.body
    assert isinstance(body, ast.Sequence)
    assert body.keys == (ast.Field(("host", "id")),)
    assert body.maxspan is not None and body.maxspan.millis == 60_000
    assert [stage.query.category for stage in body.stages] == ["network", "process"]
    assert body.stages[1].keys == (ast.Field(("process", "parent", "entity_id")),)


def test_spans_point_into_the_text() -> None:
    text = 'process where process.name : "cmd.exe"'
    condition = parse(text).body.condition  # type: ignore[union-attr]
    assert text[condition.span.start:condition.span.end] == 'process.name : "cmd.exe"'


def test_runs_expands_stages() -> None:
    body = parse("sequence [a where true] with runs=3 [b where true]").body
    assert isinstance(body, ast.Sequence)
    assert [s.query.category for s in body.expanded_stages()] == ["a", "a", "a", "b"]


def test_negative_number_is_folded_into_literal() -> None:
    condition = parse("any where x == -5").body.condition  # type: ignore[union-attr]
    assert condition == ast.Comparison("==", ast.Field(("x",)), ast.Literal(-5, "long"))


def test_large_integer_becomes_double() -> None:
    condition = parse("any where x == 99999999999999999999").body.condition  # type: ignore[union-attr]
    assert condition.right == ast.Literal(1e20, "double")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"a\\tb"', "a\tb"),
        ('"\\u{41}"', "A"),
        ('"C:\\\\x"', "C:\\x"),
        ('"""C:\\x"""', "C:\\x"),
        ('""""quoted""""', '"quoted"'),
        ('"it\\"s"', 'it"s'),
    ],
)
def test_string_values(text: str, value: str) -> None:
    condition = parse(f"any where x == {text}").body.condition  # type: ignore[union-attr]
    assert condition.right == ast.Literal(value, "string")  # type: ignore[union-attr]
