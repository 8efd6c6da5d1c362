"""The brute-force oracle itself, on hand-written events: it must encode Elasticsearch's rules."""

from __future__ import annotations

from typing import Any

import pytest
from mmc_rule_oracle import find_sequences

BASE_MS = 1_715_673_600_000


def stamp(offset_ms: int) -> str:
    second, milli = divmod(offset_ms, 1000)
    return f"2024-05-14T08:{second // 60:02d}:{second % 60:02d}.{milli:03d}Z"


def network(event_id: str, at: int, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": stamp(at),
        "event": {"id": event_id, "category": ["network"], "type": ["start"]},
        "host": {"id": "h1"},
        "process": {"name": "mmc.exe", "entity_id": "mmc-1"},
        "source": {"address": "10.0.0.5", "port": 50000},
        "destination": {"port": 50001},
        "network": {"direction": "incoming", "transport": "tcp"},
    }
    for dotted, value in changes.items():
        section, field = dotted.split("__")
        doc[section][field] = value
    return doc


def child(
    event_id: str, at: int, *, host: str = "h1", parent: str = "mmc-1", parent_name: str = "mmc.exe"
) -> dict[str, Any]:
    return {
        "@timestamp": stamp(at),
        "event": {"id": event_id, "category": ["process"], "type": ["start"]},
        "host": {"id": host},
        "process": {"name": "cmd.exe", "parent": {"name": parent_name, "entity_id": parent}},
    }


def test_plain_chain_matches() -> None:
    assert find_sequences([network("n", 0), child("c", 1_000)]) == [("n", "c")]


@pytest.mark.parametrize(
    "changes",
    [
        {"source__address": "127.0.0.1"},
        {"source__address": "::1"},
        {"source__port": 49151},
        {"destination__port": 135},
        {"network__direction": "Incoming"},
        {"network__direction": "ingress"},
        {"network__transport": "TCP"},
        {"event__type": ["Start"]},
        {"event__category": ["process"]},
    ],
)
def test_each_broken_condition_prevents_a_match(changes: dict[str, Any]) -> None:
    assert find_sequences([network("n", 0, **changes), child("c", 1_000)]) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"process__name": "MMC.EXE"},
        {"event__type": "start"},
        {"event__type": ["connection", "start"]},
        {"source__port": 49152},
        {"source__address": "0:0:0:0:0:0:0:1"},
    ],
)
def test_case_arrays_and_boundaries_still_match(changes: dict[str, Any]) -> None:
    assert find_sequences([network("n", 0, **changes), child("c", 1_000)]) == [("n", "c")]


def test_missing_source_address_passes_the_negated_clause() -> None:
    doc = network("n", 0)
    del doc["source"]["address"]
    assert find_sequences([doc, child("c", 1_000)]) == [("n", "c")]


def test_maxspan_is_inclusive_to_the_millisecond() -> None:
    assert find_sequences([network("n", 0), child("c", 60_000)]) == [("n", "c")]
    assert find_sequences([network("n", 0), child("c", 60_001)]) == []


def test_child_must_be_strictly_later() -> None:
    assert find_sequences([child("c", 0), network("n", 1_000)]) == []


def test_keys_must_agree() -> None:
    assert find_sequences([network("n", 0), child("c", 1_000, host="h2")]) == []
    assert find_sequences([network("n", 0), child("c", 1_000, parent="mmc-2")]) == []


def test_latest_pending_connection_wins_and_pairing_consumes_it() -> None:
    events = [network("n1", 0), network("n2", 5_000), child("c1", 6_000), child("c2", 7_000)]
    assert find_sequences(events) == [("n2", "c1")]


def test_a_span_rejection_still_consumes_the_partial() -> None:
    events = [network("n1", 0), child("c1", 61_000), child("c2", 61_500)]
    assert find_sequences(events) == []


def test_input_order_does_not_matter_only_timestamps() -> None:
    assert find_sequences([child("c", 1_000), network("n", 0)]) == [("n", "c")]
