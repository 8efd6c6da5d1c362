"""The watch's durable state: the store lock, atomic ingest, window queries, pruning."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from eqlite.alerts import AlertStore
from eqlite.scheduler.schedule import RangeField, Window
from eqlite.scheduler.state import (
    INGESTED,
    TIMESTAMP,
    Horizons,
    StoreLock,
    WatchLockedError,
    WatchStore,
    horizons,
    stamp_ingested,
)
from eqlite.scheduler.tail import Batch, FileCheckpoint
from eqlite.sources.base import SourceEvent
from tests.scheduler.helpers import MINUTE, iso, ms

T = ms("2024-05-14T08:00:00Z")


def _event(n: int, at: int, ingested: int | None = None) -> SourceEvent:
    source: dict[str, object] = {"@timestamp": iso(at), "n": n}
    if ingested is not None:
        source["event"] = {"ingested": iso(ingested)}
    return SourceEvent(source, "f.ndjson", n, None, f"id-{n}")


def _batch(events: list[SourceEvent], line: int) -> Batch:
    return Batch(FileCheckpoint("1:1", "f.ndjson", "ndjson", offset=line * 10, line=line), events)


def _hold(path: str, ready: object, release: object) -> None:
    lock = StoreLock(path)
    lock.acquire()
    ready.set()  # type: ignore[attr-defined]
    release.wait(10)  # type: ignore[attr-defined]


def test_a_second_holder_is_refused_with_the_pid_of_the_first(tmp_path: Path) -> None:
    store = str(tmp_path / "eqlite.db")
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(store, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(WatchLockedError, match=f"another 'eqlite watch' \\(pid {holder.pid}\\)"):
            StoreLock(store).acquire()
        assert StoreLock.holder(store) == holder.pid
    finally:
        release.set()
        holder.join()
    assert StoreLock.holder(store) is None
    StoreLock(store).acquire()


def test_the_lock_goes_when_its_process_is_killed(tmp_path: Path) -> None:
    store = str(tmp_path / "eqlite.db")
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(store, ready, release))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid or 0, 9)
    holder.join()
    StoreLock(store).acquire()


def test_ingest_stores_events_and_checkpoint_together(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "s.db") as alerts:
        store = WatchStore(alerts)
        store.ingest(_batch([_event(1, T), _event(2, T)], 2), now=T)

        def broken() -> list[SourceEvent]:
            return [_event(3, T), SourceEvent({"bad": {1, 2}}, "f.ndjson", 4)]  # a set is not JSON: write fails

        with pytest.raises(TypeError):
            store.ingest(_batch(broken(), 4), now=T)
        assert store.buffered() == 2 and store.checkpoints()["1:1"].line == 2


def test_events_without_ingest_time_get_the_read_time() -> None:
    flat: dict[str, object] = {"event.kind": "event"}
    stamp_ingested(flat, T)
    assert flat == {"event.kind": "event", "event": {"ingested": "2024-05-14T08:00:00.000Z"}}
    kept = {"event": {"ingested": "2020-01-01T00:00:00Z"}}
    stamp_ingested(kept, T)
    assert kept["event"]["ingested"] == "2020-01-01T00:00:00Z"


def test_window_events_follow_the_range_field(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "s.db") as alerts:
        store = WatchStore(alerts)
        store.ingest(_batch([_event(1, T - 60 * MINUTE), _event(2, T, ingested=T + 30 * MINUTE),
                             _event(3, T + 30 * MINUTE)], 3), now=T + 30 * MINUTE)
        window = Window(T + 25 * MINUTE, T + 30 * MINUTE)
        by_time = store.window_events(RangeField(), window)
        by_ingest = store.window_events(RangeField(INGESTED, TIMESTAMP), window)
        by_other = store.window_events(RangeField("custom.time", TIMESTAMP), window)
        assert [e.source["n"] for e in by_time] == [3]
        assert [e.source["n"] for e in by_ingest] == [1, 2, 3]  # all were read (ingested) at T+30m
        assert [e.source["n"] for e in by_other] == [3]
        assert by_time[0].id == "id-3" and by_time[0].position == 3


def test_horizons_keep_what_any_rule_may_still_search() -> None:
    assert horizons([(RangeField(), 500), (RangeField(), 300)]) == Horizons(300, 1 << 62)
    assert horizons([(RangeField(), 500), (RangeField(INGESTED, None), None)]).ingested == -(1 << 62)
    assert horizons([(RangeField("custom.time", None), 5)]) == Horizons()
