"""Telling file formats apart, and what a folder of inputs yields."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from eqlite.sources.base import SourceStats
from eqlite.sources.reader import detect, read_events

EVENT = b'{"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": ["process"]}, "process": {"name": "a.exe"}}\n'


@pytest.mark.parametrize("content,expected", [
    (gzip.compress(EVENT * 3), "ndjson"),
    (gzip.compress(b""), "empty"),
    (gzip.compress(b"  \n"), "empty"),
    (gzip.compress(b"plain text, not events\n"), "unknown"),
    (gzip.compress(b'{"EventID": 4624, "Channel": "Security"}\n'), "unknown"),  # Windows-event JSON: not read gzipped
    (gzip.compress(EVENT * 3)[:30], "unknown"),  # cut short
    (EVENT, "ndjson"),
])
def test_a_gzip_file_is_told_by_what_it_holds(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    assert detect(str(path)) == expected


def test_gzip_ndjson_found_in_a_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson").write_bytes(EVENT)
    (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(EVENT * 2))
    (tmp_path / "notes.txt.gz").write_bytes(gzip.compress(b"not events\n"))
    stats = SourceStats()
    events = list(read_events([str(tmp_path)], stats))
    assert [Path(event.path).name for event in events] == ["a.ndjson", "b.ndjson.gz", "b.ndjson.gz"]
    assert [str(problem) for problem in stats.problems] == [
        f"{tmp_path / 'notes.txt.gz'}: warning: not an event file (not NDJSON, EVTX or Windows-event JSON); skipped"]


def test_a_file_that_cannot_be_opened_is_reported_and_the_others_are_read(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.sources import reader
    from eqlite.sources.windows import detect as windows_detect

    for name in ("a.ndjson", "b.ndjson", "c.ndjson"):
        (tmp_path / name).write_bytes(EVENT)
    real = windows_detect.detect_format

    def gone(path: str) -> str:
        if str(path).endswith("b.ndjson"):
            raise FileNotFoundError(2, "No such file or directory")
        return real(path)

    monkeypatch.setattr("eqlite.sources.windows.detect_format", gone)
    stats = SourceStats()
    events = list(reader.read_events([str(tmp_path)], stats))
    assert [Path(event.path).name for event in events] == ["a.ndjson", "c.ndjson"]
    assert [str(problem) for problem in stats.problems] == [
        f"{tmp_path / 'b.ndjson'}: error: cannot read: No such file or directory"]
