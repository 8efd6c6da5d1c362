"""The embedded alert store: one SQLite file (``./eqlite.db`` by default) holding every alert once.

Design:

* WAL journal, so ``eqlite alerts list`` can read while a run writes, and ``synchronous=NORMAL``:
  a crash or Ctrl-C may lose the last batch but never leaves half of one;
* a ``schema_version`` table records, per component, which migrations ran. The alert table is
  component ``alerts``; later features (an execution log, scheduler checkpoints) add their
  tables through :func:`migrate` with their own component name;
* table ``alerts`` is keyed by ``kibana.alert.uuid`` and keeps the document (the NDJSON line)
  plus indexed columns for the usual filters. Because alert ids are deterministic,
  ``INSERT OR IGNORE`` is Kibana's de-duplication: a re-run adds nothing;
* since schema version 2, the values an alert holds from its rule (``kibana.alert.rule.*`` but the
  execution's; about 15 KB of JSON with the investigation guide) are kept once, in table
  ``rule_values`` under the SHA-256 of their JSON, and the document refers to them; reading puts
  them back, so a document reads as it was written. Alerts written at version 1 keep them inline;
* one transaction per batch: a batch is stored whole or not at all.

``event_time`` is when the alert's events happened: ``kibana.alert.original_time`` for an event
or building-block alert, and the earliest building block's for a sequence shell (whose own
``original_time`` is its build time, as in Kibana); filters use it. ``chain_time`` is the
time of the sequence an alert belongs to (its own for others); listings sort on it, so a
sequence's alerts stay together.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import orjson

from eqlite.alerts.base import Alert, AlertStoreError, WriteResult, alert_uuid, dumps_alert
from eqlite.runtime.access import raw_values

DEFAULT_STORE: Final = "eqlite.db"
STORE_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3")
COMPONENT: Final = "alerts"
MEMORY: Final = ":memory:"


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of a component's schema: run once, in order, inside a transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: Final = (
    Migration(1, "alerts table and its filter indexes", (
        """CREATE TABLE alerts (
            uuid TEXT PRIMARY KEY NOT NULL,
            rule_id TEXT NOT NULL,
            rule_uuid TEXT,
            rule_name TEXT NOT NULL,
            severity TEXT NOT NULL,
            risk_score REAL,
            host_name TEXT,
            host_id TEXT,
            timestamp TEXT NOT NULL,
            original_time TEXT,
            event_time TEXT,
            chain_time TEXT,
            workflow_status TEXT NOT NULL,
            building_block INTEGER NOT NULL,
            group_id TEXT,
            group_index INTEGER,
            reason TEXT,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX alerts_rule_id ON alerts (rule_id)",
        "CREATE INDEX alerts_rule_name ON alerts (rule_name COLLATE NOCASE)",
        "CREATE INDEX alerts_severity ON alerts (severity)",
        "CREATE INDEX alerts_host_name ON alerts (host_name COLLATE NOCASE)",
        "CREATE INDEX alerts_host_id ON alerts (host_id)",
        "CREATE INDEX alerts_timestamp ON alerts (timestamp)",
        "CREATE INDEX alerts_event_time ON alerts (event_time)",
        "CREATE INDEX alerts_chain_time ON alerts (chain_time)",
        "CREATE INDEX alerts_workflow_status ON alerts (workflow_status)",
        "CREATE INDEX alerts_group ON alerts (group_id, group_index)",
    )),
    Migration(2, "a rule's values kept once, not in every alert's document", (
        "CREATE TABLE rule_values (digest TEXT PRIMARY KEY NOT NULL, document TEXT NOT NULL)",
        "ALTER TABLE alerts ADD COLUMN rule_values TEXT",
    )),
)
SPLIT_VERSION: Final = 2  # from this schema version on, documents may leave their rule's values in rule_values

_COLUMNS: Final = ("uuid", "rule_id", "rule_uuid", "rule_name", "severity", "risk_score", "host_name", "host_id",
                   "timestamp", "original_time", "event_time", "chain_time", "workflow_status", "building_block",
                   "group_id", "group_index", "reason", "document", "rule_values")
_INSERT: Final = (f"INSERT OR IGNORE INTO alerts ({', '.join(_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in _COLUMNS)})")
_INSERT_VALUES: Final = "INSERT OR IGNORE INTO rule_values (digest, document) VALUES (?, ?)"
# The values an alert holds from its rule (``kibana.alert.rule.*``, about 15 KB of JSON with the
# investigation guide), but for the execution's own.
_RULE_PREFIX: Final = "kibana.alert.rule."
_EXECUTION_PREFIX: Final = "kibana.alert.rule.execution."


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail early, naming the path, when an alert store cannot be created or written there.

    SQLite in WAL mode writes ``<path>-wal`` and ``<path>-shm`` beside the file, so the
    directory must be writable too.

    Raises:
        AlertStoreError: with what is wrong and where.

    >>> check_writable("/no/such/dir/eqlite.db")
    Traceback (most recent call last):
    ...
    eqlite.alerts.base.AlertStoreError: /no/such/dir/eqlite.db: directory /no/such/dir does not exist
    """
    text = os.fspath(path)
    if text == MEMORY:
        return
    target = Path(text)
    directory = target.parent
    if target.is_dir():
        raise AlertStoreError("is a directory; give a file name for the alert store", text)
    if not directory.exists():
        raise AlertStoreError(f"directory {directory} does not exist", text)
    if not directory.is_dir():
        raise AlertStoreError(f"{directory} is not a directory", text)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise AlertStoreError(f"directory {directory} is not writable (SQLite keeps its journal there)", text)
    if target.exists() and not (target.is_file() and os.access(target, os.R_OK | os.W_OK)):
        raise AlertStoreError("exists but is not a readable and writable file", text)


def migrate(connection: sqlite3.Connection, component: str, migrations: Sequence[Migration],
            path: str = "") -> int:
    """Bring a component's tables up to date; returns its schema version.

    Each pending migration runs in its own transaction, together with the version bump. A
    store written by a newer eqlite (a version this code does not know) is refused.

    >>> connection = sqlite3.connect(":memory:", isolation_level=None)
    >>> migrate(connection, "alerts", MIGRATIONS), migrate(connection, "alerts", MIGRATIONS)
    (2, 2)
    """
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                       "component TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, description TEXT)")
    current = _version(connection, component)
    latest = max((migration.version for migration in migrations), default=0)
    if current > latest:
        raise AlertStoreError(f"its {component!r} tables are at schema version {current}, newer than this "
                              f"eqlite knows ({latest}); upgrade eqlite", path)
    for migration in sorted(migrations, key=lambda item: item.version):
        if migration.version <= current:
            continue
        with _transaction(connection):
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute("INSERT OR REPLACE INTO schema_version (component, version, description) "
                               "VALUES (?, ?, ?)", (component, migration.version, migration.description))
        current = migration.version
    return current


def _version(connection: sqlite3.Connection, component: str) -> int:
    row = connection.execute("SELECT version FROM schema_version WHERE component = ?", (component,)).fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception, Ctrl-C included."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Filters for :meth:`AlertStore.select`; every one given must hold.

    Attributes:
        rule: a rule_id, rule uuid, or (case-insensitive) part of the rule name.
        severities: keep these severities only (empty: all).
        host: ``host.name`` (case-insensitive) or ``host.id``.
        since: keep alerts whose events happened at or after this ISO time (``...Z`` form).
        until: keep alerts whose events happened at or before this ISO time.
        building_blocks: include building-block alerts (hidden by default, as in Kibana).
        limit: at most this many alerts, newest first (None: all).
    """

    rule: str | None = None
    severities: tuple[str, ...] = ()
    host: str | None = None
    since: str | None = None
    until: str | None = None
    building_blocks: bool = False
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        if not self.building_blocks:
            clauses.append("building_block = 0")
        if self.rule:
            pattern = "%" + self.rule.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(rule_id = ? OR rule_uuid = ? OR rule_name LIKE ? ESCAPE '\\')")
            values += [self.rule, self.rule, pattern]
        if self.severities:
            clauses.append(f"severity IN ({', '.join('?' for _ in self.severities)})")
            values += list(self.severities)
        if self.host:
            clauses.append("(host_name = ? COLLATE NOCASE OR host_id = ?)")
            values += [self.host, self.host]
        if self.since:
            clauses.append("event_time >= ?")
            values.append(self.since)
        if self.until:
            clauses.append("event_time <= ?")
            values.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


class AlertStore:
    """The SQLite alert store; an :class:`~eqlite.alerts.base.AlertSink`.

    Args:
        path: the database file (created with its tables if missing, unless ``readonly``).
        readonly: open an existing store for reading only; never creates or migrates.

    Raises:
        AlertStoreError: the file cannot be created, opened or read, or is not an alert store.

    >>> store = AlertStore(":memory:")
    >>> alert = {"kibana.alert.uuid": "a1", "kibana.alert.rule.rule_id": "r", "kibana.alert.rule.name": "R",
    ...          "kibana.alert.severity": "high", "@timestamp": "2024-05-14T08:10:00.000Z"}
    >>> store.write([alert]), store.write([alert])
    (WriteResult(written=1, duplicates=0), WriteResult(written=0, duplicates=1))
    >>> store.get("a1")["kibana.alert.rule.name"], store.count()
    ('R', 1)
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, *, readonly: bool = False) -> None:
        self.path = os.fspath(path)
        self.readonly = readonly
        try:
            self._db = self._open()
        except sqlite3.Error as error:
            raise AlertStoreError(f"cannot open the alert store: {error}", self.path) from None

    def _open(self) -> sqlite3.Connection:
        if self.readonly:
            if self.path != MEMORY and not Path(self.path).is_file():
                raise AlertStoreError("no alert store here (a run with this --store creates it)", self.path)
            uri = f"{Path(self.path).resolve().as_uri()}?mode=ro" if self.path != MEMORY else "file::memory:"
            db = sqlite3.connect(uri, uri=True, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 5000")
            version = _version_or_none(db)
            if self.path != MEMORY and version is None:
                db.close()
                raise AlertStoreError("not an eqlite alert store (no schema_version table)", self.path)
            self._split = (version or 0) >= SPLIT_VERSION
            return db
        check_writable(self.path)
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._split = migrate(db, COMPONENT, MIGRATIONS, self.path) >= SPLIT_VERSION
        except BaseException:
            db.close()
            raise
        return db

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection (autocommit; wrap writes in ``BEGIN``/``COMMIT``), for other tables."""
        return self._db

    # ------------------------------------------------------------------ writing

    def write(self, alerts: Sequence[Mapping[str, Any]], *,
              also: Callable[[sqlite3.Connection], None] | None = None) -> WriteResult:
        """Store a batch in one transaction; alerts whose id is already stored are dropped.

        ``also``, when given, runs inside the same transaction with the connection, so rows of
        other tables (an execution log, checkpoints) are committed with the alerts or not at all.

        Raises:
            ValueError: an alert lacks ``kibana.alert.uuid``, rule id, name, severity or ``@timestamp``
                (nothing of the batch is stored).
            AlertStoreError: the database refused the write (nothing of the batch is stored).
        """
        return self.write_rows(*store_rows(alerts), also=also)

    def write_rows(self, rows: Sequence[tuple[Any, ...]], rule_values: Sequence[tuple[str, str]], *,
                   also: Callable[[sqlite3.Connection], None] | None = None) -> WriteResult:
        """:meth:`write` for a batch already made into rows by :func:`store_rows` (in another process, say)."""
        if self.readonly:
            raise AlertStoreError("opened read-only", self.path)
        try:
            with _transaction(self._db):
                self._db.executemany(_INSERT_VALUES, rule_values)
                before = self._db.total_changes
                self._db.executemany(_INSERT, rows)
                written = self._db.total_changes - before
                if also is not None:
                    also(self._db)
        except sqlite3.Error as error:
            raise AlertStoreError(f"cannot store alerts: {error}", self.path) from None
        return WriteResult(written, len(rows) - written)

    def existing(self, uuids: Iterable[str]) -> set[str]:
        """Which of these alert ids the store already holds (Kibana's pre-write ``ids`` query)."""
        wanted = list(dict.fromkeys(uuids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            found.update(row[0] for row in self._read(f"SELECT uuid FROM alerts WHERE uuid IN ({marks})", chunk))
        return found

    # ------------------------------------------------------------------ reading

    def get(self, uuid: str) -> Alert | None:
        """The alert with this id, or None."""
        rows = self._read(f"SELECT {self._documents} WHERE uuid = ?", [uuid])
        return _document(*rows[0]) if rows else None

    def resolve(self, prefix: str, limit: int = 5) -> list[str]:
        """The ids that start with ``prefix`` (at most ``limit``), so people can type a short id."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._read("SELECT uuid FROM alerts WHERE uuid LIKE ? ESCAPE '\\' ORDER BY uuid LIMIT ?",
                          [pattern, limit])
        return [row[0] for row in rows]

    def select(self, query: AlertQuery | None = None) -> list[Alert]:
        """Alerts matching the query, newest first; a sequence's building blocks follow their shell."""
        query = query or AlertQuery()
        where, values = query.where()
        sql = (f"SELECT {self._documents}{where} "
               "ORDER BY chain_time DESC, group_id, COALESCE(group_index, -1), timestamp DESC, uuid")
        if query.limit is not None:
            sql += " LIMIT ?"
            values.append(query.limit)
        return [_document(*row) for row in self._read(sql, values)]

    def building_blocks(self, group_id: str) -> list[Alert]:
        """The building blocks of a sequence shell, in sequence order."""
        rows = self._read(f"SELECT {self._documents} WHERE group_id = ? AND building_block = 1 "
                          "ORDER BY group_index", [group_id])
        return [_document(*row) for row in rows]

    @property
    def _documents(self) -> str:
        """What to select, and from where, for an alert's whole document (its own, and its rule's values)."""
        if not self._split and (_version_or_none(self._db) or 0) >= SPLIT_VERSION:
            self._split = True  # another process migrated the store since it was opened here (read-only)
        if not self._split:  # a store opened read-only at an older schema version
            return "alerts.document, NULL FROM alerts"
        return ("alerts.document, rule_values.document FROM alerts "
                "LEFT JOIN rule_values ON rule_values.digest = alerts.rule_values")

    def count(self) -> int:
        """How many alerts the store holds, building blocks included."""
        return int(self._read("SELECT COUNT(*) FROM alerts", [])[0][0])

    def _read(self, sql: str, values: Sequence[Any]) -> list[Any]:
        try:
            return self._db.execute(sql, values).fetchall()
        except sqlite3.Error as error:
            raise AlertStoreError(f"cannot read the alert store: {error}", self.path) from None

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the database; WAL content is checkpointed into the main file by SQLite."""
        self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _version_or_none(db: sqlite3.Connection) -> int | None:
    try:
        return _version(db, COMPONENT)
    except sqlite3.DatabaseError:
        return None


def _document(text: str, rule_values: str | None = None) -> Alert:
    """An alert's document, its rule's values put back; keys in order, as the whole document was written."""
    document: Alert = orjson.loads(text)
    if rule_values is None:
        return document
    document.update(orjson.loads(rule_values))
    return dict(sorted(document.items()))


def _text(alert: Mapping[str, Any], name: str) -> str | None:
    """The first non-empty value of a field, in whatever notation the alert spells it."""
    direct = alert.get(name)
    if type(direct) is str and direct and not any(prefix in alert for prefix in _prefixes(name)):
        return direct  # the field spelt with dots at the top, its only spelling (as Kibana's own fields are)
    for value in raw_values(alert, name) or ():
        if value is not None and value != "":
            return str(value)
    return None


@lru_cache(maxsize=256)
def _prefixes(name: str) -> tuple[str, ...]:
    """The shorter spellings a dotted name's value could hide under: ``a``, ``a.b`` for ``a.b.c``."""
    parts = name.split(".")
    return tuple(".".join(parts[:end]) for end in range(1, len(parts)))


def _required(alert: Mapping[str, Any], name: str, uuid: str) -> str:
    value = _text(alert, name)
    if value is None:
        raise ValueError(f"alert {uuid} has no {name!r}; not an alert document")
    return value


def _split_rule_values(alert: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The alert's own fields, and those it holds from its rule (see _RULE_PREFIX).

    >>> _split_rule_values({"kibana.alert.rule.name": "R", "kibana.alert.rule.execution.uuid": "e", "a": 1})
    ({'kibana.alert.rule.execution.uuid': 'e', 'a': 1}, {'kibana.alert.rule.name': 'R'})
    """
    own: dict[str, Any] = {}
    rule: dict[str, Any] = {}
    known = _RULE_KEYS
    for key, value in alert.items():
        from_rule = known.get(key)
        if from_rule is None:
            if len(known) >= 100_000:  # source fields may be spelt with dots at the top: keep it bounded
                known.clear()
            from_rule = known[key] = key.startswith(_RULE_PREFIX) and not key.startswith(_EXECUTION_PREFIX)
        if from_rule:
            rule[key] = value
        else:
            own[key] = value
    return own, rule


_RULE_KEYS: dict[str, bool] = {}  # whether a top-level key holds a rule's value, by key


def store_rows(alerts: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    """Table rows of a batch, checked before anything is written, and the rule values they refer to.

    An alert's document is stored without its rule's values, which are kept once in
    ``rule_values`` under the SHA-256 of their JSON: they are most of an alert's bytes, and the
    same in every alert of a rule. The alerts of a batch that hold the very same value objects
    (one builder's) have their rule values written as JSON once.
    """
    earliest: dict[str, str] = {}
    for alert in alerts:
        group = alert.get("kibana.alert.group.id")
        original = alert.get("kibana.alert.original_time")
        if alert.get("kibana.alert.group.index") is not None and isinstance(group, str) and isinstance(original, str):
            earliest[group] = min(earliest.get(group, original), original)
    rows = []
    rule_values: dict[str, str] = {}
    written: dict[tuple[int, ...], tuple[dict[str, Any], str | None]] = {}  # by the rule values' identities
    for alert in alerts:
        uuid = alert_uuid(alert)
        own, rule = _split_rule_values(alert)
        identity = tuple(map(id, rule.values()))
        known = written.get(identity)
        # The batch holds on to the rule values seen (in written), so equal ids are the same objects.
        if known is not None and known[0].keys() == rule.keys():
            digest = known[1]
        else:
            digest = None
            if rule:
                text = dumps_alert(rule).decode().rstrip("\n")
                digest = hashlib.sha256(text.encode()).hexdigest()[:40]
                rule_values[digest] = text
            written[identity] = (rule, digest)
        group_index = alert.get("kibana.alert.group.index")
        original_time = alert.get("kibana.alert.original_time")
        is_shell = group_index is None and alert.get("kibana.alert.group.id") == uuid
        event_time = (earliest.get(uuid, original_time) if is_shell else original_time) or alert.get("@timestamp")
        group = alert.get("kibana.alert.group.id")
        chain_time = earliest.get(group, event_time) if isinstance(group, str) else event_time
        risk = alert.get("kibana.alert.risk_score")
        rows.append((
            uuid,
            _required(alert, "kibana.alert.rule.rule_id", uuid),
            _text(alert, "kibana.alert.rule.uuid"),
            _required(alert, "kibana.alert.rule.name", uuid),
            _required(alert, "kibana.alert.severity", uuid),
            risk if isinstance(risk, (int, float)) and not isinstance(risk, bool) else None,
            _text(alert, "host.name"),
            _text(alert, "host.id"),
            _required(alert, "@timestamp", uuid),
            original_time,
            event_time,
            chain_time,
            _text(alert, "kibana.alert.workflow_status") or "open",
            1 if alert.get("kibana.alert.building_block_type") is not None else 0,
            alert.get("kibana.alert.group.id"),
            group_index if isinstance(group_index, int) else None,
            alert.get("kibana.alert.reason"),
            dumps_alert(own).decode().rstrip("\n"),
            digest,
        ))
    return rows, list(rule_values.items())
