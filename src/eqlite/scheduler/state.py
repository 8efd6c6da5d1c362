"""What ``eqlite watch`` keeps in the store so that ``kill -9`` at any moment loses and duplicates nothing.

Two kinds of transaction change the store, each atomic:

* **ingest**: the events of one batch go into the durable buffer ``watch_events`` together with
  the file's new checkpoint (offset, line, record, size). The buffer is the watch's
  Elasticsearch: once read, an event is kept with the ``event.ingested`` it was given, so a
  restart never reads it twice nor gives it another ingest time. A crash before the commit
  leaves the old checkpoint, and the same lines are read again;
* **run**: a rule's new alerts, its execution-log entry and its schedule (last start, next due)
  are committed together, and buffered events no later window can search are pruned. A crash
  before the commit leaves the rule due, and the run happens again after the restart.

The store is held with an exclusive lock (:class:`StoreLock`, a ``flock`` on ``<store>.lock``)
for as long as a watch runs; the operating system releases it when the process dies.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Final

import orjson

from eqlite.alerts import AlertStore, AlertStoreError, WriteResult
from eqlite.runtime.access import raw_values
from eqlite.scheduler.datemath import iso
from eqlite.scheduler.log import RuleState, ensure_tables, insert_records, save_rule_state, set_facts
from eqlite.scheduler.runner import RunOutcome
from eqlite.scheduler.schedule import TIMESTAMP, RangeField, Window, field_instant
from eqlite.scheduler.tail import Batch, FileCheckpoint
from eqlite.sources.base import SourceEvent

INGESTED: Final = "event.ingested"
_FAR: Final = 1 << 62
_FILE_COLUMNS: Final = ("identity", "path", "format", "offset", "size", "line", "record", "status", "message",
                        "fingerprint")


class WatchLockedError(AlertStoreError):
    """Another ``eqlite watch`` holds the store."""


class StoreLock:
    """An exclusive lock on ``<store>.lock``, released on :meth:`release` or when the process dies.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "eqlite.db")
    >>> first = StoreLock(path)
    >>> first.acquire(); StoreLock.holder(path) == os.getpid()
    True
    >>> first.release(); StoreLock.holder(path) is None
    True
    """

    def __init__(self, store_path: str) -> None:
        self.store_path = store_path
        self.path = f"{store_path}.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`WatchLockedError` naming the process that holds it."""
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        if not _try_lock(handle):
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise WatchLockedError(f"another 'eqlite watch' (pid {owner}) is using this store; stop it first, or "
                                   "give this watch another --store", self.store_path)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @staticmethod
    def holder(store_path: str) -> int | None:
        """The pid of the watch that holds the store, or None when no watch runs on it."""
        path = f"{store_path}.lock"
        if not os.path.exists(path):
            return None
        with open(path, "a+", encoding="utf-8") as handle:
            if _try_lock(handle):
                return None
            handle.seek(0)
            text = handle.read().strip()
        return int(text) if text.isdigit() else -1


def _try_lock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte instead
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def stamp_ingested(source: dict[str, Any], now: int) -> None:
    """Give an event without ``event.ingested`` the time it was read, as an ingest pipeline would.

    >>> doc = {"event": {"kind": "event"}}
    >>> stamp_ingested(doc, 1715673600000); doc["event"]["ingested"]
    '2024-05-14T08:00:00.000Z'
    """
    if raw_values(source, INGESTED):
        return
    event = source.get("event")
    if isinstance(event, dict):
        event["ingested"] = iso(now)
    elif event is None:
        source["event"] = {"ingested": iso(now)}
    else:
        source[INGESTED] = iso(now)


@dataclass(frozen=True, slots=True)
class Horizons:
    """Buffered events older than these instants (by ``@timestamp`` and by ``event.ingested``) are no longer needed."""

    timestamp: int = -_FAR
    ingested: int = -_FAR


class WatchStore:
    """The watch's side of the alert store: checkpoints, the event buffer, runs.

    >>> with AlertStore(":memory:") as alerts:
    ...     store = WatchStore(alerts)
    ...     batch = Batch(FileCheckpoint("1:2", "a.ndjson", "ndjson", offset=40, line=1),
    ...                   [SourceEvent({"@timestamp": "2024-05-14T08:00:00Z"}, "a.ndjson", 1)])
    ...     store.ingest(batch, now=1715673601000)
    ...     [e.source["event"]["ingested"] for e in store.window_events(RangeField(), Window(0, 1 << 60))]
    ...     store.checkpoints()["1:2"].offset
    ['2024-05-14T08:00:01.000Z']
    40
    """

    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self.db = store.connection
        ensure_tables(self.db, store.path)

    # ------------------------------------------------------------------ files and events

    def checkpoints(self) -> dict[str, FileCheckpoint]:
        rows = self.db.execute(f"SELECT {', '.join(_FILE_COLUMNS)} FROM watch_files").fetchall()
        return {row[0]: FileCheckpoint(*row) for row in rows}

    def ingest(self, batch: Batch, now: int) -> None:
        """Store a batch's events (stamped with ``now`` where they lack ``event.ingested``) with its checkpoint."""
        rows = []
        for event in batch.events:
            stamp_ingested(event.source, now)
            rows.append((event.path, event.position, event.index, event.id,
                         field_instant(raw_values(event.source, TIMESTAMP)),
                         field_instant(raw_values(event.source, INGESTED)), now, orjson.dumps(event.source)))
        checkpoint = batch.checkpoint

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO watch_events (path, position, index_name, doc_id, timestamp_ms, ingested_ms, "
                           "read_ms, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if checkpoint.status == "gone":
                db.execute("DELETE FROM watch_files WHERE identity = ?", (checkpoint.identity,))
                return
            db.execute(f"INSERT OR REPLACE INTO watch_files ({', '.join(_FILE_COLUMNS)}, updated_ms) "
                       f"VALUES ({', '.join('?' for _ in _FILE_COLUMNS)}, ?)",
                       (*(getattr(checkpoint, name) for name in _FILE_COLUMNS), now))

        self.store.write([], also=write)

    def window_events(self, range_field: RangeField, window: Window) -> list[SourceEvent]:
        """The buffered events whose range instant lies in the window, in the order they were read."""
        columns = "SELECT path, position, index_name, doc_id, document FROM watch_events"
        exact = False
        if range_field == RangeField():
            sql, values = f"{columns} WHERE timestamp_ms BETWEEN ? AND ?", [window.start, window.end]
            exact = True
        elif range_field.primary == INGESTED and range_field.fallback in (None, TIMESTAMP):
            sql, values = f"{columns} WHERE ingested_ms BETWEEN ? AND ?", [window.start, window.end]
            if range_field.fallback:
                sql += " OR (ingested_ms IS NULL AND timestamp_ms BETWEEN ? AND ?)"
                values += [window.start, window.end]
        else:
            sql, values = columns, []
        events = []
        for path, position, index, doc_id, document in self.db.execute(sql + " ORDER BY seq", values):
            source = orjson.loads(document)
            if not exact:
                instant = range_field.instant(source)
                if instant is None or not window.contains(instant):
                    continue
            events.append(SourceEvent(source, path, position, index, doc_id))
        return events

    def buffered(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM watch_events").fetchone()[0])

    # ------------------------------------------------------------------ runs

    def commit_run(self, outcome: RunOutcome, state: RuleState, horizons: Horizons | None,
                   session: str | None = None) -> WriteResult:
        """Store a run's alerts, log entry and the rule's new state at once; prune what no window needs."""

        def write(db: sqlite3.Connection) -> None:
            insert_records(db, [outcome.record], session)
            save_rule_state(db, replace(state, last_seq=outcome.record.seq))
            if horizons is not None:
                db.execute("DELETE FROM watch_events WHERE (timestamp_ms IS NULL OR timestamp_ms < ?) "
                           "AND (ingested_ms IS NULL OR ingested_ms < ?)", (horizons.timestamp, horizons.ingested))

        return self.store.write(outcome.alerts, also=write)

    def set_facts(self, values: dict[str, Any]) -> None:
        """Record facts about the running watch (clock, pid, paths) for ``eqlite status``."""
        text = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
        self.store.write([], also=lambda db: set_facts(db, text))


def horizons(needs: Iterable[tuple[RangeField, int | None]]) -> Horizons:
    """The pruning bounds for rules given as ``(range field, earliest instant it may still search)``.

    ``None`` (a rule that has not run yet) keeps every event; a rule whose range field is neither
    ``@timestamp`` nor ``event.ingested`` keeps every event too.

    >>> horizons([(RangeField(), 100), (RangeField(INGESTED, TIMESTAMP), 50)])
    Horizons(timestamp=50, ingested=50)
    """
    timestamp, ingested = _FAR, _FAR
    for range_field, earliest in needs:
        bound = -_FAR if earliest is None else earliest
        fields: Sequence[str] = (range_field.primary, *((range_field.fallback,) if range_field.fallback else ()))
        if any(name not in (TIMESTAMP, INGESTED) for name in fields):
            return Horizons()
        if TIMESTAMP in fields:
            timestamp = min(timestamp, bound)
        if INGESTED in fields:
            ingested = min(ingested, bound)
    return Horizons(timestamp, ingested)


def store_is_file(path: str) -> str | None:
    """Why a watch cannot use this store path, or None.

    >>> store_is_file(":memory:")[:30], store_is_file("eqlite.db")
    ('a watch needs a store file (it', None)
    """
    if path == ":memory:":
        return "a watch needs a store file (its checkpoints must outlive the process), not ':memory:'"
    if Path(path).is_dir():
        return "is a directory; give a file name for the store"
    return None
