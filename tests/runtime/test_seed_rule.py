"""The seed rule's query finds exactly the planted true chains and none of the near misses."""

from __future__ import annotations

import random

import pytest

from eqlite.demo import DemoConfig, DemoRun
from eqlite.runtime.search import SearchOptions, SequenceHit, search
from eqlite.semantic.schema import Schema

SEED_QUERY = """sequence by host.id with maxspan=1m
 [network where event.type == "start" and process.name : "mmc.exe" and
  source.port >= 49152 and destination.port >= 49152 and source.address not in ("127.0.0.1", "::1") and
  network.direction == "incoming" and network.transport == "tcp"
 ] by process.entity_id
 [process where event.type in ("start", "process_started") and process.parent.name : "mmc.exe"
 ] by process.parent.entity_id"""


def _pairs(hits: list[object]) -> list[tuple[str, str]]:
    pairs = []
    for hit in hits:
        assert isinstance(hit, SequenceHit)
        network, child = hit.events
        assert network is not None and child is not None
        pairs.append((network.source["event"]["id"], child.source["event"]["id"]))
    return pairs


@pytest.fixture(scope="module")
def demo() -> tuple[list[dict[str, object]], DemoRun]:
    run = DemoRun(DemoConfig(seed=11, events=6000, hosts=6, true_chains=5, decoys=True, include_uncertain=True))
    return list(run), run


def test_finds_exactly_the_planted_chains(demo: tuple[list[dict[str, object]], DemoRun]) -> None:
    documents, run = demo
    result = search(SEED_QUERY, documents, SearchOptions(schema=Schema.ecs()))
    assert _pairs(result.hits) == run.ground_truth.expected_sequences()
    assert len(result.hits) >= 5


def test_every_decoy_kind_is_planted_and_rejected(demo: tuple[list[dict[str, object]], DemoRun]) -> None:
    documents, run = demo
    found = set(_pairs(search(SEED_QUERY, documents, SearchOptions(schema=Schema.ecs())).hits))
    decoys = [chain for chain in run.ground_truth.chains if not chain.expected_match]
    kinds = {chain.kind for chain in decoys}
    assert {"loopback_ipv4", "loopback_ipv6", "low_source_port", "low_destination_port", "outgoing_direction",
            "udp_transport", "late_child", "other_host", "other_mmc", "child_before_connection"} <= kinds
    for chain in decoys:
        assert (chain.network_event_id, chain.child_event_id) not in found, chain.kind


def test_case_and_array_variants_match(demo: tuple[list[dict[str, object]], DemoRun]) -> None:
    documents, run = demo
    found = set(_pairs(search(SEED_QUERY, documents, SearchOptions(schema=Schema.ecs())).hits))
    for kind in ("uppercase_image", "event_type_multi", "event_type_scalar", "span_boundary"):
        chains = [chain for chain in run.ground_truth.chains if chain.kind == kind]
        assert chains, kind
        for chain in chains:
            assert (chain.network_event_id, chain.child_event_id) in found, kind


def test_unsorted_input_gives_the_same_answer(demo: tuple[list[dict[str, object]], DemoRun]) -> None:
    documents, run = demo
    shuffled = documents[:]
    random.Random(5).shuffle(shuffled)
    result = search(SEED_QUERY, shuffled, SearchOptions(schema=Schema.ecs()))
    assert _pairs(result.hits) == run.ground_truth.expected_sequences()


def test_string_ports_compare_as_numbers_under_ecs() -> None:
    docs = [
        {"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": "network", "type": "start"},
         "host": {"id": "h"}, "process": {"name": "mmc.exe", "entity_id": "e"},
         "source": {"port": "50000", "address": "10.0.0.9"}, "destination": {"port": "50001"},
         "network": {"direction": "incoming", "transport": "tcp"}},
        {"@timestamp": "2024-01-01T00:00:01Z", "event": {"category": "process", "type": "start"},
         "host": {"id": "h"}, "process": {"parent": {"name": "MMC.exe", "entity_id": "e"}}},
    ]
    assert len(search(SEED_QUERY, docs, SearchOptions(schema=Schema.ecs())).hits) == 1
    assert len(search(SEED_QUERY, docs, SearchOptions(schema=None)).hits) == 0
