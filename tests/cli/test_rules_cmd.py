"""``eqlite rules check|list|show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eqlite.cli.main import main
from tests.conftest import FIXTURES, shared_path

GOOD = '''[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["eqlite tests"]
description = "A test rule."
from = "now-9m"
index = ["logs-endpoint.events.*"]
language = "eql"
license = "Apache-2.0"
name = "{name}"
risk_score = 21
rule_id = "{rule_id}"
severity = "low"
type = "{type}"
query = \'\'\'
{query}
\'\'\'
'''


def _write(directory: Path, name: str, query: str, rule_type: str = "eql") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(GOOD.format(name=name, rule_id=f"id-{name}", type=rule_type, query=query))
    return path


def _check(capsys: pytest.CaptureFixture[str], *paths: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["rules", "check", "--format", "json", *paths])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_all_ok_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _write(tmp_path, "fine", 'process where process.name : "cmd.exe"')
    code, results = _check(capsys, str(tmp_path))
    assert code == 0
    assert results[0]["status"] == "ok" and results[0]["error"] is None
    assert set(results[0]) == {"path", "rule_id", "name", "type", "language", "status", "error"}


def test_bad_query_is_located_in_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, "broken", 'process where\n  process.name = "cmd.exe"')
    _write(tmp_path, "fine", "process where true")
    code, results = _check(capsys, str(tmp_path))
    assert code == 1
    by_name = {result["name"]: result for result in results}
    assert by_name["fine"]["status"] == "ok"
    assert by_name["broken"]["status"] == "error"
    # The query starts on line 19 of the file; the '=' is on its second line, column 16.
    assert f"ParseError at {path}:20:16" in str(by_name["broken"]["error"])


def test_analysis_errors_are_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _write(tmp_path, "typed", "process where process.name == process.parent.name")
    code, results = _check(capsys, str(tmp_path))
    assert code == 1
    assert "AnalysisError" in str(results[0]["error"])


def test_other_rule_types_are_unsupported_not_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _write(tmp_path, "kql", 'process.name : "cmd.exe"', rule_type="query")
    code, results = _check(capsys, str(tmp_path))
    assert code == 0
    assert results[0]["status"] == "unsupported" and "query" in str(results[0]["error"])


def test_unloadable_file_is_reported_and_others_go_on(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "garbage.toml").write_text("[rule\nname = 1\n")
    _write(tmp_path, "fine", "process where true")
    code, results = _check(capsys, str(tmp_path))
    assert code == 1
    statuses = sorted(result["status"] for result in results)
    assert statuses == ["error", "ok"]
    error = next(result for result in results if result["status"] == "error")
    assert "garbage.toml:1" in str(error["error"])


def test_fixture_rules_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, results = _check(capsys, str(FIXTURES / "rules" / "toml"))
    assert results and all(result["status"] in ("ok", "unsupported") for result in results), results
    assert code == 0


def test_list_and_show_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list", "--format", "json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [rule["rule_id"] for rule in listed] == ["51ce96fb-9e52-4dad-b0ba-99b54440fc9a"]
    assert main(["rules", "show", "INCOMING DCOM lateral movement with MMC"]) == 0
    out = capsys.readouterr().out
    assert "TA0008" in out and "T1021.003" in out and "risk score 73" in out
    assert main(["rules", "show", "nope"]) == 1


@pytest.mark.slow
def test_whole_corpus_checks(capsys: pytest.CaptureFixture[str]) -> None:
    root = shared_path("datasets", "detection-rules")
    code, results = _check(capsys, str(root / "rules"), str(root / "rules_building_block"))
    assert code == 0
    eql = [result for result in results if result["language"] == "eql"]
    assert len(eql) >= 1024 and all(result["status"] == "ok" for result in eql)
    assert len(results) == 2192
