"""``eqlite query``: the output contract, exit codes and bad-input handling."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from eqlite.cli.main import main

EVENTS = [
    {"@timestamp": f"2024-01-01T00:00:0{i}Z", "event": {"category": category}, "n": i, "k": "x"}
    for i, category in enumerate(["process", "file", "process", "network", "process"], start=1)
]


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(event) + "\n" for event in EVENTS))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line], captured.err


def test_event_hits_have_index_id_and_source(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    code, hits, _ = _run(capsys, "query", "process where n > 1", str(events_file))
    assert code == 0
    assert [hit["_source"]["n"] for hit in hits] == [3, 5]  # type: ignore[index]
    assert {hit["_index"] for hit in hits} == {"events"}
    assert all(isinstance(hit["_id"], str) and len(hit["_id"]) == 20 for hit in hits)


def test_ids_are_stable_across_runs(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    first = _run(capsys, "query", "any where true", str(events_file))[1]
    second = _run(capsys, "query", "any where true", str(events_file))[1]
    assert [hit["_id"] for hit in first] == [hit["_id"] for hit in second]


def test_index_option_names_the_index(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    _, hits, _ = _run(capsys, "query", "--index", "logs-x", "any where true", str(events_file))
    assert {hit["_index"] for hit in hits} == {"logs-x"}


def test_size_head_and_tail(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    _, head, _ = _run(capsys, "query", "--size", "2", "any where true", str(events_file))
    _, tail, _ = _run(capsys, "query", "--size", "2", "--tail", "any where true", str(events_file))
    assert [hit["_source"]["n"] for hit in head] == [1, 2]  # type: ignore[index]
    assert [hit["_source"]["n"] for hit in tail] == [4, 5]  # type: ignore[index]


def test_sequence_hits_and_missing_placeholders(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    query = "sequence by k with maxspan=1h [process where n == 1] ![network where true] [file where true]"
    _, hits, _ = _run(capsys, "query", query, str(events_file))
    assert len(hits) == 1
    assert hits[0]["join_keys"] == ["x"]
    events = hits[0]["events"]
    assert events[1] == {"_index": "", "_id": "", "missing": True}  # type: ignore[index]
    assert [events[0]["_source"]["n"], events[2]["_source"]["n"]] == [1, 2]  # type: ignore[index]


def test_invalid_query_exits_2_with_caret(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    code, hits, err = _run(capsys, "query", "process where n = 1", str(events_file))
    assert code == 2 and hits == []
    assert "ParseError at 1:17" in err and "^" in err


def test_missing_file_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "query", "any where true", str(tmp_path / "nope.ndjson"))
    assert code == 1
    assert "nope.ndjson" in err


def test_malformed_line_is_reported_and_skipped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(EVENTS[0]) + "\n{broken\n[1,2]\n" + json.dumps(EVENTS[2]) + "\n")
    code, hits, err = _run(capsys, "query", "process where true", str(path))
    assert code == 0
    assert len(hits) == 2
    assert f"{path}:2: error: not valid JSON" in err
    assert f"{path}:3: error: expected a JSON object" in err


def test_gzip_and_envelopes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "hits.json.gz"
    with gzip.open(path, "wt") as handle:
        for number, event in enumerate(EVENTS):
            handle.write(json.dumps({"_index": "idx-a", "_id": f"id{number}", "_source": event}) + "\n")
    _, hits, _ = _run(capsys, "query", "network where true", str(path))
    assert hits == [{"_index": "idx-a", "_id": "id3", "_source": EVENTS[3]}]


def test_stdin(events_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eqlite.cli.main", "query", "file where true", "-"],
        input=events_file.read_bytes(), capture_output=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [hit["_source"]["n"] for hit in hits] == [2]
    assert hits[0]["_index"] == "stdin"


def test_table_format(capsys: pytest.CaptureFixture[str], events_file: Path) -> None:
    code = main(["query", "--format", "table", "process where n > 1", str(events_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["#", "@timestamp", "_index"]
    assert "2024-01-01T00:00:03.000Z" in out
