"""Helpers for the alert tests: a fixed build time, hand-made events, seed-rule hits over demo data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from eqlite.demo import DemoConfig, GroundTruth, to_hit
from eqlite.rules import Rule
from eqlite.runtime.events import Event
from eqlite.runtime.search import CompiledQuery, Hit, SearchOptions
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent

NOW = dt.datetime(2024, 5, 14, 9, 0, tzinfo=dt.UTC)
NOW_TEXT = "2024-05-14T09:00:00.000Z"
DEMO = DemoConfig(seed=7, events=1500, hosts=3, true_chains=2, decoys=False)


@dataclass(frozen=True)
class DemoHits:
    documents: list[dict[str, Any]]
    hits: list[Hit]
    truth: GroundTruth


def records(documents: list[dict[str, Any]]) -> list[SourceEvent]:
    """Demo documents as events with the ``_index`` and ``_id`` Elasticsearch would give them."""
    out = []
    for position, document in enumerate(documents):
        hit = to_hit(document)
        out.append(SourceEvent(document, "demo", position, hit["_index"], hit["_id"]))
    return out


def search(rule: Rule, documents: list[dict[str, Any]]) -> list[Hit]:
    return CompiledQuery(rule.query or "", SearchOptions(schema=Schema.ecs())).search(records(documents)).hits


def event(source: dict[str, Any], index: str = "logs-test", doc_id: str = "e1", position: int = 0) -> Event:
    """An engine event built by hand (the ordinal does not matter to alert building)."""
    return Event(source, index, doc_id, position, 0, (0, 0, 0, position))
