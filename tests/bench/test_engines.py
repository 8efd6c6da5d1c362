"""Engine references on the command line: registered names and module:function plug-ins."""

from __future__ import annotations

import pytest
from enginebench.engines import (
    DEFAULT_ENGINES,
    ENGINES,
    EngineRef,
    FunctionEngine,
    make_engine,
    parse_engines,
    uses_rules,
)


def test_default_engines_are_registered() -> None:
    assert set(DEFAULT_ENGINES) <= set(ENGINES)


def test_parse_engines_keeps_order_and_labels() -> None:
    assert parse_engines("eqlite,fast=pkg.mod:run_rules, pkg.other:go ,floor") == [
        EngineRef("eqlite", "eqlite"),
        EngineRef("fast", "pkg.mod:run_rules"),
        EngineRef("pkg.other:go", "pkg.other:go"),
        EngineRef("floor", "floor"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eqlite,nosuch", "unknown engine 'nosuch'"),
        ("x=pkg:", "write module:function"),
        ("eqlite,eqlite", "used twice"),
        (" , ", "no engine given"),
    ],
)
def test_parse_engines_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_engines(text)


def test_floors_do_not_use_rules() -> None:
    refs = parse_engines("eqlite,eqlite-fast,eql,floor,floor-2w,eqlite-read,eql-prep,f=pkg:run")
    assert [uses_rules(ref) for ref in refs] == [True, True, True, False, False, False, False, True]


def run_rules_stub(paths: object, rules: object) -> dict[str, object]:
    return {"r1": ["hit", "hit"], "r2": 3}


def test_function_engine_counts_hits() -> None:
    engine = make_engine(EngineRef("stub", f"{__name__}:run_rules_stub"))
    assert isinstance(engine, FunctionEngine)
    engine.setup([], ["unused"])
    outcome = engine.run(["unused"])
    assert (outcome.events, outcome.hits) == (None, {"r1": 2, "r2": 3})
