"""A brute-force reading of seed rule v3 under Elasticsearch semantics, for checking the generator.

Written independently of ``eqlite.demo``: it knows nothing of variants or manifests, only
the rule text and how Elasticsearch evaluates it::

    sequence by host.id with maxspan=1m
     [network where event.type == "start" and process.name : "mmc.exe" and
      source.port >= 49152 and destination.port >= 49152 and
      source.address not in ("127.0.0.1", "::1") and
      network.direction == "incoming" and network.transport == "tcp"] by process.entity_id
     [process where event.type in ("start", "process_started") and
      process.parent.name : "mmc.exe"] by process.parent.entity_id

* a field predicate matches when any value of a multi-valued field matches;
* ``==`` and ``in`` are exact and case-sensitive, ``:`` compares case-insensitively;
* a missing field fails positive predicates, and ``not in`` (a ``must_not``) passes on it;
* events are ordered by (@timestamp, position in the input); stage 2 must come strictly
  later and at most 60 000 ms after stage 1;
* per join key only the latest pending stage-1 event survives, and pairing consumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

MAXSPAN_MS = 60_000
HIGH_PORT = 49152
EXCLUDED_SOURCES = ("127.0.0.1", "::1")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Doc = dict[str, Any]
Clause = Callable[[Doc], bool]


def values(doc: Doc, dotted: str) -> list[Any]:
    """Every non-null value of a dotted field, arrays flattened; [] when missing."""
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    items = node if isinstance(node, list) else [node]
    return [item for item in items if item is not None]


def millis(doc: Doc) -> int:
    moment = datetime.fromisoformat(doc["@timestamp"])
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _any_equal(field: str, wanted: Iterable[str]) -> Clause:
    accepted = tuple(wanted)
    return lambda doc: any(value in accepted for value in values(doc, field))


def _any_caseless(field: str, wanted: str) -> Clause:
    return lambda doc: any(isinstance(value, str) and value.lower() == wanted for value in values(doc, field))


def _any_at_least(field: str, bound: int) -> Clause:
    return lambda doc: any(isinstance(value, int) and value >= bound for value in values(doc, field))


def _none_in(field: str, excluded: Iterable[str]) -> Clause:
    rejected = tuple(excluded)
    return lambda doc: not any(value in rejected for value in values(doc, field))


NETWORK_CLAUSES: dict[str, Clause] = {
    "category": _any_equal("event.category", ["network"]),
    "event_type": _any_equal("event.type", ["start"]),
    "process_name": _any_caseless("process.name", "mmc.exe"),
    "source_port": _any_at_least("source.port", HIGH_PORT),
    "destination_port": _any_at_least("destination.port", HIGH_PORT),
    "source_address": _none_in("source.address", EXCLUDED_SOURCES),
    "direction": _any_equal("network.direction", ["incoming"]),
    "transport": _any_equal("network.transport", ["tcp"]),
}

CHILD_CLAUSES: dict[str, Clause] = {
    "category": _any_equal("event.category", ["process"]),
    "event_type": _any_equal("event.type", ["start", "process_started"]),
    "parent_name": _any_caseless("process.parent.name", "mmc.exe"),
}


def failed_network_clauses(doc: Doc) -> set[str]:
    return {name for name, clause in NETWORK_CLAUSES.items() if not clause(doc)}


def failed_child_clauses(doc: Doc) -> set[str]:
    return {name for name, clause in CHILD_CLAUSES.items() if not clause(doc)}


def join_keys(doc: Doc, entity_field: str) -> list[tuple[Any, Any]]:
    """The Cartesian product of host.id and entity values; empty when either is missing."""
    return list(product(dict.fromkeys(values(doc, "host.id")), dict.fromkeys(values(doc, entity_field))))


def find_sequences(docs: list[Doc]) -> list[tuple[str, str]]:
    """Every (network event id, child event id) the rule returns, in completion order."""
    ordered = sorted(range(len(docs)), key=lambda position: (millis(docs[position]), position))
    pending: dict[tuple[Any, Any], tuple[int, str]] = {}
    found: list[tuple[str, str]] = []
    for position in ordered:
        doc = docs[position]
        at = millis(doc)
        event_id = doc["event"]["id"]
        if not failed_child_clauses(doc):
            for key in join_keys(doc, "process.parent.entity_id"):
                partial = pending.pop(key, None)
                if partial is not None and at - partial[0] <= MAXSPAN_MS:
                    found.append((partial[1], event_id))
        if not failed_network_clauses(doc):
            for key in join_keys(doc, "process.entity_id"):
                pending[key] = (at, event_id)
    return found
