"""Elasticsearch's unit specifications: string-function folding and the sequence matcher series."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

import pytest

from eqlite.errors import QueryError
from eqlite.runtime.access import FieldReaders
from eqlite.runtime.compile import Compiler
from eqlite.runtime.events import Event
from eqlite.runtime.sequence import SequenceMatcher, StageRuntime
from eqlite.semantic.analyzer import analyze
from eqlite.syntax import ast
from eqlite.syntax.parser import parse, parse_expression
from tests.conformance.exclusions import EXCLUDED
from tests.conftest import SHARED

UNIT = SHARED / "eql-conformance" / "elasticsearch" / "unit"
FUNCTIONS_FILE = "unit/test_string_functions.toml"


def _function_cases() -> list[Any]:
    path = UNIT / "test_string_functions.toml"
    if not path.exists():
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason=f"{path} not found; set EQLITE_SHARED"))]
    cases = []
    for section, content in tomllib.loads(path.read_text(encoding="utf-8")).items():
        tests = content.get("fold", {}).get("tests", []) + content.get("tests", [])
        for number, test in enumerate(tests, start=1):
            name = f"{section.split('_')[0]}#{number}" if section == "between" else f"{section}#{number}"
            cases.append(pytest.param(name, test["expression"], test.get("expected"), id=name))
    return cases


def _fold(expression: str) -> Any:
    node = parse_expression(expression)
    analyze(ast.Query(ast.EventQuery(None, ast.Comparison("==", node, node))))  # types and arity
    return Compiler(FieldReaders(None)).constant(node)


@pytest.mark.parametrize(("name", "expression", "expected"), _function_cases())
def test_string_function(name: str, expression: str, expected: Any, outcome_recorder: Any) -> None:
    reason = EXCLUDED.get((FUNCTIONS_FILE, "fold", name))
    if reason is not None:
        outcome_recorder(FUNCTIONS_FILE, "excluded")
        pytest.skip(f"excluded: {reason}")
    try:
        assert _fold(expression) == expected
    except BaseException:
        outcome_recorder(FUNCTIONS_FILE, "failed")
        raise
    outcome_recorder(FUNCTIONS_FILE, "passed")


@pytest.mark.parametrize("expression", ["startsWith()", 'startsWith(1, "FOO")', 'startsWith("FOO", 123)'])
def test_string_function_verifier_failures(expression: str) -> None:
    with pytest.raises(QueryError):
        analyze(parse(f"any where {expression}"))


@dataclass
class SeriesSpec:
    name: str
    stages: list[list[tuple[str | None, str, int]]]
    expected: list[list[str]]


_EVENT = re.compile(r"(?:(\w+)\|)?([A-Z])(\d+)")


def _series_specs() -> list[SeriesSpec]:
    lines = [line.rstrip() for line in (UNIT / "sequences.series-spec").read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if not line.lstrip().startswith("//")]
    specs: list[SeriesSpec] = []
    index = 0
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        name = lines[index].strip()
        index += 1
        stages = []
        while lines[index].strip() != ";":
            if lines[index].strip():
                stages.append([(m.group(1), m.group(2), int(m.group(3))) for m in _EVENT.finditer(lines[index])])
            index += 1
        index += 1
        expected = []
        while lines[index].strip() != ";":
            if lines[index].strip():
                expected.append(lines[index].split())
            index += 1
        index += 1
        specs.append(SeriesSpec(name, stages, expected))
    return specs


def _series_cases() -> list[Any]:
    path = UNIT / "sequences.series-spec"
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{path} not found; set EQLITE_SHARED"))]
    return [pytest.param(spec, id=spec.name) for spec in _series_specs()]


@pytest.mark.parametrize("spec", _series_cases())
def test_sequence_series(spec: SeriesSpec, outcome_recorder: Any) -> None:
    """Each line is a stage; ``k|A3`` is event A3 at time 3 with key k; results list sequences."""
    events: dict[int, Event] = {}
    membership: dict[int, set[int]] = {}
    keys: dict[int, str | None] = {}
    for stage_index, stage in enumerate(spec.stages):
        for key, letter, time in stage:
            events.setdefault(time, Event({"name": f"{letter}{time}"}, None, None, time, time, (time, 0, 0, time)))
            membership.setdefault(time, set()).add(stage_index)
            keys[time] = key
    stages = [
        StageRuntime(lambda event, i=i: i in membership[event.position], lambda event: [(keys[event.position],)])
        for i in range(len(spec.stages))
    ]
    matcher = SequenceMatcher(stages, None, None)
    for time in sorted(events):
        matcher.feed(events[time])
    got = [[e.source["name"] for e in match.events if e is not None] for match in matcher.results()]
    expected = [[name.split("|")[-1] for name in sequence] for sequence in spec.expected]
    try:
        assert got == expected
    except BaseException:
        outcome_recorder("unit/sequences.series-spec", "failed")
        raise
    outcome_recorder("unit/sequences.series-spec", "passed")
