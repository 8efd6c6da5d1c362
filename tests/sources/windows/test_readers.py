"""Readers: every readable record is processed, every unreadable one is reported with its place."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from eqlite.sources.base import SourceStats
from eqlite.sources.windows import Mapper, read_windows_file
from tests.conftest import shared_path

SYSMON_LINE = {
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Hostname": "WS6",
    "SourceName": "Microsoft-Windows-Sysmon",
    "UtcTime": "2020-09-18 17:05:52.782",
    "ProcessGuid": "{d273d0f0-e8f0-5f64-ff00-000000000800}",
    "ProcessId": "3216",
    "Image": "C:\\Windows\\System32\\cmd.exe",
    "@timestamp": "2020-09-18T17:07:52.058Z",
}
UNKNOWN_LINE = {"EventID": 5858, "Channel": "Microsoft-Windows-WMI-Activity/Operational", "Hostname": "WS6"}
MMC20 = ("datasets", "attack", "evtx-attack-samples", "Lateral Movement", "LM_impacket_docmexec_mmc_sysmon_01.evtx")
BIG_EVTX = (
    "datasets",
    "background",
    "evtx-attack-samples",
    "AutomatedTestingTools",
    "PanacheSysmon_vs_AtomicRedTeam01.evtx",
)


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_lines_bad_lines_are_problems_with_line_numbers(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "x.json", [json.dumps(SYSMON_LINE), "{not json", "[1]", '{"a": 1}', json.dumps(UNKNOWN_LINE)]
    )
    stats = SourceStats()
    events = list(read_windows_file(path, stats=stats))
    assert [(e.position, e.source["event"]["code"]) for e in events] == [(1, "1"), (5, "5858")]
    assert [(p.position, p.severity) for p in stats.problems] == [(2, "error"), (3, "error"), (4, "error")]
    file_stats = stats.files[str(path)]
    assert (file_stats.format, file_stats.records, file_stats.events, file_stats.errors) == ("winevent-json", 5, 2, 3)
    assert file_stats.unmapped == {"Microsoft-Windows-WMI-Activity/Operational:5858": 1}
    assert events[0].index == "winlogbeat-8.17.0"
    assert events[0].source["process"]["entity_id"] == "{d273d0f0-e8f0-5f64-ff00-000000000800}"


def test_empty_file_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "empty.evtx"
    path.write_bytes(b"")
    stats = SourceStats()
    assert list(read_windows_file(path, stats=stats)) == []
    assert [(p.severity, p.message) for p in stats.problems] == [("warning", "empty file")]
    assert stats.errors == 0


def test_plain_ndjson_is_left_to_the_ndjson_source(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "ecs.ndjson", ['{"@timestamp": "2021-01-01T00:00:00Z", "event": {"code": "1"}}'])
    stats = SourceStats()
    assert list(read_windows_file(path, stats=stats)) == []
    assert stats.problems[0].severity == "warning"
    assert "NDJSON" in stats.problems[0].message


def test_missing_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    stats = SourceStats()
    assert list(read_windows_file(tmp_path / "nope.evtx", stats=stats)) == []
    assert stats.errors == 1


def test_zip_members_are_streamed_with_their_own_labels(tmp_path: Path) -> None:
    archive = tmp_path / "mordor.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("host/a.json", json.dumps(SYSMON_LINE) + "\n" + json.dumps(UNKNOWN_LINE) + "\n")
        zf.writestr("host/empty.json", "")
        zf.writestr("readme.txt", "not events\n")
    stats = SourceStats()
    events = list(read_windows_file(archive, "agent", stats=stats))
    assert [e.path for e in events] == [f"{archive}!host/a.json"] * 2
    assert [e.index for e in events] == ["logs-windows.sysmon_operational-default", "logs-winlog.winlog-default"]
    problems = {(p.path.rsplit("!", 1)[-1], p.severity) for p in stats.problems}
    assert problems == {("host/empty.json", "warning"), ("readme.txt", "error")}


def test_zip_holding_an_evtx(tmp_path: Path) -> None:
    source = shared_path(
        "datasets", "attack", "evtx-attack-samples", "Lateral Movement", "LM_impacket_docmexec_mmc_sysmon_01.evtx"
    )
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source, "mmc.evtx")
    events = list(read_windows_file(archive))
    assert len(events) == 9
    # Positions are the EVTX record numbers the parser's error messages use; EventRecordID is separate.
    assert (events[0].position, events[0].source["winlog"]["record_id"]) == (1, "9832")


def test_corrupt_chunk_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    data = bytearray(shared_path(*BIG_EVTX).read_bytes())
    chunk1 = 4096 + 65536
    data[chunk1 + 600 : chunk1 + 664] = b"\xff" * 64  # inside the string table of the second chunk
    path = tmp_path / "corrupt.evtx"
    path.write_bytes(bytes(data))
    stats = SourceStats()
    events = list(read_windows_file(path, stats=stats))
    assert len(events) == 522  # 565 records, less the 43 of the damaged chunk
    assert stats.errors == 1
    problem = stats.problems[0]
    assert problem.path == str(path)
    assert problem.position == 45  # first record number of the damaged chunk
    assert "record IDs 45..87" in problem.message


def test_corrupt_record_is_reported_with_its_number(tmp_path: Path) -> None:
    data = bytearray(shared_path(*BIG_EVTX).read_bytes())
    start = 4096 + 2 * 65536 + 5000
    data[start : start + 64] = b"\xff" * 64
    path = tmp_path / "record.evtx"
    path.write_bytes(bytes(data))
    stats = SourceStats()
    events = list(read_windows_file(path, stats=stats))
    assert len(events) == 564
    assert [p.position for p in stats.problems] == [89]


def test_truncated_file_yields_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "truncated.evtx"
    path.write_bytes(shared_path(*BIG_EVTX).read_bytes()[:300_000])
    stats = SourceStats()
    events = list(read_windows_file(path, stats=stats))
    assert 0 < len(events) < 565
    assert stats.errors == 0


def test_header_only_evtx_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "header.evtx"
    path.write_bytes(shared_path(*BIG_EVTX).read_bytes()[:4096])
    stats = SourceStats()
    assert list(read_windows_file(path, stats=stats)) == []
    assert [(p.severity, p.message) for p in stats.problems] == [("warning", "EVTX file holds no records")]


def test_path_with_spaces_and_odd_extension(tmp_path: Path) -> None:
    source = shared_path(
        "datasets", "attack", "evtx-attack-samples", "Lateral Movement", "LM_impacket_docmexec_mmc_sysmon_01.evtx"
    )
    target = tmp_path / "a dir" / "records.bin"
    target.parent.mkdir()
    shutil.copy(source, target)
    assert len(list(read_windows_file(target))) == 9


def test_a_record_the_direct_path_fails_on_is_read_again_the_normalized_way(monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared_path(*MMC20)
    expected = [(e.position, orjson.dumps(e.source), e.index) for e in read_windows_file(path)]

    def broken(self: Mapper, event: Any) -> None:
        event["EventData"].clear()  # leaves the record half changed, as a failing step would
        raise ValueError("boom")

    monkeypatch.setattr(Mapper, "map_evtx", broken)
    stats = SourceStats()
    got = [(e.position, orjson.dumps(e.source), e.index) for e in read_windows_file(path, stats=stats)]
    assert got == expected
    assert stats.problems == []


def test_head_of_a_short_text_file_is_still_classified(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "short.json", [json.dumps(UNKNOWN_LINE)])
    assert [e.source["event"]["code"] for e in read_windows_file(path)] == ["5858"]
