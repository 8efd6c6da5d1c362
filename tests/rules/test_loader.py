"""load_rules: folder walks, bad files among good ones, file-level errors; lookups; saving."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eqlite.rules.loader import check_queries, find_rule, find_rules, load_rule_file, load_rules, save_rules
from eqlite.rules.toml_format import rule_to_toml
from tests.conftest import FIXTURES

RULES = FIXTURES / "rules"


@pytest.fixture
def rule_tree(tmp_path: Path) -> Path:
    """good and broken TOML files, an export with a bad line, and files the walk must skip."""
    (tmp_path / "windows").mkdir()
    (tmp_path / "_deprecated").mkdir()
    (tmp_path / ".git").mkdir()
    shutil.copy(RULES / "toml" / "eql_sequence.toml", tmp_path / "windows" / "a_sequence.toml")
    shutil.copy(RULES / "broken" / "syntax_error.toml", tmp_path / "windows" / "b_broken.toml")
    shutil.copy(RULES / "toml" / "kuery_query.toml", tmp_path / "windows" / "c_kuery.toml")
    shutil.copy(RULES / "toml" / "eql_sequence.toml", tmp_path / "_deprecated" / "old.toml")
    shutil.copy(RULES / "kibana" / "one_bad_line.ndjson", tmp_path / "export.ndjson")
    shutil.copy(RULES / "toml" / "kuery_query.toml", tmp_path / ".git" / "hidden.toml")
    (tmp_path / "README.md").write_text("not a rule")
    return tmp_path


def test_walk_loads_everything_it_can(rule_tree: Path) -> None:
    result = load_rules(rule_tree)
    assert result.files == 5
    assert [rule.name for rule in result.rules] == [
        "Shell After Logon", "KQL In Export", "Last Good", "Shell After Logon", "KQL Example"]
    assert [(Path(error.path).name, error.line) for error in result.errors] == [
        ("export.ndjson", 2), ("export.ndjson", 3), ("export.ndjson", 4), ("b_broken.toml", 5)]


def test_deprecated_folder_is_recognised(rule_tree: Path) -> None:
    result = load_rules(rule_tree)
    deprecated = [rule for rule in result.rules if rule.is_deprecated]
    assert [Path(rule.source.path).parent.name for rule in deprecated if rule.source] == ["_deprecated"]
    assert len(result.active()) == len(result.rules) - 1


def test_several_paths_and_explicit_files(rule_tree: Path) -> None:
    result = load_rules([rule_tree / "windows" / "c_kuery.toml", RULES / "kibana" / "fleet_asset.json"])
    assert [rule.name for rule in result.rules] == ["KQL Example", "Fleet Asset Rule"]
    assert result.ok


def test_missing_path_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result = load_rules([tmp_path / "nowhere", RULES / "toml" / "kuery_query.toml"])
    assert [rule.name for rule in result.rules] == ["KQL Example"]
    assert [(error.path, error.message) for error in result.errors] == [
        (str(tmp_path / "nowhere"), "no such file or directory")]


def test_explicit_file_of_another_type_is_an_error(rule_tree: Path) -> None:
    (error,) = load_rules(rule_tree / "README.md").errors
    assert "unsupported rule file type" in error.message


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[rule]\nname = "caf\xe9"\n')
    (error,) = load_rule_file(path).errors
    assert (error.line, error.col, error.message) == (2, 12, "the file is not UTF-8 text")


def test_crlf_and_bom_files_load_like_plain_ones(tmp_path: Path) -> None:
    text = (RULES / "toml" / "eql_sequence.toml").read_text()
    path = tmp_path / "windows_style.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (rule,) = load_rules(path).rules
    (plain,) = load_rules(RULES / "toml" / "eql_sequence.toml").rules
    assert rule == plain
    assert rule.source is not None and rule.source.query_line == 26


def test_find_by_id_or_name(rule_tree: Path) -> None:
    rules = load_rules(rule_tree).rules
    assert [rule.name for rule in find_rules(rules, "00000000-0000-4000-8000-000000000002")] == ["KQL Example"]
    assert [rule.rule_id for rule in find_rules(rules, "  shell after LOGON ")] == [
        "00000000-0000-4000-8000-000000000001"] * 2
    found = find_rule(rules, "kql example")
    assert found is not None and found.rule_id == "00000000-0000-4000-8000-000000000002"
    assert find_rule(rules, "no such rule") is None


def test_save_rules(tmp_path: Path) -> None:
    rules = load_rules(RULES / "toml").rules
    save_rules(rules, tmp_path / "all.ndjson")
    assert load_rules(tmp_path / "all.ndjson").rules == rules
    save_rules(rules[:1], tmp_path / "one.toml")
    assert (tmp_path / "one.toml").read_text() == rule_to_toml(rules[0])
    with pytest.raises(ValueError, match="exactly one rule"):
        save_rules(rules, tmp_path / "many.toml")


def test_query_syntax_errors_are_located_in_the_file(tmp_path: Path) -> None:
    text = (RULES / "toml" / "eql_sequence.toml").read_text().replace(
        'event.outcome == "success"', 'event.outcome = "success"')
    path = tmp_path / "typo.toml"
    path.write_text(text)
    (error,) = check_queries(load_rules([path, RULES / "toml" / "kuery_query.toml"]).rules)
    assert (error.path, error.line, error.col) == (str(path), 27, 39)
    assert text.split("\n")[26][38:].startswith('= "success"')
    assert error.message.startswith("rule 'Shell After Logon': '=' is not an EQL operator")


def test_query_errors_in_ndjson_point_into_the_line(tmp_path: Path) -> None:
    path = tmp_path / "typo.ndjson"
    path.write_text((RULES / "kibana" / "export.ndjson").read_text().replace("process.args :", "process.args ="))
    (error,) = check_queries(load_rules(path).rules)
    line = path.read_text().split("\n")[0]
    assert error.line == 1 and error.col is not None
    assert line[error.col - 1:].startswith('= \\"-\\\\\\"q')
