"""Following files: appends, half-written lines, new files, rotation, truncation, removal, restarts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from eqlite.scheduler.tail import Batch, FileCheckpoint, Tailer
from eqlite.sources.base import SourceStats
from eqlite.sources.ndjson import stable_id
from tests.conftest import shared_path


def _line(n: int) -> bytes:
    return b'{"@timestamp": "2024-05-14T08:00:%02dZ", "n": %d}\n' % (n % 60, n)


def _append(path: Path, *numbers: int) -> None:
    with open(path, "ab") as handle:
        for n in numbers:
            handle.write(_line(n))


def _poll(tailer: Tailer) -> list[Batch]:
    return list(tailer.poll(SourceStats()))


def _numbers(batches: list[Batch]) -> list[int]:
    return [event.source["n"] for batch in batches for event in batch.events]


def test_appended_lines_are_read_once(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1, 2)
    tailer = Tailer([str(path)], {})
    assert _numbers(_poll(tailer)) == [1, 2]
    assert _poll(tailer) == []
    _append(path, 3)
    batches = _poll(tailer)
    assert _numbers(batches) == [3]
    assert (batches[-1].checkpoint.line, batches[-1].checkpoint.offset) == (3, path.stat().st_size)


def test_a_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1)
    with open(path, "ab") as handle:
        handle.write(_line(2)[:10])
    tailer = Tailer([str(path)], {})
    assert _numbers(_poll(tailer)) == [1]
    assert _poll(tailer) == []
    with open(path, "ab") as handle:
        handle.write(_line(2)[10:])
    assert _numbers(_poll(tailer)) == [2]


def test_ids_and_positions_match_a_whole_file_read(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1)
    with open(path, "ab") as handle:
        handle.write(b"\n")  # a blank line still counts as a line
    tailer = Tailer([str(path)], {})
    _poll(tailer)
    _append(path, 3)
    event = _poll(tailer)[0].events[0]
    assert event.position == 3 and event.id == stable_id("", 3, _line(3))


def test_batches_are_bounded_and_carry_their_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, *range(10))
    batches = _poll(Tailer([str(path)], {}, batch_events=4))
    assert [len(b.events) for b in batches] == [4, 4, 2]
    assert [b.checkpoint.line for b in batches] == [4, 8, 10]
    assert batches[0].checkpoint.offset == sum(len(_line(n)) for n in range(4))


def test_new_files_in_a_directory_are_picked_up(tmp_path: Path) -> None:
    _append(tmp_path / "a.ndjson", 1)
    tailer = Tailer([str(tmp_path)], {})
    assert _numbers(_poll(tailer)) == [1]
    _append(tmp_path / "b.ndjson", 2)
    (tmp_path / ".hidden.ndjson").write_bytes(_line(9))
    assert _numbers(_poll(tailer)) == [2]


def test_rotation_by_rename_reads_on_in_the_old_file_and_the_new_one_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "app.ndjson"
    _append(path, 1)
    tailer = Tailer([str(tmp_path)], {})
    _poll(tailer)
    _append(path, 2)
    path.rename(tmp_path / "app.ndjson.1")
    _append(path, 3)
    assert sorted(_numbers(_poll(tailer))) == [2, 3]
    assert any("renamed" in notice for notice in tailer.notices)


def test_a_file_rotated_out_of_the_watched_paths_is_read_to_its_end(tmp_path: Path) -> None:
    watched = tmp_path / "app.ndjson"
    _append(watched, 1)
    tailer = Tailer([str(watched)], {})
    _poll(tailer)
    _append(watched, 2)
    os.rename(watched, tmp_path / "archived.ndjson")
    _append(watched, 3)
    batches = _poll(tailer)
    assert _numbers(batches) == [2, 3]
    assert any(b.checkpoint.status == "gone" for b in batches)
    assert any("replaced by a new file" in notice for notice in tailer.notices)


def test_truncation_is_reported_and_the_file_read_again(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1, 2, 3)
    tailer = Tailer([str(path)], {})
    _poll(tailer)
    path.write_bytes(_line(7))
    assert _numbers(_poll(tailer)) == [7]
    assert any("was truncated" in notice for notice in tailer.notices)


def test_removal_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1)
    tailer = Tailer([str(tmp_path)], {})
    _poll(tailer)
    path.unlink()
    batches = _poll(tailer)
    assert [b.checkpoint.status for b in batches] == ["gone"]
    assert _poll(tailer) == [] and sum("removed" in n for n in tailer.notices) == 1


def test_a_restart_resumes_from_the_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1, 2)
    first = Tailer([str(path)], {})
    checkpoints = {b.checkpoint.identity: b.checkpoint for b in _poll(first)}
    first.close()
    _append(path, 3)
    assert _numbers(_poll(Tailer([str(path)], checkpoints))) == [3]


def test_a_new_file_on_a_reused_inode_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1, 2)
    first = Tailer([str(path)], {})
    (checkpoint,) = [b.checkpoint for b in _poll(first)]
    first.close()
    os.truncate(path, 0)
    _append(path, 8, 9, 10)  # same inode, other content, longer than what was read
    assert _numbers(_poll(Tailer([str(path)], {checkpoint.identity: checkpoint}))) == [8, 9, 10]


def test_missing_paths_are_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "later.ndjson"
    tailer = Tailer([str(path)], {})
    assert _poll(tailer) == [] and "waiting" in tailer.notices[0]
    _append(path, 1)
    assert _numbers(_poll(tailer)) == [1]


def test_files_that_hold_no_events_are_skipped_once(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("not events\n")
    tailer = Tailer([str(tmp_path)], {})
    assert _numbers(_poll(tailer)) == []
    assert _poll(tailer) == [] and len(tailer.notices) == 1


def test_bad_lines_are_problems_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    _append(path, 1)
    with open(path, "ab") as handle:
        handle.write(b"{not json\n")
    _append(path, 3)
    stats = SourceStats()
    events = [e.source["n"] for b in Tailer([str(path)], {}).poll(stats) for e in b.events]
    assert events == [1, 3] and str(stats.problems[0]).startswith(f"{path}:2: error: not valid JSON")


def test_windows_event_json_lines_are_mapped(tmp_path: Path) -> None:
    path = tmp_path / "security.json"
    path.write_bytes(b'{"EventID": 4688, "Channel": "Security", "Hostname": "WKS1", '
                     b'"EventTime": "2024-05-14 08:00:00", "EventReceivedTime": "2024-05-14 08:00:01", '
                     b'"NewProcessName": "C:\\\\Windows\\\\System32\\\\cmd.exe", "NewProcessId": "0x10"}\n')
    (batch,) = _poll(Tailer([str(path)], {}))
    assert batch.checkpoint.format == "winevent-json"
    assert batch.events[0].source["process"]["name"] == "cmd.exe" and batch.events[0].index


def test_evtx_records_are_read_once_by_record_number(tmp_path: Path) -> None:
    source = shared_path("datasets", "attack", "evtx-attack-samples", "Lateral Movement",
                         "LM_impacket_docmexec_mmc_sysmon_01.evtx")
    path = tmp_path / "sysmon.evtx"
    shutil.copyfile(source, path)
    tailer = Tailer([str(path)], {})
    batches = _poll(tailer)
    events = [e for b in batches for e in b.events]
    checkpoint = batches[-1].checkpoint
    assert events and checkpoint.format == "evtx" and checkpoint.record == max(e.position for e in events)
    tailer.close()
    with open(path, "ab") as handle:
        handle.write(b"\0" * 16)  # the file changed, but holds no new record
    again = Tailer([str(path)], {checkpoint.identity: checkpoint})
    assert [e for b in again.poll(SourceStats()) for e in b.events] == []


def test_checkpoint_fields_round_trip() -> None:
    checkpoint = FileCheckpoint("1:2", "a", "ndjson", 10, 10, 2, 0, "active", "", "ab")
    assert FileCheckpoint(*[getattr(checkpoint, name) for name in checkpoint.__dataclass_fields__]) == checkpoint
