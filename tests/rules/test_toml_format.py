"""detection-rules TOML: reading every table, locating the query, writing files that read back equal."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from eqlite.errors import RuleError
from eqlite.rules.model import Rule, RuleMetadata
from eqlite.rules.toml_format import rule_from_toml, rule_to_toml
from tests.conftest import FIXTURES

TOML = FIXTURES / "rules" / "toml"
BROKEN = FIXTURES / "rules" / "broken"


def load(path: Path) -> Rule:
    return rule_from_toml(path.read_text(encoding="utf-8"), str(path))


@pytest.fixture(scope="module")
def sequence_rule() -> Rule:
    return load(TOML / "eql_sequence.toml")


def test_reads_rule_table(sequence_rule: Rule) -> None:
    rule = sequence_rule
    assert (rule.rule_id, rule.name, rule.type, rule.language) == (
        "00000000-0000-4000-8000-000000000001", "Shell After Logon", "eql", "eql")
    assert (rule.risk_score, rule.severity, rule.from_, rule.interval, rule.version) == (
        47, "medium", "now-9m", "5m", 1)
    assert rule.index == ("logs-endpoint.events.*",)
    assert rule.description == "Test rule: a shell starts on a host right after a successful logon.\n"
    assert rule.query is not None and rule.query.startswith("sequence by host.id with maxspan=30s\n")
    assert rule.investigation_fields is not None
    assert rule.investigation_fields.field_names == ("host.id", "user.name")


def test_reads_threat(sequence_rule: Rule) -> None:
    (threat,) = sequence_rule.threat
    assert (threat.framework, threat.tactic.id, threat.tactic.name) == ("MITRE ATT&CK", "TA0002", "Execution")
    (technique,) = threat.technique
    assert (technique.id, technique.subtechnique[0].id) == ("T1059", "T1059.003")


def test_reads_metadata_transform_and_unknowns(sequence_rule: Rule) -> None:
    assert sequence_rule.metadata == RuleMetadata(
        creation_date="2024/01/02", updated_date="2024/03/04", maturity="production",
        integration=("endpoint",), extra={"future_flag": True})
    assert sequence_rule.extra == {"custom_flag": "kept as an unknown key"}
    assert sequence_rule.transform is not None
    assert sequence_rule.transform["investigate"][0]["label"] == "Processes on the host"
    assert sequence_rule.extra_tables == {"lab_notes": {"owner": "tests"}}


def test_query_location_points_into_the_file(sequence_rule: Rule) -> None:
    assert sequence_rule.source is not None
    assert (sequence_rule.source.query_line, sequence_rule.source.query_col) == (26, 1)
    assert sequence_rule.locate(2, 3) == f"{TOML / 'eql_sequence.toml'}:27:3"
    lines = (TOML / "eql_sequence.toml").read_text().split("\n")
    assert lines[27 - 1][3 - 1:].startswith("[authentication")


@pytest.mark.parametrize("name", ["eql_sequence.toml", "kuery_query.toml", "unknown_type.toml",
                                  "deprecated_rule.toml", "new_terms.toml"])
def test_round_trip(name: str) -> None:
    rule = load(TOML / name)
    assert rule_from_toml(rule_to_toml(rule)) == rule


def test_writer_layout(sequence_rule: Rule) -> None:
    text = rule_to_toml(replace(sequence_rule, version=3))
    assert text.startswith("[metadata]\ncreation_date = \"2024/01/02\"\n")
    assert "\nversion = 3\n" in text
    assert "\nquery = '''\nsequence by host.id" in text
    assert "\n[[rule.threat]]\n" in text and "\n[[rule.threat.technique.subtechnique]]\n" in text
    # Kibana's defaults are not spelt out in repository files.
    assert "interval" not in text and "max_signals" not in text
    assert text.index("[rule.investigation_fields]") < text.index("[[rule.threat]]") < text.index("[transform]")
    assert text.rstrip().endswith('[lab_notes]\nowner = "tests"')


def test_written_query_is_located(sequence_rule: Rule) -> None:
    text = rule_to_toml(sequence_rule)
    again = rule_from_toml(text, "written.toml")
    assert again.source is not None and again.source.query_line is not None
    assert text.split("\n")[again.source.query_line - 1] == "sequence by host.id with maxspan=30s"


def test_new_terms_repository_shape_becomes_flat_api_fields() -> None:
    rule = load(TOML / "new_terms.toml")
    assert (rule.new_terms_fields, rule.history_window_start) == (("user.name", "host.id"), "now-7d")
    assert "new_terms" not in rule.extra
    written = tomllib.loads(rule_to_toml(rule))["rule"]
    assert written["new_terms"] == {
        "field": "new_terms_fields", "value": ["user.name", "host.id"],
        "history_window_start": [{"field": "history_window_start", "value": "now-7d"}]}


AWKWARD_STRINGS = [
    "contains ''' three quotes\nand a newline",
    "ends with a quote '\n'",
    "control \x01 char\nline two",
    "tabs\tand \\ backslashes\nC:\\Windows\\",
    "\nstarts with a newline",
    'quotes " and """ inside\n',
]


@pytest.mark.parametrize("query", AWKWARD_STRINGS)
def test_awkward_strings_round_trip_and_stay_located(query: str) -> None:
    rule = Rule.from_dict({"rule_id": "r", "name": "n", "description": "d", "type": "eql", "query": query,
                           "risk_score": 1, "severity": "low"})
    text = rule_to_toml(rule)
    again = rule_from_toml(text, "a.toml")
    assert again == rule
    assert again.source is not None
    lines = text.split("\n")
    for number, line in enumerate(query.split("\n"), 1):
        for col, char in enumerate(line, 1):
            position = again.source.file_position(number, col)
            assert position is not None
            assert lines[position[0] - 1][position[1] - 1] in (char, "\\")


def test_unusual_keys_and_values_round_trip() -> None:
    extra = {
        "odd key.with dots": "v", "$state": {"store": "appState"}, "when": dt.date(2024, 1, 2),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "ratio": 0.25, "huge": float("inf"),
        "mixed": [1, "two", {"three": 3}], "tables": [{"a": 1}, {"a": 2, "sub": {"b": [{"c": 1}]}}],
        "empty_table": {}, "empty_list": [],
    }
    rule = Rule.from_dict({"rule_id": "r", "name": "n", "description": "d", "type": "eql", "risk_score": 1,
                           "severity": "low", **extra})
    assert rule_from_toml(rule_to_toml(rule)) == rule


def test_null_values_cannot_be_written_silently() -> None:
    rule = Rule.from_dict({"rule_id": "r", "name": "n", "description": "d", "type": "eql", "risk_score": 1,
                           "severity": "low", "outcome": None, "keep": [1, None]})
    with pytest.raises(ValueError, match=r"rule\.keep\[1\] is null"):
        rule_to_toml(rule)
    assert rule_from_toml(rule_to_toml(rule, drop_nulls=True)).extra == {"keep": [1]}


def test_version_in_file_is_loaded() -> None:
    text = (TOML / "kuery_query.toml").read_text().replace('type = "query"', 'type = "query"\nversion = 12')
    assert rule_from_toml(text).version == 12


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("name", "line", "col", "message"), [
    ("syntax_error.toml", 5, 15, "TOML syntax error: Illegal character '\\n'"),
    ("missing_name.toml", 4, 1, "[rule] name: required field is missing"),
    ("wrong_type.toml", 4, 1, "[rule] risk_score: expected an integer, got a string"),
])
def test_broken_files_give_located_errors(name: str, line: int, col: int, message: str) -> None:
    path = BROKEN / name
    with pytest.raises(RuleError) as caught:
        load(path)
    error = caught.value
    assert (error.path, error.line, error.col, error.message) == (str(path), line, col, message)


def test_missing_rule_table() -> None:
    with pytest.raises(RuleError, match=r"no \[rule\] table") as caught:
        rule_from_toml('[metadata]\nmaturity = "production"\n', "meta_only.toml")
    assert caught.value.path == "meta_only.toml"


def test_error_at_end_of_document_has_a_position() -> None:
    with pytest.raises(RuleError) as caught:
        rule_from_toml('[rule]\nname = """never closed\n', "eof.toml")
    assert caught.value.line is not None and caught.value.col is not None


def test_nested_error_points_at_the_right_array_element() -> None:
    text = (TOML / "eql_sequence.toml").read_text() + (
        '\n[[rule.threat]]\nframework = "MITRE ATT&CK"\n\n[rule.threat.tactic]\nid = 8\n')
    with pytest.raises(RuleError) as caught:
        rule_from_toml(text, "x.toml")
    lines = text.split("\n")
    assert caught.value.line is not None
    assert lines[caught.value.line - 1] == "id = 8"
    assert caught.value.message == "[rule] threat[1].tactic.id: expected a string, got an integer"


@pytest.mark.parametrize("text", [
    'a = 1979-05-27T00:32:00.5-07:00\nb = [1979-05-27T07:32:00Z]',  # offsets: tomllib's time zones
    "a = 1e1000",  # rtoml refuses what tomllib reads (as inf)
    # TOML 1.1, which rtoml reads and tomllib (TOML 1.0) refuses: tomllib's error, not rtoml's document
    'a = "\\x41"', 'a = "\\e"', "a = {d = 1,}", "a = {\nd = 1}", "a = 07:32", "a = 1979-05-27T07:32",
    "\u00e9 = 1", "\u043a\u043b\u044e\u0447 = 1",
    'a = 1979-05-27T07:32:00\nb = 1979-05-27\nc = 07:32:00\nd = 0x1F\ne = """\nx\\\n  y"""\nf = {g = [1, "h"]}',
])
def test_toml_is_read_as_tomllib_reads_it(text: str) -> None:
    import tomllib

    from eqlite.rules.toml_format import _parse

    def read(parse: Any) -> str:
        try:
            return repr(parse(text))
        except tomllib.TOMLDecodeError as error:
            return f"error: {error}"

    assert read(_parse) == read(tomllib.loads)


def test_toml_errors_are_tomllib_errors_with_their_position() -> None:
    with pytest.raises(RuleError, match="TOML syntax error") as caught:
        rule_from_toml("[rule]\nname = 'x'\nname = 'y'\n", "dup.toml")
    assert (caught.value.line, caught.value.col) == (3, 11)
