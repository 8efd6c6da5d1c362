"""Counting the fast path's instructions under callgrind (bench/bench_instructions.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bench_instructions import main, rows
from enginebench.code import SOURCE
from enginebench.data import ensure_data
from enginebench.instructions import Count, ToolMissing, count, parse_totals, tools

HAS_VALGRIND = shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def test_a_callgrind_file_without_totals_is_an_error() -> None:
    with pytest.raises(ValueError, match="totals"):
        parse_totals(b"events: Ir\n")


def test_rows_give_each_version_against_the_first() -> None:
    counts = [Count("old", 3_000, 10, {"lines": 10, "parsed": 10, "evaluated_stages": 20}),
              Count("new", 2_700, 10, {"lines": 10, "parsed": 7, "noted_only": 3, "evaluated_stages": 20})]
    table = rows(counts)
    assert [row[3] for row in table] == ["1.000", "0.900"]
    assert table[1][4] == "parsed 70.0%, noted_only 30.0%, stages tried a line 2.00"


def test_without_valgrind_the_command_says_what_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ToolMissing, match="valgrind"):
        tools()
    assert main(["--events", "4000"]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not HAS_VALGRIND, reason="Valgrind (valgrind, callgrind_control) is not installed")
def test_the_same_code_over_the_same_lines_counts_the_same(tmp_path: Path) -> None:
    """The count is a measure to compare versions by: it does not move between runs."""
    data = ensure_data(4_000, 0, tmp_path, log=lambda text: None)
    rules = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "detection-rules"
    first, second = (count("working tree", SOURCE, data.path, "seed", rules) for _ in range(2))
    assert first.work["lines"] == 4_000 and first.work["parsed"] > 0
    assert first.work == second.work
    assert abs(first.instructions - second.instructions) <= 0.001 * first.instructions  # (equal here)
