"""The SQLite alert store: schema and migrations, atomic de-duplicating writes, early errors, filters."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from eqlite.alerts import AlertQuery, AlertStore, AlertStoreError, Migration, build_alerts, migrate
from eqlite.alerts.store import check_writable
from eqlite.rules import Rule
from eqlite.runtime.search import EventHit, SequenceHit
from tests.alerts.helpers import NOW, event

RULE_ID = "aaaaaaaa-0000-0000-0000-000000000001"


def _rule() -> Rule:
    return Rule.from_dict({
        "rule_id": RULE_ID, "name": "Suspicious Child of MMC", "description": "d", "type": "eql",
        "language": "eql", "query": "process where true", "risk_score": 47, "severity": "medium",
        "severity_mapping": [{"field": "labels.sev", "operator": "equals", "value": "c", "severity": "critical"}],
    })


def _source(time: str, host: str, **extra: Any) -> dict[str, Any]:
    return {"@timestamp": f"2024-05-14T{time}Z", "host": {"name": host, "id": f"id-{host}"}, **extra}


@pytest.fixture(scope="module")
def alerts(seed_rule: Rule) -> list[dict[str, Any]]:
    """Three event alerts (hosts h1, h2, h1; one critical) and a sequence on h3 (shell + 2 building blocks)."""
    out = []
    for doc_id, time, host, extra in [("a", "08:00:00.000", "h1", {}), ("b", "08:10:00.000", "H2", {}),
                                      ("c", "08:20:00.000", "h1", {"labels": {"sev": "c"}})]:
        out += build_alerts(_rule(), EventHit(event(_source(time, host, **extra), doc_id=doc_id)), now=NOW)
    chain = SequenceHit([event(_source("08:30:00.000", "h3"), doc_id="s1"),
                         event(_source("08:30:05.000", "h3"), doc_id="s2")], [])
    return out + build_alerts(seed_rule, chain, now=NOW)


@pytest.fixture
def store(tmp_path: Path, alerts: list[dict[str, Any]]) -> AlertStore:
    opened = AlertStore(tmp_path / "eqlite.db")
    opened.write(alerts)
    return opened


# ------------------------------------------------------------------ schema


def test_new_store_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    with AlertStore(tmp_path / "eqlite.db") as opened:
        assert opened.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = opened.connection.execute("SELECT component, version FROM schema_version").fetchall()
        assert rows == [("alerts", 2)]


def test_other_components_migrate_beside_the_alerts(tmp_path: Path) -> None:
    steps = (Migration(1, "log", ("CREATE TABLE execution_log (id TEXT PRIMARY KEY)",)),
             Migration(2, "log status", ("ALTER TABLE execution_log ADD COLUMN status TEXT",)))
    with AlertStore(tmp_path / "eqlite.db") as opened:
        assert migrate(opened.connection, "execution_log", steps[:1]) == 1
        assert migrate(opened.connection, "execution_log", steps) == 2
        opened.connection.execute("INSERT INTO execution_log (id, status) VALUES ('r1', 'succeeded')")
    with AlertStore(tmp_path / "eqlite.db") as reopened:
        assert dict(reopened.connection.execute("SELECT component, version FROM schema_version").fetchall()) == {
            "alerts": 2, "execution_log": 2}


def test_a_store_from_a_newer_eqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "eqlite.db"
    AlertStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99 WHERE component = 'alerts'")
    with pytest.raises(AlertStoreError, match="newer than this eqlite knows"):
        AlertStore(path)


# ------------------------------------------------------------------ writing


def test_writes_count_new_alerts_and_drop_known_ids(tmp_path: Path, alerts: list[dict[str, Any]]) -> None:
    with AlertStore(tmp_path / "eqlite.db") as opened:
        assert (opened.write(alerts).written, opened.count()) == (6, 6)
        again = opened.write(alerts)
        assert (again.written, again.duplicates, opened.count()) == (0, 6, 6)
        assert opened.write([alerts[0], alerts[0]]).duplicates == 2


def test_stored_documents_are_the_alerts(store: AlertStore, alerts: list[dict[str, Any]]) -> None:
    for alert in alerts:
        assert store.get(alert["kibana.alert.uuid"]) == alert
    assert store.get("nope") is None


def test_documents_read_back_whole_in_key_order_as_written(store: AlertStore, alerts: list[dict[str, Any]]) -> None:
    import orjson

    from eqlite.alerts.base import dumps_alert

    for alert in alerts:
        stored = store.get(alert["kibana.alert.uuid"])
        assert stored is not None and dumps_alert(stored) == dumps_alert(alert)
        assert list(stored) == list(orjson.loads(dumps_alert(alert)))  # sorted, as the whole document was


def test_a_rules_values_are_kept_once(tmp_path: Path, alerts: list[dict[str, Any]]) -> None:
    with AlertStore(tmp_path / "eqlite.db") as opened:
        opened.write(alerts[:2])
        opened.write(alerts[2:])  # the first rule's values again, in another batch; then the seed rule's
        db = opened.connection
        assert db.execute("SELECT COUNT(*) FROM rule_values").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(DISTINCT rule_values) FROM alerts").fetchone()[0] == 2
        for (document,) in db.execute("SELECT document FROM alerts"):
            assert '"kibana.alert.rule.name"' not in document and '"kibana.alert.rule.execution.uuid"' in document
        renamed = {**alerts[0], "kibana.alert.uuid": "renamed", "kibana.alert.rule.name": "Overridden name"}
        opened.write([renamed])  # a rule_name_override: other values, another row
        assert db.execute("SELECT COUNT(*) FROM rule_values").fetchone()[0] == 3
        assert opened.get("renamed") == renamed


def test_a_store_of_the_first_schema_is_migrated_and_its_alerts_still_read(tmp_path: Path,
                                                                          alerts: list[dict[str, Any]]) -> None:
    from eqlite.alerts.base import dumps_alert
    from eqlite.alerts.store import MIGRATIONS

    path = tmp_path / "eqlite.db"
    with sqlite3.connect(path, isolation_level=None) as db:  # what eqlite wrote before schema version 2
        migrate(db, "alerts", MIGRATIONS[:1])
        first = alerts[0]
        db.execute("INSERT INTO alerts (uuid, rule_id, rule_name, severity, timestamp, workflow_status, "
                   "building_block, document) VALUES (?, ?, ?, ?, ?, 'open', 0, ?)",
                   (first["kibana.alert.uuid"], RULE_ID, first["kibana.alert.rule.name"], "medium",
                    first["@timestamp"], dumps_alert(first).decode().rstrip("\n")))
    with AlertStore(path, readonly=True) as old:  # read-only: not migrated, read as it is
        assert old.get(first["kibana.alert.uuid"]) == first
        with AlertStore(path) as migrated:  # another process migrates it and writes in the new form
            assert migrated.connection.execute(
                "SELECT version FROM schema_version WHERE component = 'alerts'").fetchone()[0] == 2
            assert migrated.write(alerts).written == len(alerts) - 1
            assert [migrated.get(alert["kibana.alert.uuid"]) for alert in alerts] == alerts
        assert [old.get(alert["kibana.alert.uuid"]) for alert in alerts] == alerts  # the reader notices


def test_a_batch_with_a_bad_alert_writes_nothing(tmp_path: Path, alerts: list[dict[str, Any]]) -> None:
    with AlertStore(tmp_path / "eqlite.db") as opened:
        with pytest.raises(ValueError, match=r"kibana\.alert\.rule\.rule_id"):
            opened.write([*alerts[:3], {"kibana.alert.uuid": "broken"}])
        assert opened.count() == 0


def test_a_batch_the_database_refuses_writes_nothing(tmp_path: Path, alerts: list[dict[str, Any]]) -> None:
    with AlertStore(tmp_path / "eqlite.db") as opened:
        last = alerts[-1]["kibana.alert.uuid"]
        opened.connection.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON alerts WHEN NEW.uuid = '{last}' "
                                  "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        with pytest.raises(AlertStoreError, match="refused"):
            opened.write(alerts)
        assert opened.count() == 0
        opened.connection.execute("DROP TRIGGER refuse")
        assert opened.write(alerts).written == 6


class _InterruptingConnection:
    """Stands for sqlite3's connection; Ctrl-C arrives after the first row of a batch."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    def executemany(self, sql: str, rows: list[Any]) -> None:
        self.db.execute(sql, rows[0])
        raise KeyboardInterrupt


def test_ctrl_c_in_the_middle_of_a_batch_writes_nothing(tmp_path: Path, alerts: list[dict[str, Any]]) -> None:
    with AlertStore(tmp_path / "eqlite.db") as opened:
        real = opened._db
        opened._db = _InterruptingConnection(real)  # type: ignore[assignment]
        with pytest.raises(KeyboardInterrupt):
            opened.write(alerts)
        opened._db = real
        assert not real.in_transaction
        assert opened.count() == 0


def test_a_crash_inside_a_transaction_leaves_the_store_consistent(tmp_path: Path,
                                                                  alerts: list[dict[str, Any]]) -> None:
    path = tmp_path / "eqlite.db"
    with AlertStore(path) as opened:
        opened.write(alerts[:2])
    crash = textwrap.dedent(f"""
        import os
        from eqlite.alerts import AlertStore
        store = AlertStore({str(path)!r})
        store.connection.execute("BEGIN IMMEDIATE")
        store.connection.execute("DELETE FROM alerts")
        os._exit(3)
    """)
    assert subprocess.run([sys.executable, "-c", crash], check=False).returncode == 3
    with AlertStore(path) as reopened:
        assert reopened.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert reopened.count() == 2


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root / "missing" / "eqlite.db", "does not exist"),
    (lambda root: root, "is a directory"),
    (lambda root: root / "file.txt" / "eqlite.db", "is not a directory"),
])
def test_unwritable_store_paths_fail_early(tmp_path: Path, make: Any, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    path = make(tmp_path)
    with pytest.raises(AlertStoreError, match=message) as caught:
        check_writable(path)
    assert str(path) in str(caught.value)
    with pytest.raises(AlertStoreError, match=message):
        AlertStore(path)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["file.txt"]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(AlertStoreError, match="cannot open the alert store") as caught:
        AlertStore(path)
    assert caught.value.path == str(path)
    with pytest.raises(AlertStoreError, match="not an eqlite alert store"):
        AlertStore(path, readonly=True)


def test_reading_a_missing_store_does_not_create_it(tmp_path: Path) -> None:
    with pytest.raises(AlertStoreError, match="no alert store here"):
        AlertStore(tmp_path / "eqlite.db", readonly=True)
    assert not any(tmp_path.iterdir())


def test_a_read_only_store_refuses_writes(store: AlertStore, alerts: list[dict[str, Any]]) -> None:
    store.close()
    with AlertStore(store.path, readonly=True) as reader:
        assert reader.count() == 6
        with pytest.raises(AlertStoreError, match="read-only"):
            reader.write(alerts)


# ------------------------------------------------------------------ reading


def _names(found: list[dict[str, Any]]) -> list[str]:
    return [str(alert["kibana.alert.ancestors"][-1]["id"]) if alert["kibana.alert.depth"] == 1 else "shell"
            for alert in found]


@pytest.mark.parametrize(("query", "expected"), [
    (AlertQuery(), ["shell", "c", "b", "a"]),
    (AlertQuery(building_blocks=True), ["shell", "s1", "s2", "c", "b", "a"]),
    (AlertQuery(rule=RULE_ID), ["c", "b", "a"]),
    (AlertQuery(rule="child of mmc"), ["c", "b", "a"]),
    (AlertQuery(rule="DCOM"), ["shell"]),
    (AlertQuery(rule="100%_sure"), []),
    (AlertQuery(severities=("critical",)), ["c"]),
    (AlertQuery(severities=("medium", "high")), ["shell", "b", "a"]),
    (AlertQuery(host="h2"), ["b"]),
    (AlertQuery(host="id-h1"), ["c", "a"]),
    (AlertQuery(host="h3", building_blocks=True), ["shell", "s1", "s2"]),
    (AlertQuery(since="2024-05-14T08:10:00.000Z"), ["shell", "c", "b"]),
    (AlertQuery(until="2024-05-14T08:10:00.000Z"), ["b", "a"]),
    (AlertQuery(since="2024-05-14T08:30:00.000Z", until="2024-05-14T08:30:00.000Z"), ["shell"]),
    (AlertQuery(limit=2), ["shell", "c"]),
])
def test_select_filters(store: AlertStore, query: AlertQuery, expected: list[str]) -> None:
    assert _names(store.select(query)) == expected


def test_building_blocks_of_a_shell_in_sequence_order(store: AlertStore, alerts: list[dict[str, Any]]) -> None:
    shell = alerts[3]
    assert [block["kibana.alert.group.index"] for block in store.building_blocks(shell["kibana.alert.uuid"])] == [
        0, 1]


def test_existing_and_resolve(store: AlertStore, alerts: list[dict[str, Any]]) -> None:
    ids = [alert["kibana.alert.uuid"] for alert in alerts]
    assert store.existing([*ids[:2], "unknown"]) == set(ids[:2])
    assert store.resolve(ids[0][:10]) == [ids[0]]
    assert len(store.resolve("", limit=3)) == 3


@example({"host": {"name": "y"}, "host.name": "x"})
@example({"kibana.alert.rule.name": "x", "kibana": {"alert": {"rule": {"name": "y"}}}})
@example({"kibana.alert.rule.name": "x", "kibana.alert": {"rule.name": ""}})
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["host", "host.name", "kibana", "kibana.alert", "kibana.alert.rule.name",
                                        "other"]),
                       st.recursive(st.one_of(st.none(), st.sampled_from(["", "x", "y"]), st.integers(0, 2)),
                                    lambda inner: st.one_of(
                                        st.lists(inner, max_size=2),
                                        st.dictionaries(st.sampled_from(["name", "alert", "rule", "rule.name",
                                                                         "alert.rule.name"]), inner, max_size=2)),
                                    max_leaves=6), max_size=4))
def test_column_values_are_read_in_every_spelling(alert: dict[str, Any]) -> None:
    from eqlite.alerts.store import _text
    from eqlite.runtime.access import raw_values

    for name in ("host.name", "kibana.alert.rule.name"):
        first = next((str(value) for value in raw_values(alert, name) or () if value is not None and value != ""),
                     None)
        assert _text(alert, name) == first
