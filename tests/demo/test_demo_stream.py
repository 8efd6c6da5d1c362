"""The generated stream: determinism, exact size, ordering, identifiers and document shape."""

from __future__ import annotations

import io
from collections import Counter
from itertools import pairwise
from typing import Any

import orjson
from mmc_rule_oracle import millis

from eqlite.demo import DemoConfig, generate_events, to_hit, write_ndjson

_CATEGORIES = {
    "endpoint.events.process": ["process"],
    "endpoint.events.network": ["network"],
    "endpoint.events.file": ["file"],
    "endpoint.events.registry": ["registry"],
    "endpoint.events.library": ["library"],
    "endpoint.events.security": ["authentication", "session"],
}


def test_same_seed_gives_byte_identical_output(small: Any, make: Any) -> None:
    again = make(small.config)
    assert again.raw == small.raw
    assert again.truth == small.truth


def test_other_seed_gives_other_output() -> None:
    first, second = io.BytesIO(), io.BytesIO()
    write_ndjson(DemoConfig(seed=1, events=500, hosts=3, true_chains=1, decoys=False), first)
    write_ndjson(DemoConfig(seed=2, events=500, hosts=3, true_chains=1, decoys=False), second)
    assert first.getvalue() != second.getvalue()


def test_generate_events_matches_the_written_file(small: Any) -> None:
    assert list(generate_events(small.config)) == small.docs


def test_event_count_is_exact(small: Any) -> None:
    assert len(small.docs) == small.config.events


def test_event_ids_are_unique(small: Any) -> None:
    assert len({doc["event"]["id"] for doc in small.docs}) == len(small.docs)


def test_timestamps_never_decrease_without_late_delivery(small: Any) -> None:
    stamps = [millis(doc) for doc in small.docs]
    assert all(a <= b for a, b in pairwise(stamps))


def test_late_delivery_puts_some_events_out_of_order(make: Any) -> None:
    run = make(DemoConfig(seed=3, events=4000, hosts=6, true_chains=2, decoys=False, out_of_order=0.05))
    stamps = [millis(doc) for doc in run.docs]
    inversions = sum(1 for a, b in pairwise(stamps) if b < a)
    assert 0 < inversions < len(stamps) * 0.1
    assert len(run.docs) == 4000


def test_sequence_numbers_count_up_per_host(small: Any) -> None:
    last: dict[str, int] = {}
    for doc in small.docs:
        host = doc["host"]["id"]
        assert doc["event"]["sequence"] == last.get(host, 0) + 1
        last[host] = doc["event"]["sequence"]


def test_hosts_and_datasets_are_all_present(small: Any) -> None:
    assert len({doc["host"]["id"] for doc in small.docs}) == small.config.hosts
    assert set(Counter(doc["data_stream"]["dataset"] for doc in small.docs)) == set(_CATEGORIES)


def test_documents_have_endpoint_shape(small: Any) -> None:
    for doc in small.docs:
        stream, event = doc["data_stream"], doc["event"]
        assert stream["type"] == "logs" and stream["namespace"] == "default"
        assert event["dataset"] == stream["dataset"]
        assert event["module"] == "endpoint" and event["kind"] == "event"
        assert event["category"] == _CATEGORIES[stream["dataset"]]
        assert isinstance(event["type"], list) or event["type"] == "start"
        assert doc["agent"]["type"] == "endpoint"
        assert doc["host"]["os"]["type"] == "windows"
        assert doc["@timestamp"] < event["ingested"]
        assert {"entity_id", "pid", "name", "executable"} <= set(doc["process"])


def test_background_uses_each_agent_generations_direction_words(small: Any) -> None:
    planted = {
        event_id
        for chain in small.truth.chains
        for event_id in (chain.network_event_id, chain.child_event_id, *chain.related_event_ids)
    }
    words: dict[str, set[str]] = {}
    for doc in small.docs:
        if "direction" in doc.get("network", {}) and doc["event"]["id"] not in planted:
            words.setdefault(doc["agent"]["version"], set()).add(doc["network"]["direction"])
    assert words == {"7.15.2": {"incoming", "outgoing"}, "8.13.4": {"ingress", "egress"}}


def test_process_starts_carry_full_lineage(small: Any) -> None:
    starts = [
        doc for doc in small.docs if doc["event"]["category"] == ["process"] and doc["event"]["type"] == ["start"]
    ]
    assert starts
    for doc in starts:
        process = doc["process"]
        assert process["args_count"] == len(process["args"]) > 0
        assert len(process["hash"]["sha256"]) == 64
        assert process["parent"]["entity_id"] == process["Ext"]["ancestry"][0]



ARCHIVE_MAGIC = ("504b03", "1f8b", "377abcaf271c", "526172211a07")  # ZIP, gzip, 7-Zip, RAR


def test_file_events_carry_the_signer_and_headers_that_fit_the_file(small: Any) -> None:
    # Rules read both (a building block alerts on archives written by unsigned processes):
    # a ZIP header on every file made 12.7% of the benchmark's events alert.
    files = [doc for doc in small.docs if doc["event"]["category"] == ["file"]]
    assert files
    archives = 0
    for doc in files:
        assert doc["process"]["code_signature"]["trusted"] is True
        header = doc["file"]["Ext"]["header_bytes"]
        assert len(header) % 2 == 0 and int(header, 16) >= 0
        archive = header.startswith(ARCHIVE_MAGIC)
        assert archive == (doc["file"].get("extension") in ("docx", "xlsx", "pptx")), doc["file"]
        archives += archive
    assert 0 < archives < len(files)

def test_hits_follow_data_streams(small: Any) -> None:
    for doc in small.docs[:500]:
        hit = to_hit(doc)
        assert hit["_index"] == f"logs-{doc['data_stream']['dataset']}-default"
        assert hit["_id"] == doc["event"]["id"]
        assert hit["_source"] is doc


def test_envelope_file_wraps_the_same_documents(make: Any) -> None:
    config = DemoConfig(seed=4, events=800, hosts=3, true_chains=2, decoys=False)
    plain = make(config)
    buffer = io.BytesIO()
    truth = write_ndjson(config, buffer, envelopes=True)
    hits = [orjson.loads(line) for line in buffer.getvalue().splitlines()]
    assert [hit["_source"] for hit in hits] == plain.docs
    assert [hit["_index"] for hit in hits] == [f"logs-{doc['data_stream']['dataset']}-default" for doc in plain.docs]
    assert truth == plain.truth


def test_scalable_profile_averages_about_one_and_a_half_kilobytes() -> None:
    config = DemoConfig.scalable(8_000, seed=5)
    sizes = [len(orjson.dumps(doc)) + 1 for doc in generate_events(config)]
    assert len(sizes) == 8_000
    assert 1_350 <= sum(sizes) / len(sizes) <= 1_650


def test_write_ndjson_writes_file_and_manifest(tmp_path: Any, small: Any) -> None:
    data, manifest = tmp_path / "events.ndjson", tmp_path / "truth.json"
    truth = write_ndjson(small.config, data, manifest_path=manifest)
    assert data.read_bytes() == small.raw
    assert orjson.loads(manifest.read_bytes())["expected_sequences"] == [
        list(pair) for pair in truth.expected_sequences()
    ]


def test_documents_share_no_nested_objects(small: Any) -> None:
    seen: set[int] = set()

    def containers(node: Any) -> Any:
        if isinstance(node, dict | list):
            yield id(node)
            for child in node.values() if isinstance(node, dict) else node:
                yield from containers(child)

    for doc in list(generate_events(small.config))[:300]:
        ids = list(containers(doc))
        assert seen.isdisjoint(ids)
        seen.update(ids)


def test_planted_chains_are_spread_through_the_stream(small: Any) -> None:
    position = {doc["event"]["id"]: index for index, doc in enumerate(small.docs)}
    starts = sorted(position[chain.network_event_id] for chain in small.truth.chains)
    share = len(small.docs) / len(starts)
    assert starts[0] < 2 * share
    assert starts[-1] > len(small.docs) - 2 * share
    assert max(b - a for a, b in pairwise(starts)) < 3 * share
