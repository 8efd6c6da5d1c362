"""Content-based format detection."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from eqlite.sources.windows import detect_format
from eqlite.sources.windows.detect import classify_head


def test_formats_by_content_not_name(tmp_path: Path) -> None:
    evtx = tmp_path / "a.json"
    evtx.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    archive = tmp_path / "a.evtx"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x.json", "{}")
    winevent = tmp_path / "a.ndjson"
    winevent.write_text('\n{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}\n')
    ecs = tmp_path / "b.evtx"
    ecs.write_text(
        '{"@timestamp": "2020-01-01T00:00:00Z", "winlog": {"event_id": "1"}, "EventID": 1, "Channel": "x"}\n'
    )
    empty = tmp_path / "c.evtx"
    empty.write_bytes(b"")
    text = tmp_path / "d.txt"
    text.write_text("hello\n")
    found = [detect_format(p) for p in (evtx, archive, winevent, ecs, empty, text)]
    assert found == ["evtx", "zip", "winevent-json", "ndjson", "empty", "unknown"]


def test_winlogbeat6_lines_are_windows_events() -> None:
    assert classify_head(b'{"event_id": 4624, "log_name": "Security", "event_data": {}}\n') == "winevent-json"


def test_first_line_longer_than_the_peek_is_read_to_its_end() -> None:
    line = b'{"EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational", "ScriptBlockText": "'
    line += b"A" * 200_000 + b'"}\n'
    stream = io.BytesIO(line)
    head = stream.read(1 << 16)
    assert classify_head(head, stream) == "winevent-json"
