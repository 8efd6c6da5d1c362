"""``eqlite executions list|show`` and ``eqlite status``: tables for people, JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eqlite.cli.main import main
from tests.scheduler.helpers import MINUTE, chain, iso, ms, write_lines

START = ms("2024-05-14T08:00:00Z")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one replay: 8 runs, one of them late (catch-up and a gap), one chain alerted."""
    folder = tmp_path_factory.mktemp("executions")
    events = folder / "events.ndjson"
    write_lines(events, chain(1, START + 3 * MINUTE))
    path = folder / "eqlite.db"
    assert main(["run", "--replay", "--quiet", "--store", str(path), "--start", iso(START), "--end",
                 iso(START + 60 * MINUTE), "--pause", "2024-05-14T08:10:00Z/30m", str(events)]) == 0
    return path


def _json_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_list_is_latest_first_with_the_counts_of_each_run(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    entries = _json_lines(capsys, "executions", "list", "--store", str(store), "--format", "json")
    assert [entry["started"] for entry in entries][:3] == ["2024-05-14T09:00:00.000Z", "2024-05-14T08:55:00.000Z",
                                                           "2024-05-14T08:50:00.000Z"]
    assert [entry["written"] for entry in entries if entry["written"]] == [3]
    assert all(entry["mode"] == "replay" for entry in entries)


def test_list_filters_by_status_and_rule(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    failed = _json_lines(capsys, "executions", "list", "--store", str(store), "--format", "json", "--status", "failed")
    assert [(entry["started"], entry["gap_duration_ms"]) for entry in failed] == [("2024-05-14T08:40:00.000Z",
                                                                                   6 * MINUTE)]
    assert _json_lines(capsys, "executions", "list", "--store", str(store), "--format", "json", "--rule",
                       "no such rule") == []
    assert len(_json_lines(capsys, "executions", "list", "--store", str(store), "--format", "json", "--rule",
                           "dcom lateral", "--limit", "2")) == 2


def test_list_table_in_utc_and_in_a_zone(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    assert main(["executions", "list", "--store", str(store)]) == 0
    utc = capsys.readouterr().out
    assert "2024-05-14T08:40:00.000Z" in utc and "+4 catch-up" in utc and "failed" in utc
    assert main(["executions", "list", "--store", str(store), "--tz", "America/New_York"]) == 0
    assert "2024-05-14 04:40:00.000-04:00" in capsys.readouterr().out


def test_show_prints_windows_and_gap(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    (late,) = _json_lines(capsys, "executions", "list", "--store", str(store), "--format", "json", "--status",
                          "failed")
    assert main(["executions", "show", str(late["seq"]), "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert "6 minutes (360000 ms) not searched: 2024-05-14T08:05:00.000Z .. 2024-05-14T08:11:00.000Z" in text
    assert text.count(" .. ") >= 6
    (shown,) = _json_lines(capsys, "executions", "show", str(late["execution_uuid"])[:12], "--store", str(store),
                           "--format", "json")
    assert shown == late


def test_show_unknown_run_fails(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    assert main(["executions", "show", "zzzz", "--store", str(store)]) == 1
    assert "no run 'zzzz'" in capsys.readouterr().err


def test_status_without_a_watch(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    (report,) = _json_lines(capsys, "status", "--store", str(store), "--format", "json")
    assert report["running"] is False and report["files"] == [] and report["rules"] == []
    assert main(["status", "--store", str(store)]) == 0
    assert "not running" in capsys.readouterr().out


def test_a_store_without_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    write_lines(events, chain(1, START))
    path = tmp_path / "hunt.db"
    assert main(["run", "--quiet", "--store", str(path), str(events)]) == 0
    capsys.readouterr()
    assert main(["executions", "list", "--store", str(path)]) == 0
    assert "no runs recorded yet" in capsys.readouterr().err
    assert main(["executions", "list", "--store", str(tmp_path / "missing.db")]) == 1
