"""Generated predicates (the fast path's) against the closure compiler's (the reference engine's)."""

from __future__ import annotations

import random
from typing import Any

from eqlite.plan import ir
from eqlite.plan.translate import translate
from eqlite.runtime.access import CachingReaders, EventView, FieldReaders
from eqlite.runtime.codegen import SourceCompiler, by_cost
from eqlite.runtime.compile import Compiler
from eqlite.semantic.schema import Schema
from eqlite.syntax.parser import parse

CONDITIONS = [
    'process.name : "cmd.exe"', 'process.name == "CMD.exe"', 'process.name : ("a*", "*b", "c?d", "e", "f*g")',
    'user.id : ("S-1-5-21-*", "S-1-12-1-*")', "process.pid > 5", "process.pid <= 2", 'process.args : "*x*"',
    "process.executable != null", 'host.os.type == "windows"', 'startsWith(process.name, "c")',
    'process.executable regex~ """[a-c]:\\\\.*"""', 'process.parent.name in ("a", "b")',
    'cidrMatch(source.ip, "10.0.0.0/8")', "process.args_count >= 2",
]
NAMES = ["cmd.exe", "CMD.EXE", "ab", "cxd", "e", "fzg", "x", None]
IDS = ["S-1-5-21-1", "S-1-12-1-9", "S-1-5-18", None]


def _expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(CONDITIONS)
    if rng.random() < 0.2:
        return f"not ({_expression(rng, depth - 1)})"
    joiner = rng.choice([" and ", " or "])
    return "(" + joiner.join(_expression(rng, depth - 1) for _ in range(rng.randint(2, 4))) + ")"


def _document(rng: random.Random) -> dict[str, Any]:
    process: dict[str, Any] = {}
    for key, pool in (("name", NAMES), ("executable", ["c:\\x", "C:\\y", "z", None]),
                      ("pid", [1, 2, 7, "9", None]), ("args", [["a", "xx"], "y", [], None]),
                      ("args_count", [1, 3, None])):
        value = rng.choice(pool)
        if value is not None:
            process[key] = value
    if rng.random() < 0.5:
        process["parent"] = {"name": rng.choice(["a", "b", "c"])}
    document: dict[str, Any] = {"process": process}
    if (user := rng.choice(IDS)) is not None:
        document["user"] = {"id": user}
    if rng.random() < 0.7:
        document["host"] = {"os": {"type": rng.choice(["windows", "linux"])}}
    if rng.random() < 0.5:
        document["source"] = {"ip": rng.choice(["10.1.2.3", "192.168.0.1"])}
    return document


def test_generated_predicates_answer_as_the_closure_compiler_does() -> None:
    schema = Schema.ecs()
    rng = random.Random(11)
    generator = SourceCompiler(CachingReaders(schema))
    reference = Compiler(FieldReaders(schema))
    documents = [_document(rng) for _ in range(60)]
    held = 0
    for _ in range(150):
        text = _expression(rng, 3)
        pred = translate(parse(f"any where {text}").body.condition)  # type: ignore[union-attr]
        fast, slow = generator.predicate(pred), reference.predicate(pred)
        for document in documents:
            answer = slow(document)
            assert fast(EventView(document)) == answer, (text, document)
            held += answer
    assert 0 < held < 150 * len(documents)  # both outcomes occur


def test_and_tries_what_is_likely_false_first_and_or_what_is_likely_true() -> None:
    term = ir.Term("process.name", (), insensitive=False)
    negated = ir.Not(ir.Term("user.id", (), insensitive=False))
    assert by_cost((negated, term)) == [term, negated]
    assert by_cost((term, negated), conjunction=False) == [negated, term]


def test_a_predicate_is_compiled_on_its_first_call_and_stays_the_same_function() -> None:
    compiler = SourceCompiler(CachingReaders(Schema.ecs()), prefix="r0_")
    tests = [compiler.predicate(translate(parse(query).body.condition))
             for query in ('process where process.name == "a"', 'any where destination.port in (1, 2)')]
    pending = compiler.namespace["_eqlite_sources"]
    assert sorted(pending) == ["_r0_stage_0", "_r0_stage_1"]  # nothing compiled yet
    first = tests[0]
    code = first.__code__
    assert first(EventView({"process": {"name": "a"}})) is True
    assert sorted(pending) == ["_r0_stage_1"]
    assert first.__code__ is not code and first.__code__.co_filename == "<eqlite stage _r0_stage_0>"
    assert compiler.namespace["_r0_stage_0"] is first  # the function handed out is the one kept
    assert compiler.expression_of(first) is not None and compiler.expression_of(tests[1]) is not None
    assert first(EventView({"process": {"name": "b"}})) is False
    assert tests[1](EventView({"destination": {"port": 2}})) is True and not pending
