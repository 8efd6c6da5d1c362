"""The scheduler's tables in the alert store: the execution log, rule state, and the watch's checkpoints.

All are added to the store through :func:`eqlite.alerts.migrate` under component
``scheduler``. Writers call these functions inside the transaction that also stores the
alerts (see :meth:`eqlite.alerts.AlertStore.write`), so a run's alerts, its log entry and the
rule's new state are committed together or not at all.

Tables:

* ``executions``: one row per run (replay or watch): start, windows, status, counts, warnings;
* ``rule_state``: per rule, the last run's start and the next due time (the watch's schedule);
* ``watch_files``: per watched file identity (device:inode), what has been read of it;
* ``watch_events``: the durable buffer of events read but possibly still needed by a later window;
* ``watch_state``: small facts about the running watch (its clock, pid, heartbeat).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from eqlite.alerts import Migration, migrate
from eqlite.scheduler.datemath import iso, parse_instant
from eqlite.scheduler.runner import ExecutionRecord, RunStatus
from eqlite.scheduler.schedule import Window

COMPONENT: Final = "scheduler"

MIGRATIONS: Final = (
    Migration(1, "execution log, rule state, watched files and the durable event buffer", (
        """CREATE TABLE executions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL,
            mode TEXT NOT NULL,
            session TEXT,
            rule_id TEXT NOT NULL,
            rule_uuid TEXT NOT NULL,
            rule_name TEXT NOT NULL,
            started TEXT NOT NULL,
            started_ms INTEGER NOT NULL,
            window_from TEXT NOT NULL,
            window_to TEXT NOT NULL,
            windows TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL,
            matches INTEGER NOT NULL,
            alerts INTEGER NOT NULL,
            written INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            events INTEGER NOT NULL,
            warnings TEXT NOT NULL,
            errors TEXT NOT NULL,
            gap_ms INTEGER NOT NULL,
            gap_from TEXT,
            gap_to TEXT,
            duration_ms REAL NOT NULL
        )""",
        "CREATE INDEX executions_rule ON executions (rule_id, started_ms)",
        "CREATE INDEX executions_status ON executions (status)",
        "CREATE INDEX executions_started ON executions (started_ms)",
        """CREATE TABLE rule_state (
            rule_uuid TEXT PRIMARY KEY NOT NULL,
            rule_id TEXT NOT NULL,
            rule_name TEXT NOT NULL,
            interval_ms INTEGER NOT NULL,
            last_started_ms INTEGER NOT NULL,
            next_due_ms INTEGER NOT NULL,
            last_status TEXT NOT NULL,
            last_seq INTEGER,
            failures INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE watch_files (
            identity TEXT PRIMARY KEY NOT NULL,
            path TEXT NOT NULL,
            format TEXT NOT NULL,
            offset INTEGER NOT NULL,
            size INTEGER NOT NULL,
            line INTEGER NOT NULL,
            record INTEGER NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            updated_ms INTEGER NOT NULL
        )""",
        """CREATE TABLE watch_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL,
            position INTEGER NOT NULL,
            index_name TEXT,
            doc_id TEXT,
            timestamp_ms INTEGER,
            ingested_ms INTEGER,
            read_ms INTEGER NOT NULL,
            document BLOB NOT NULL
        )""",
        "CREATE INDEX watch_events_timestamp ON watch_events (timestamp_ms)",
        "CREATE INDEX watch_events_ingested ON watch_events (ingested_ms)",
        "CREATE TABLE watch_state (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    )),
)

_RECORD_COLUMNS: Final = ("uuid", "mode", "session", "rule_id", "rule_uuid", "rule_name", "started", "started_ms",
                          "window_from", "window_to", "windows", "status", "message", "matches", "alerts", "written",
                          "duplicates", "events", "warnings", "errors", "gap_ms", "gap_from", "gap_to", "duration_ms")
_INSERT_RECORD: Final = (f"INSERT INTO executions ({', '.join(_RECORD_COLUMNS)}) "
                         f"VALUES ({', '.join('?' for _ in _RECORD_COLUMNS)})")


def ensure_tables(connection: sqlite3.Connection, path: str = "") -> int:
    """Create or upgrade the scheduler's tables; returns their schema version.

    >>> connection = sqlite3.connect(":memory:", isolation_level=None)
    >>> ensure_tables(connection)
    1
    """
    return migrate(connection, COMPONENT, MIGRATIONS, path)


def insert_records(connection: sqlite3.Connection, records: Iterable[ExecutionRecord],
                   session: str | None = None) -> None:
    """Append log entries (call inside the transaction that stores the runs' alerts); sets ``seq``."""
    for record in records:
        cursor = connection.execute(_INSERT_RECORD, _record_row(record, session))
        record.seq = cursor.lastrowid


def _record_row(record: ExecutionRecord, session: str | None) -> tuple[Any, ...]:
    regular = record.windows[-1]
    windows = orjson.dumps([window.to_json() for window in record.windows]).decode()
    return (record.uuid, record.mode, session, record.rule_id, record.rule_uuid, record.rule_name,
            iso(record.started), record.started, iso(regular.start), iso(regular.end), windows, record.status,
            record.message, record.matches, record.alerts, record.written, record.duplicates, record.events,
            orjson.dumps(record.warnings).decode(), orjson.dumps(record.errors).decode(), record.gap,
            iso(record.gap_range.start) if record.gap_range else None,
            iso(record.gap_range.end) if record.gap_range else None, record.duration_ms)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Filters for :func:`select_records`; every one given must hold.

    Attributes:
        rule: a rule_id, rule uuid, or (case-insensitive) part of the rule name.
        statuses: keep these statuses (``succeeded``, ``partial failure``, ``failed``).
        mode: ``watch`` or ``replay``.
        limit: at most this many, the latest first (None: all).
    """

    rule: str | None = None
    statuses: tuple[str, ...] = ()
    mode: str | None = None
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        if self.rule:
            pattern = "%" + self.rule.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(rule_id = ? OR rule_uuid = ? OR rule_name LIKE ? ESCAPE '\\')")
            values += [self.rule, self.rule, pattern]
        if self.statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in self.statuses)})")
            values += list(self.statuses)
        if self.mode:
            clauses.append("mode = ?")
            values.append(self.mode)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


def select_records(connection: sqlite3.Connection, query: LogQuery | None = None) -> list[ExecutionRecord]:
    """Log entries matching the query, latest first (by start, then by log order).

    >>> connection = sqlite3.connect(":memory:", isolation_level=None)
    >>> _ = ensure_tables(connection)
    >>> runs = [ExecutionRecord(f"u{n}", "r", "ru", "Rule", n * 300_000, [Window(0, n * 300_000)]) for n in (1, 2)]
    >>> runs[1].errors.append("boom"); runs[1].settle()
    >>> insert_records(connection, runs)
    >>> [(r.seq, r.status) for r in select_records(connection)]
    [(2, 'failed'), (1, 'succeeded')]
    >>> [r.uuid for r in select_records(connection, LogQuery(statuses=("failed",)))]
    ['u2']
    >>> get_record(connection, "u1")[0].seq
    1
    """
    query = query or LogQuery()
    where, values = query.where()
    sql = f"SELECT seq, {', '.join(_RECORD_COLUMNS)} FROM executions{where} ORDER BY started_ms DESC, seq DESC"
    if query.limit is not None:
        sql += " LIMIT ?"
        values.append(query.limit)
    return [_record(row) for row in connection.execute(sql, values).fetchall()]


def get_record(connection: sqlite3.Connection, key: str) -> list[ExecutionRecord]:
    """The entries whose ``seq`` is ``key`` or whose uuid starts with ``key`` (at most 5)."""
    if key.isdigit():
        rows = connection.execute(f"SELECT seq, {', '.join(_RECORD_COLUMNS)} FROM executions WHERE seq = ?",
                                  [int(key)]).fetchall()
        if rows:
            return [_record(row) for row in rows]
    pattern = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = connection.execute(f"SELECT seq, {', '.join(_RECORD_COLUMNS)} FROM executions "
                              "WHERE uuid LIKE ? ESCAPE '\\' ORDER BY seq LIMIT 5", [pattern]).fetchall()
    return [_record(row) for row in rows]


def _record(row: Sequence[Any]) -> ExecutionRecord:
    values = dict(zip(("seq", *_RECORD_COLUMNS), row, strict=True))
    windows = [Window(parse_instant(item["gte"]), parse_instant(item["lte"]))
               for item in orjson.loads(values["windows"])]
    gap_range = (Window(parse_instant(values["gap_from"]), parse_instant(values["gap_to"]))
                 if values["gap_from"] and values["gap_to"] else None)
    status: RunStatus = values["status"]
    return ExecutionRecord(
        uuid=values["uuid"], rule_id=values["rule_id"], rule_uuid=values["rule_uuid"], rule_name=values["rule_name"],
        started=values["started_ms"], windows=windows, mode=values["mode"], status=status, message=values["message"],
        matches=values["matches"], alerts=values["alerts"], written=values["written"],
        duplicates=values["duplicates"], events=values["events"], warnings=orjson.loads(values["warnings"]),
        errors=orjson.loads(values["errors"]), gap=values["gap_ms"], gap_range=gap_range,
        duration_ms=values["duration_ms"], seq=values["seq"])


def record_json(record: ExecutionRecord) -> dict[str, Any]:
    """A log entry for machines (``--format json``): Kibana-like names, ISO UTC times."""
    return {
        "seq": record.seq,
        "execution_uuid": record.uuid,
        "mode": record.mode,
        "rule_id": record.rule_id,
        "rule_uuid": record.rule_uuid,
        "rule_name": record.rule_name,
        "started": iso(record.started),
        "window": record.windows[-1].to_json(),
        "windows": [window.to_json() for window in record.windows],
        "status": record.status,
        "message": record.message,
        "matches": record.matches,
        "alerts": record.alerts,
        "written": record.written,
        "duplicates": record.duplicates,
        "events": record.events,
        "warnings": record.warnings,
        "errors": record.errors,
        "gap_duration_ms": record.gap,
        "gap_range": record.gap_range.to_json() if record.gap_range else None,
        "duration_ms": round(record.duration_ms, 3),
    }


@dataclass(frozen=True, slots=True)
class RuleState:
    """The watch's schedule of one rule: its last run and when the next one is due."""

    rule_uuid: str
    rule_id: str
    rule_name: str
    interval: int
    last_started: int
    next_due: int
    last_status: str
    last_seq: int | None = None
    failures: int = 0


def save_rule_state(connection: sqlite3.Connection, state: RuleState) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO rule_state (rule_uuid, rule_id, rule_name, interval_ms, last_started_ms, next_due_ms, "
        "last_status, last_seq, failures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (state.rule_uuid, state.rule_id, state.rule_name, state.interval, state.last_started, state.next_due,
         state.last_status, state.last_seq, state.failures))


def rule_states(connection: sqlite3.Connection) -> dict[str, RuleState]:
    """Every rule's state, by rule uuid.

    >>> connection = sqlite3.connect(":memory:", isolation_level=None)
    >>> _ = ensure_tables(connection)
    >>> save_rule_state(connection, RuleState("ru", "r", "Rule", 300_000, 0, 300_000, "succeeded"))
    >>> rule_states(connection)["ru"].next_due
    300000
    """
    rows = connection.execute("SELECT rule_uuid, rule_id, rule_name, interval_ms, last_started_ms, next_due_ms, "
                              "last_status, last_seq, failures FROM rule_state ORDER BY rule_name").fetchall()
    return {row[0]: RuleState(*row) for row in rows}


def set_facts(connection: sqlite3.Connection, facts: dict[str, str]) -> None:
    connection.executemany("INSERT OR REPLACE INTO watch_state (key, value) VALUES (?, ?)", list(facts.items()))


def facts(connection: sqlite3.Connection) -> dict[str, str]:
    """Facts the watch recorded about itself (see :func:`set_facts`).

    >>> connection = sqlite3.connect(":memory:", isolation_level=None)
    >>> _ = ensure_tables(connection)
    >>> set_facts(connection, {"pid": "42"}); facts(connection)
    {'pid': '42'}
    """
    return dict(connection.execute("SELECT key, value FROM watch_state").fetchall())
