"""The manifest says exactly what the rule finds: checked against a brute-force oracle."""

from __future__ import annotations

from typing import Any

import pytest
from mmc_rule_oracle import (
    failed_child_clauses,
    failed_network_clauses,
    find_sequences,
    millis,
)

from eqlite.demo import KINDS, DemoConfig, ground_truth

# For each planted kind: the conditions of the rule it breaks. Chain-level conditions:
# same_host (host.id), same_entity (the join key), order (strictly after), span (<= 60 s).
BROKEN: dict[str, set[str]] = {
    "baseline": set(),
    "uppercase_image": set(),
    "event_type_multi": set(),
    "event_type_scalar": set(),
    "child_process_started": set(),
    "span_boundary": set(),
    "port_boundary": set(),
    "repeated_connection": set(),
    "second_child": set(),
    "missing_source_address": set(),
    "expanded_ipv6_loopback": set(),
    "loopback_ipv4": {"network.source_address"},
    "loopback_ipv6": {"network.source_address"},
    "low_source_port": {"network.source_port"},
    "low_destination_port": {"network.destination_port"},
    "outgoing_direction": {"network.direction"},
    "ingress_direction": {"network.direction"},
    "direction_case": {"network.direction"},
    "udp_transport": {"network.transport"},
    "transport_case": {"network.transport"},
    "event_type_case": {"network.event_type"},
    "late_child": {"span"},
    "late_child_by_1ms": {"span"},
    "other_host": {"same_host"},
    "other_mmc": {"same_entity"},
    "child_before_connection": {"order"},
}


def broken_conditions(network: dict[str, Any], child: dict[str, Any]) -> set[str]:
    broken = {f"network.{name}" for name in failed_network_clauses(network)}
    broken |= {f"child.{name}" for name in failed_child_clauses(child)}
    if network["host"]["id"] != child["host"]["id"]:
        broken.add("same_host")
    if network["process"]["entity_id"] != child["process"]["parent"]["entity_id"]:
        broken.add("same_entity")
    gap = millis(child) - millis(network)
    if gap <= 0:
        broken.add("order")
    elif gap > 60_000:
        broken.add("span")
    return broken


def test_every_kind_has_an_expectation() -> None:
    assert set(BROKEN) == set(KINDS)


def test_oracle_finds_exactly_the_expected_sequences(small: Any) -> None:
    assert find_sequences(small.docs) == small.truth.expected_sequences()


def test_oracle_agrees_on_a_larger_run_with_late_delivery(make: Any) -> None:
    run = make(DemoConfig(seed=11, events=10_000, hosts=12, true_chains=6, out_of_order=0.02))
    assert find_sequences(run.docs) == run.truth.expected_sequences()


def test_every_kind_is_planted(small: Any) -> None:
    assert {chain.kind for chain in small.truth.chains} == set(KINDS)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_planted_chain_breaks_exactly_the_intended_condition(small: Any, kind: str) -> None:
    docs = small.by_id()
    for chain in small.truth.by_kind(kind):
        broken = broken_conditions(docs[chain.network_event_id], docs[chain.child_event_id])
        assert broken == BROKEN[kind], chain.chain_id
        assert chain.expected_match == (not BROKEN[kind]) == KINDS[kind].expected_match


def test_chain_fields_link_up(small: Any) -> None:
    docs = small.by_id()
    for chain in small.truth.chains:
        network, child = docs[chain.network_event_id], docs[chain.child_event_id]
        assert network["host"]["id"] == chain.host_id
        assert child["host"]["id"] == chain.child_host_id
        assert network["process"]["entity_id"] == chain.entity_id
        assert network["process"]["name"].lower() == "mmc.exe"
        assert network["event"]["category"] == ["network"]
        assert network["event"]["action"] == "connection_accepted"
        assert child["process"]["name"] == "cmd.exe"
        assert child["process"]["parent"]["name"].lower() == "mmc.exe"
        assert network["@timestamp"] == chain.network_timestamp
        assert child["@timestamp"] == chain.child_timestamp
        assert all(event_id in docs for event_id in chain.related_event_ids)


def test_true_chain_is_a_dcom_activation(small: Any) -> None:
    docs = small.by_id()
    chain = small.truth.by_kind("baseline")[0]
    mmc_start = next(
        docs[event_id]
        for event_id in chain.related_event_ids
        if docs[event_id]["event"]["category"] == ["process"]
        and docs[event_id]["process"]["entity_id"] == chain.entity_id
    )
    assert mmc_start["process"]["command_line"].endswith("mmc.exe -Embedding")
    assert mmc_start["process"]["parent"]["name"] == "svchost.exe"
    assert "DcomLaunch" in mmc_start["process"]["parent"]["command_line"]
    network = docs[chain.network_event_id]
    assert network["network"] == {"direction": "incoming", "transport": "tcp", "type": "ipv4"}
    assert network["source"]["ip"] != network["destination"]["ip"]


def test_uppercase_variant_is_upper_case_everywhere(small: Any) -> None:
    docs = small.by_id()
    for chain in small.truth.by_kind("uppercase_image"):
        assert docs[chain.network_event_id]["process"]["name"] == "MMC.EXE"
        assert docs[chain.child_event_id]["process"]["parent"]["name"] == "MMC.EXE"


@pytest.mark.parametrize(
    ("kind", "gap_ms"),
    [
        ("span_boundary", 60_000),
        ("late_child", 61_000),
        ("late_child_by_1ms", 60_001),
        ("child_before_connection", -2_500),
    ],
)
def test_fixed_delays_are_exact(small: Any, kind: str, gap_ms: int) -> None:
    docs = small.by_id()
    for chain in small.truth.by_kind(kind):
        assert millis(docs[chain.child_event_id]) - millis(docs[chain.network_event_id]) == gap_ms


def test_repeated_connection_pairs_with_the_latest(small: Any) -> None:
    docs = small.by_id()
    for chain in small.truth.by_kind("repeated_connection"):
        paired = docs[chain.network_event_id]
        earlier = [
            docs[event_id]
            for event_id in chain.related_event_ids
            if docs[event_id]["event"]["action"] == "connection_accepted"
        ]
        assert len(earlier) == 1
        assert not failed_network_clauses(earlier[0])
        assert millis(earlier[0]) < millis(paired)


def test_second_child_also_qualifies_but_is_not_expected(small: Any) -> None:
    docs = small.by_id()
    expected_children = {child for _, child in small.truth.expected_sequences()}
    for chain in small.truth.by_kind("second_child"):
        siblings = [
            docs[event_id]
            for event_id in chain.related_event_ids
            if docs[event_id]["event"]["category"] == ["process"]
            and docs[event_id]["event"]["action"] == "start"
            and docs[event_id]["process"]["parent"]["entity_id"] == chain.entity_id
        ]
        assert len(siblings) == 1
        assert not failed_child_clauses(siblings[0])
        assert siblings[0]["event"]["id"] not in expected_children


def test_uncertain_variants_are_opt_in() -> None:
    truth = ground_truth(DemoConfig(seed=7, events=5000, hosts=8, true_chains=6))
    kinds = {chain.kind for chain in truth.chains}
    assert "missing_source_address" not in kinds
    assert "expanded_ipv6_loopback" not in kinds
    assert not any(chain.uncertain for chain in truth.chains)
