"""bench_alternate: versions of `eqlite run` taking turns, with their alerts compared."""

from __future__ import annotations

import json
from pathlib import Path

import bench_alternate
import pytest


def test_two_versions_take_turns_and_their_alerts_are_compared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_alternate, "DATA_DIR", tmp_path)
    out = tmp_path / "times.json"
    assert bench_alternate.main(["--code", "WORK", "--code", "HEAD", "--events", "4000", "--workload", "seed",
                                 "--rounds", "2", "--workers", "1", "--floor", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "alerts: the same in every run" in captured.out
    assert "÷ floor-1w of its round" in captured.out
    assert captured.err.count("round 1:") == 3 and captured.err.count("round 2:") == 3  # the floor, 2 versions
    document = json.loads(out.read_text())
    assert document["versions"][0]["code"] == "working tree"
    assert document["versions"][1]["code"].startswith("HEAD (")
    assert all(len(version["seconds"]) == 2 for version in document["versions"])
    assert len(document["floor_seconds"]) == 2
    assert all(len(version["of_floor"]) == 2 and all(share > 0 for share in version["of_floor"])
               for version in document["versions"])
    assert document["alerts_lines"] > 0 and document["alerts_differ"] == []


def test_different_alerts_fail_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_alternate, "DATA_DIR", tmp_path)
    calls: list[int] = []

    def sorted_lines(path: Path) -> list[bytes]:
        calls.append(1)
        return [b"alert\n"] * len(calls)  # each run's alerts differ from the first run's

    monkeypatch.setattr(bench_alternate, "sorted_lines", sorted_lines)
    assert bench_alternate.main(["--code", "WORK", "--code", "WORK", "--events", "4000", "--workload", "seed",
                                 "--rounds", "1", "--workers", "1"]) == 1
    assert "DIFFERENT for working tree" in capsys.readouterr().out


def test_one_version_is_not_enough(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_alternate.main(["--code", "WORK"])
    assert "two or more --code" in capsys.readouterr().err
