"""The candidate store: bounded memory, sorted runs on disk, merges that keep few runs per store."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from eqlite.scheduler import candidates
from eqlite.scheduler.candidates import Budget, CandidateStore, SpillFile


def _record(position: int, timestamp: int) -> candidates.Record:
    address = ipaddress.IPv6Address(position)
    return ((timestamp, None, position), 1, ([(address, f"key-{position}")],), ("idx", f"id-{position}", "f", position,
                                                                             ("f", position * 10)))


@pytest.mark.parametrize("chunk", [1, 5, 1024])
def test_many_spills_read_back_in_order_with_few_runs(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(candidates, "CHUNK", chunk)
    budget = Budget(limit=13)
    stores = [CandidateStore(budget) for _ in range(3)]
    expected: list[list[candidates.Record]] = [[] for _ in stores]
    order = list(range(3000))
    random.Random(5).shuffle(order)
    for position in order:
        record = _record(position, timestamp=position // 3)
        number = position % 3
        stores[number].append(record)
        expected[number].append(record)
    assert budget.spills > 100 and candidates.FAN_IN == 8
    for store, records in zip(stores, expected, strict=True):
        # Every level keeps fewer than FAN_IN (8) runs: far fewer runs than the store's 30-odd spills.
        assert len(store._runs) <= 14
        assert list(store.sorted()) == sorted(records, key=lambda record: record[0])
        assert len(store) == len(records)
    budget.close()


def _worker_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timestamps: list[int]
                 ) -> tuple[list[candidates.Written], int, list[candidates.Record]]:
    """The runs a worker leaves in its own file, four records each (as several workers would leave them)."""
    monkeypatch.setattr(candidates, "FAN_IN", 1000)
    worker_budget = Budget(limit=4, path=str(tmp_path / "worker.spill"))
    worker_store = CandidateStore(worker_budget)
    records = [_record(position, timestamp) for position, timestamp in enumerate(timestamps)]
    for record in records:
        worker_store.append(record)
    runs, count = worker_store.export()
    worker_budget.file.close(delete=False)
    monkeypatch.setattr(candidates, "FAN_IN", 8)
    return runs, count, records


def _adopted(tmp_path: Path, runs: list[candidates.Written], count: int) -> tuple[Budget, CandidateStore]:
    parent_budget = Budget(limit=4)
    parent_store = CandidateStore(parent_budget)
    spill = SpillFile.open(str(tmp_path / "worker.spill"))
    parent_budget.adopted.append(spill)
    parent_store.adopt(spill, runs, count)
    return parent_budget, parent_store


def test_adopted_runs_merge_into_the_parents_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs a worker wrote to its own file that overlap are merged, read from there, into the parent's file."""
    timestamps = list(range(200))
    random.Random(3).shuffle(timestamps)
    runs, count, records = _worker_runs(tmp_path, monkeypatch, timestamps)
    parent_budget, parent_store = _adopted(tmp_path, runs, count)
    assert len(runs) >= 40 and len(parent_store._runs) <= 14
    assert parent_budget.file._end > 0  # merged runs written there
    assert list(parent_store.sorted()) == sorted(records, key=lambda record: record[0])
    parent_budget.close()


@pytest.mark.parametrize("overlap", [False, True])
def test_runs_that_follow_one_another_are_chained_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         overlap: bool) -> None:
    """Runs in order one after the other (a file's ranges, sorted by time), in any order of adoption, are
    chained as they are, nothing rewritten; a group of runs where two overlap is merged."""
    timestamps = [1000 - position for position in range(200)]  # each run later than the next one written
    if overlap:
        timestamps[4], timestamps[5] = timestamps[5], timestamps[4]  # the first two runs overlap
    runs, count, records = _worker_runs(tmp_path, monkeypatch, timestamps)
    parent_budget, parent_store = _adopted(tmp_path, runs, count)
    assert len(runs) >= 40 and len(parent_store._runs) <= 14
    assert (parent_budget.file._end > 0) is overlap
    assert list(parent_store.sorted()) == sorted(records, key=lambda record: record[0])
    parent_budget.close()


def test_a_line_id_is_hashed_when_the_line_is_read_back(tmp_path: Path) -> None:
    from eqlite.scheduler.candidates import LineId, hydrate, to_event
    from eqlite.sources.ndjson import stable_id

    path = tmp_path / "events.ndjson"
    lines = [b'{"a": 1}\n', b'{"a": 2}\n']
    path.write_bytes(b"".join(lines))
    readers: dict[str, Any] = {}
    kept = to_event(((5, 0, (0, 0), 1), 1, ((),), ("idx", LineId(""), str(path), 1, lines[0])))
    reread = to_event(((6, 0, (0, 0), 2), 1, ((),), ("idx", LineId("given"), str(path), 2, (str(path), len(lines[0])))))
    named = to_event(((7, 0, (0, 0), 3), 1, ((),), ("idx", "real-id", str(path), 2, lines[1])))
    assert kept.id is None and reread.id is None
    for event in (kept, reread, named):
        hydrate(event, readers, orjson.loads)
    for handle in readers.values():
        handle.close()
    assert kept.id == stable_id("", 1, lines[0]) and kept.source == {"a": 1}
    assert reread.id == stable_id("given", 2, lines[1]) and reread.source == {"a": 2}
    assert named.id == "real-id"
