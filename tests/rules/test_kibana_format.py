"""Kibana shapes: export NDJSON (with its non-rule lines), API JSON, Fleet assets."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from eqlite.rules.kibana_format import (
    META_KEY,
    rule_from_api,
    rule_to_api,
    rules_from_json,
    rules_from_ndjson,
    rules_to_ndjson,
)
from eqlite.rules.model import Rule, RuleLoadResult
from eqlite.rules.toml_format import rule_from_toml
from tests.conftest import FIXTURES

KIBANA = FIXTURES / "rules" / "kibana"


def read(name: str) -> tuple[str, RuleLoadResult]:
    path = KIBANA / name
    text = path.read_text(encoding="utf-8")
    loader = rules_from_ndjson if path.suffix == ".ndjson" else rules_from_json
    return text, loader(text, str(path))


def test_export_loads_rules_and_skips_other_lines() -> None:
    _, result = read("export.ndjson")
    assert result.errors == ()
    assert [rule.name for rule in result.rules] == ["Quoted Path", "KQL In Export"]


def test_export_fields() -> None:
    _, result = read("export.ndjson")
    rule = result.rules[0]
    assert (rule.id, rule.enabled, rule.interval, rule.from_, rule.max_signals, rule.version) == (
        "5d0c3b6e-0000-4000-8000-00000000aaaa", False, "10m", "now-15m", 50, 7)
    assert rule.meta == {"from": "1m", "kibana_siem_app_url": "https://kibana.example/app/security"}
    assert rule.extra == {"created_at": "2024-05-01T10:00:00.000Z", "immutable": False}
    assert rule.exceptions_list[0].list_id == "tests-exceptions"
    assert rule.query == (
        'process where process.executable : "C:\\\\Users\\\\*\\\\tool.exe" and\n  process.args : "-\\"q\\""')


def test_query_positions_survive_json_escapes() -> None:
    text, result = read("export.ndjson")
    rule = result.rules[0]
    assert rule.source is not None and rule.query is not None
    raw = text.split("\n")[0]
    for number, line in enumerate(rule.query.split("\n"), 1):
        for col, char in enumerate(line, 1):
            position = rule.source.file_position(number, col)
            assert position is not None and position[0] == 1
            assert raw[position[1] - 1] in (char, "\\")
    # Query line 2 starts right after the two characters of the \n escape.
    second = rule.source.file_position(2, 1)
    assert second is not None
    assert raw[second[1] - 3:second[1] + 13] == '\\n  process.args'


def test_one_bad_line_does_not_stop_the_others() -> None:
    _, result = read("one_bad_line.ndjson")
    assert [rule.name for rule in result.rules] == ["KQL In Export", "Last Good"]
    described = [(error.line, error.col, error.message) for error in result.errors]
    assert described == [
        (2, 61, "invalid JSON: unexpected end of data"),
        (3, 175, "rule 'Bad Risk': risk_score: expected an integer, got a string"),
        (4, 1, "not a detection rule: the object has no rule_id"),
    ]
    assert all(error.path == str(KIBANA / "one_bad_line.ndjson") for error in result.errors)


def test_field_error_column_points_at_the_value() -> None:
    text, result = read("one_bad_line.ndjson")
    error = result.errors[1]
    assert error.col is not None
    assert text.split("\n")[2][error.col - 1:].startswith('"high"')


def test_fleet_asset() -> None:
    text, result = read("fleet_asset.json")
    (rule,) = result.rules
    assert (rule.rule_id, rule.version, rule.severity) == ("00000000-0000-4000-8000-000000000020", 105, "high")
    assert rule.related_integrations[0].package == "endpoint"
    assert rule.required_fields[0].ecs is True
    assert rule.source is not None and rule.source.query_line is not None
    assert text.split("\n")[rule.source.query_line - 1].strip().startswith('"query": "network where')


def test_json_array() -> None:
    _, result = read("rules_array.json")
    assert [rule.name for rule in result.rules] == ["KQL In Export", "Second"]
    assert [rule.source.line for rule in result.rules if rule.source] == [2, 12]


def test_invalid_json_file() -> None:
    result = rules_from_json('{\n  "rule_id": "x",\n  oops\n}', "bad.json")
    ((line, col),) = [(error.line, error.col) for error in result.errors]
    assert (line, col) == (3, 3)


def test_api_shape_fills_kibana_defaults() -> None:
    rule = rule_from_toml((FIXTURES / "rules" / "toml" / "kuery_query.toml").read_text())
    api = rule_to_api(rule, repository=False)
    assert {key: api[key] for key in ("interval", "from", "to", "max_signals", "version", "enabled", "setup")} == {
        "interval": "5m", "from": "now-6m", "to": "now", "max_signals": 100, "version": 1, "enabled": True,
        "setup": ""}
    assert api["threat"] == [] and api["exceptions_list"] == [] and api["required_fields"] == []
    assert "meta" not in api


def test_repository_tables_travel_in_meta() -> None:
    rule = rule_from_toml((FIXTURES / "rules" / "toml" / "eql_sequence.toml").read_text())
    api = rule_to_api(rule)
    carried = api["meta"][META_KEY]
    assert carried["metadata"]["maturity"] == "production"
    assert carried["transform"]["investigate"][0]["label"] == "Processes on the host"
    assert carried["tables"] == {"lab_notes": {"owner": "tests"}}
    assert rule_from_api(api) == rule


def test_kibana_meta_is_kept_beside_ours() -> None:
    _, result = read("export.ndjson")
    rule = result.rules[0]
    again = rules_from_ndjson(rules_to_ndjson([rule])).rules[0]
    assert again == rule and again.meta == rule.meta


@pytest.mark.parametrize("name", ["export.ndjson", "fleet_asset.json", "rules_array.json"])
def test_round_trip_through_ndjson(name: str) -> None:
    _, result = read(name)
    assert rules_from_ndjson(rules_to_ndjson(result.rules)).rules == result.rules


def test_summary_line() -> None:
    _, result = read("export.ndjson")
    lines = rules_to_ndjson(result.rules, summary=True).splitlines()
    assert len(lines) == 3
    assert orjson.loads(lines[-1])["exported_count"] == 2


def test_rule_from_api_reports_field_errors_as_rule_errors() -> None:
    from eqlite.errors import RuleError

    with pytest.raises(RuleError, match="name: required field is missing"):
        rule_from_api({"rule_id": "r", "description": "", "type": "eql", "risk_score": 1, "severity": "low"},
                      "api.json")


def test_bad_carried_metadata_is_an_error() -> None:
    line = orjson.dumps({"rule_id": "r", "name": "n", "description": "", "type": "eql", "risk_score": 1,
                         "severity": "low", "meta": {META_KEY: {"metadata": {"maturity": 5}}}}).decode()
    result = rules_from_ndjson(line)
    assert [error.message for error in result.errors] == [
        "rule 'n': meta.eqlite.metadata.maturity: expected a string, got an integer"]


def test_types_nobody_runs_still_load(tmp_path: Path) -> None:
    base = {"rule_id": "r", "name": "n", "description": "", "risk_score": 1, "severity": "low"}
    lines = [orjson.dumps({**base, "rule_id": kind, "type": kind}).decode()
             for kind in ("machine_learning", "threshold", "no_such_type")]
    result = rules_from_ndjson("\n".join(lines))
    assert result.errors == ()
    verdicts = {rule.rule_id: rule.execution_support() for rule in result.rules}
    assert not any(verdict.supported for verdict in verdicts.values())
    assert "unknown rule type 'no_such_type'" in (verdicts["no_such_type"].reason or "")


def test_rule_is_not_confused_with_exception_items() -> None:
    item: dict[str, object] = {"item_id": "i", "list_id": "l", "entries": []}
    assert rules_from_ndjson(orjson.dumps(item).decode()).rules == ()
    rule: dict[str, object] = {"rule_id": "r", "name": "n", "description": "", "type": "eql",
                               "risk_score": 1, "severity": "low"}
    assert isinstance(rules_from_ndjson(orjson.dumps(rule).decode()).rules[0], Rule)
