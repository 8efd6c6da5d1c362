"""The rule model: Kibana defaults, key names, unknown keys, execution support, lifecycle flags."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from eqlite.errors import RuleError
from eqlite.rules.model import (
    ExecutionSupport,
    Rule,
    RuleLoadResult,
    RuleMetadata,
    SourceLocation,
    Threat,
)

MINIMAL: dict[str, Any] = {
    "rule_id": "r-1", "name": "Minimal", "description": "d", "type": "eql", "language": "eql",
    "query": "process where true", "risk_score": 21, "severity": "low",
}


def make(**changes: Any) -> Rule:
    return Rule.from_dict({**MINIMAL, **changes})


@pytest.mark.parametrize(("attribute", "default"), [
    ("interval", "5m"),
    ("from_", "now-6m"),
    ("to", "now"),
    ("max_signals", 100),
    ("version", 1),
    ("enabled", True),
    ("setup", ""),
    ("tags", ()),
    ("author", ()),
    ("references", ()),
    ("false_positives", ()),
    ("threat", ()),
    ("exceptions_list", ()),
    ("severity_mapping", ()),
    ("risk_score_mapping", ()),
    ("related_integrations", ()),
    ("required_fields", ()),
    ("actions", ()),
    ("timestamp_override", None),
    ("building_block_type", None),
    ("index", None),
    ("filters", None),
    ("note", None),
    ("metadata", None),
])
def test_kibana_defaults(attribute: str, default: object) -> None:
    assert getattr(make(), attribute) == default


def test_from_is_read_and_written_under_its_api_name() -> None:
    rule = make(**{"from": "now-9m"})
    assert rule.from_ == "now-9m"
    assert rule.to_dict()["from"] == "now-9m"
    assert "from_" not in rule.to_dict()


def test_to_dict_leaves_out_defaults_unless_asked() -> None:
    rule = make()
    assert set(rule.to_dict()) == set(MINIMAL)
    full = rule.to_dict(defaults=True)
    assert (full["interval"], full["from"], full["to"], full["max_signals"], full["version"]) == (
        "5m", "now-6m", "now", 100, 1)
    assert "timestamp_override" not in full


def test_non_default_values_are_written() -> None:
    rule = make(interval="15m", max_signals=1000, version=3, enabled=False)
    assert {key: rule.to_dict()[key] for key in ("interval", "max_signals", "version", "enabled")} == {
        "interval": "15m", "max_signals": 1000, "version": 3, "enabled": False}


def test_unknown_keys_survive_in_extra() -> None:
    rule = make(brand_new_field={"nested": [1, 2]}, output_index=".siem-signals")
    assert rule.extra == {"brand_new_field": {"nested": [1, 2]}, "output_index": ".siem-signals"}
    assert rule.to_dict()["brand_new_field"] == {"nested": [1, 2]}
    assert Rule.from_dict(rule.to_dict()) == rule


def test_threat_technique_defaults_to_empty_list_in_api_shape() -> None:
    rule = make(threat=[{"framework": "MITRE ATT&CK",
                         "tactic": {"id": "TA0008", "name": "Lateral Movement", "reference": "u"}}])
    assert rule.threat[0].technique == ()
    assert rule.to_dict(defaults=True)["threat"][0]["technique"] == []
    assert "technique" not in rule.to_dict()["threat"][0]


def test_empty_meta_is_the_same_as_no_meta() -> None:
    assert make(meta={}).meta is None
    assert make(meta={"from": "1m"}).meta == {"from": "1m"}


@pytest.mark.parametrize(("rule_type", "language", "query", "supported", "reason_part"), [
    ("eql", "eql", "process where true", True, None),
    ("eql", None, "process where true", True, None),
    ("eql", "kuery", "process where true", False, "declares language 'kuery'"),
    ("eql", "eql", "   ", False, "has no query"),
    ("query", "kuery", "a : b", False, "custom query (KQL/Lucene)"),
    ("query", "lucene", "a:b", False, "custom query (KQL/Lucene)"),
    ("saved_query", "kuery", None, False, "saved query"),
    ("esql", "esql", "from logs-*", False, "ES|QL"),
    ("threshold", "kuery", "a : b", False, "threshold rules"),
    ("new_terms", "kuery", "a : b", False, "new terms rules"),
    ("threat_match", "kuery", "a : b", False, "indicator match"),
    ("machine_learning", None, None, False, "machine learning"),
    ("graph_walk", None, None, False, "unknown rule type 'graph_walk'"),
])
def test_execution_support(rule_type: str, language: str | None, query: str | None, supported: bool,
                           reason_part: str | None) -> None:
    rule = replace(make(), type=rule_type, language=language, query=query)
    verdict = rule.execution_support()
    assert verdict.supported is supported
    if reason_part is None:
        assert verdict == ExecutionSupport(True, None)
    else:
        assert verdict.reason is not None and reason_part in verdict.reason


def test_deprecated_by_maturity() -> None:
    rule = replace(make(), metadata=RuleMetadata(maturity="deprecated"))
    assert (rule.is_deprecated, rule.is_active) == (True, False)


def test_deprecated_by_folder() -> None:
    rule = replace(make(), source=SourceLocation("rules/_deprecated/old.toml", 1))
    assert (rule.is_deprecated, rule.is_active) == (True, False)


def test_production_rule_is_active() -> None:
    rule = replace(make(), metadata=RuleMetadata(maturity="production"),
                   source=SourceLocation("rules/windows/x.toml", 1))
    assert (rule.is_deprecated, rule.is_active) == (False, True)


def test_building_block() -> None:
    assert make(building_block_type="default").is_building_block
    assert not make().is_building_block


def test_equality_ignores_source_and_hash_uses_id_and_version() -> None:
    here = replace(make(), source=SourceLocation("a.toml", 1))
    there = replace(make(), source=SourceLocation("b.ndjson", 9))
    assert here == there
    assert len({here, there, make(version=2)}) == 2


SEQUENCE_ANCHORS = ((1, 1, 20, 1), (2, 1, 21, 1), (2, 9, 21, 10), (2, 10, 21, 12))


@pytest.mark.parametrize(("position", "expected"), [
    ((1, 1), (20, 1)),
    ((1, 30), (20, 30)),
    ((2, 5), (21, 5)),
    ((2, 9), (21, 10)),
    ((2, 12), (21, 14)),
])
def test_source_location_maps_query_positions(position: tuple[int, int], expected: tuple[int, int]) -> None:
    # Query line 2 has a two-character escape at column 9 (e.g. \" in JSON): columns after it shift.
    location = SourceLocation("r.ndjson", 20, 20, 1, SEQUENCE_ANCHORS)
    assert location.file_position(*position) == expected


def test_source_location_without_trace_falls_back_to_the_start() -> None:
    location = SourceLocation("r.toml", 1, 10, 9)
    assert location.file_position(1, 3) == (10, 11)
    assert location.file_position(3, 4) == (12, 4)
    assert SourceLocation("r.toml", 1).file_position(1, 1) is None
    assert SourceLocation("r.toml", 1).describe(1, 1) == "r.toml:1"


def test_locate_and_query_error() -> None:
    rule = replace(make(), source=SourceLocation("r.toml", 1, 12, 1, ((1, 1, 12, 1),)))
    assert rule.locate(1, 7) == "r.toml:12:7"
    error = rule.query_error("unknown field", 1, 7)
    assert isinstance(error, RuleError)
    assert (error.path, error.line, error.col) == ("r.toml", 12, 7)
    assert str(error) == "r.toml:12:7: rule 'Minimal': unknown field"
    assert make().locate(1, 1) == "rule 'Minimal'"


def test_threat_from_dict_builds_nested_records() -> None:
    threat = Threat.from_dict({
        "framework": "MITRE ATT&CK",
        "tactic": {"id": "TA0008", "name": "Lateral Movement", "reference": "https://attack.mitre.org/tactics/TA0008/"},
        "technique": [{"id": "T1021", "name": "Remote Services", "reference": "t",
                       "subtechnique": [{"id": "T1021.003", "name": "DCOM", "reference": "s"}]}],
    })
    assert threat.technique[0].subtechnique[0].id == "T1021.003"


def test_load_result_combines_and_filters() -> None:
    active = make()
    old = replace(make(rule_id="r-2"), metadata=RuleMetadata(maturity="deprecated"))
    combined = RuleLoadResult((active,), (), 1) + RuleLoadResult((old,), (RuleError("bad", "x.toml"),), 2)
    assert (len(combined.rules), combined.files, combined.ok) == (2, 3, False)
    assert combined.active() == (active,)
