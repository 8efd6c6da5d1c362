"""Workloads: the seed rule, the fixed 50-rule selection, every active EQL rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from enginebench.workloads import (
    SELECTION_SIZE,
    active_eql_rules,
    build_workloads,
    query_kind,
    sees_demo_data,
    select_rules,
)

from eqlite.rules import Rule
from tests.conftest import shared_path


def _rule(rule_id: str, index: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> Rule:
    return Rule.from_dict({"rule_id": rule_id, "name": rule_id, "description": "", "type": "eql", "language": "eql",
                           "query": "process where true", "risk_score": 1, "severity": "low",
                           "index": list(index), "tags": list(tags)})


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("sequence by host.id [process where true] [network where true]", "sequence"),
        ("  sample by host.id [any where true]", "sample"),
        ("/* note */\n/* more */ sequence [any where true] [any where true]", "sequence"),
        ("sequences where true", "event"),
        ("", "event"),
    ],
)
def test_query_kind(query: str, kind: str) -> None:
    assert query_kind(query) == kind


def test_sees_demo_data() -> None:
    assert sees_demo_data(_rule("a", ("logs-endpoint.events.process-*",)))
    assert sees_demo_data(_rule("b", ("winlogbeat-*", "logs-endpoint.events.*")))
    assert not sees_demo_data(_rule("c", ("logs-aws.cloudtrail-*",)))
    assert not sees_demo_data(_rule("d"))


def test_selection_prefers_windows_endpoint_rules_and_ignores_input_order() -> None:
    windows = [_rule(f"w{i}", ("logs-endpoint.events.*",), ("OS: Windows",)) for i in range(3)]
    linux = [_rule(f"l{i}", ("logs-endpoint.events.*",), ("OS: Linux",)) for i in range(3)]
    cloud = [_rule(f"c{i}", ("logs-aws*",)) for i in range(3)]
    rules = cloud + linux + windows
    chosen = select_rules(rules, 4)
    assert select_rules(list(reversed(rules)), 4) == chosen
    assert {rule.rule_id for rule in chosen[:3]} == {"w0", "w1", "w2"}
    assert chosen[3].rule_id.startswith("l")


def test_seed_workload_needs_no_corpus(tmp_path: Path) -> None:
    (workload,) = build_workloads(["seed"], tmp_path / "absent")
    assert [rule.name for rule in workload.rules] == ["Incoming DCOM Lateral Movement with MMC"]
    assert workload.source().builtin
    assert workload.source().load() == list(workload.rules)


def test_unknown_workload() -> None:
    with pytest.raises(ValueError, match="unknown workload '7'"):
        build_workloads(["seed", "7"], Path("."))


def test_missing_corpus_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no detection-rules corpus"):
        active_eql_rules(tmp_path)


@pytest.fixture(scope="module")
def corpus() -> list[Rule]:
    return active_eql_rules(shared_path("datasets", "detection-rules"))


def test_corpus_has_1024_active_eql_rules(corpus: list[Rule]) -> None:
    assert len(corpus) == 1024
    assert all(rule.is_active and rule.language == "eql" for rule in corpus)


def test_fifty_rule_selection_is_fixed(corpus: list[Rule]) -> None:
    chosen = select_rules(corpus)
    assert len(chosen) == SELECTION_SIZE == len({rule.rule_id for rule in chosen})
    assert [rule.rule_id for rule in select_rules(list(reversed(corpus)))] == [rule.rule_id for rule in chosen]
    assert all(rule.is_active and rule.language == "eql" for rule in chosen)
    assert all(sees_demo_data(rule) and "OS: Windows" in rule.tags for rule in chosen)
