"""Differential check of sequence matching against the ``eql`` package (test-time oracle only).

The research note measured the ``eql`` package agreeing with Elasticsearch on every
sequence specification (``by``, ``maxspan``, ``until``, head/tail), so random sequence
queries over random event streams must give the same sequences in both engines. Only
case-sensitive, typed-alike predicates are generated: the ``eql`` package's global case
switch and its treatment of missing events differ from Elasticsearch elsewhere.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

eql = pytest.importorskip("eql")

from eqlite.runtime.search import SearchOptions, SequenceHit, search  # noqa: E402

CATEGORIES = ("a", "b", "c")
# `until` events get their own category: the two engines differ when one event matches both a
# stage and `until` (eqlite follows Elasticsearch: an until event at the partial's last event counts).
UNTIL_CATEGORY = "u"


def _stream(rng: random.Random, size: int) -> list[dict[str, Any]]:
    time = 1_600_000_000_000  # epoch ms; small numbers would read as years, as in Elasticsearch
    events = []
    for number in range(size):
        time += 1000 * rng.choice((1, 1, 2, 5, 40))  # milliseconds, as both engines read them
        events.append({"@timestamp": time, "event": {"category": rng.choice((*CATEGORIES, UNTIL_CATEGORY))},
                       "id": number,
                       "k": rng.choice(("x", "y", "z")), "n": rng.randrange(10)})
    return events


def _condition(rng: random.Random) -> str:
    return rng.choice(("true", f"n < {rng.randrange(3, 10)}", f"n > {rng.randrange(0, 6)}",
                       f"n != {rng.randrange(10)}", f"n in ({rng.randrange(10)}, {rng.randrange(10)}, 7)"))


def _query(rng: random.Random) -> str:
    by = rng.choice(("", "by k "))
    maxspan = rng.choice(("", "with maxspan=10s ", "with maxspan=50s "))
    stages = " ".join(f"[{rng.choice(CATEGORIES)} where {_condition(rng)}]" for _ in range(rng.choice((2, 2, 3))))
    until = rng.choice(("", "", f" until [{UNTIL_CATEGORY} where {_condition(rng)}]"))
    return f"sequence {by}{maxspan}{stages}{until}"


def _oracle(query: str, events: list[dict[str, Any]]) -> list[list[int]]:
    with eql.parser.elasticsearch_syntax:
        parsed = eql.parse_query(query)
    found: list[Any] = []
    engine = eql.PythonEngine({"flatten": False})
    engine.add_query(parsed)
    engine.add_output_hook(found.append)
    # The eql package keeps time in FILETIME ticks (100 ns): 1 ms is 10,000 ticks.
    engine.stream_events([eql.Event(e["event"]["category"], e["@timestamp"] * 10_000, e) for e in events])
    engine.finalize()
    return [[event.data["id"] for event in result.events] for result in found]


def _ours(query: str, events: list[dict[str, Any]]) -> list[list[int]]:
    result = search(query, events, SearchOptions(schema=None))
    sequences = []
    for hit in result.hits:
        assert isinstance(hit, SequenceHit)
        sequences.append([event.source["id"] for event in hit.events if event is not None])
    return sequences


@pytest.mark.parametrize("seed", range(150))
def test_sequences_agree_with_eql_package(seed: int) -> None:
    rng = random.Random(seed)
    events = _stream(rng, rng.randrange(20, 120))
    query = _query(rng)
    assert _ours(query, events) == _oracle(query, events), query
