"""``eqlite status``: what a watch on this store is doing: files and lag, rules and their last run, failures.

Read from the store only (a running watch is not disturbed): whether a watch holds the store,
its clock, every watched file with the bytes not yet read, every scheduled rule with its last
run and next due time, the rules whose last run failed, and recent notices (files removed,
truncated, rotated). Exit codes: 0 success (also when rules are failing: the output says so),
1 the store cannot be read, 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import time
from typing import Any

from eqlite.alerts import AlertStore, AlertStoreError
from eqlite.cli.executions_cmd import common_options, has_log
from eqlite.cli.output import dumps, table
from eqlite.scheduler.datemath import display, humanize
from eqlite.scheduler.log import facts, get_record, record_json, rule_states
from eqlite.scheduler.state import StoreLock

EXIT_OK, EXIT_FAILURE = 0, 1


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "status", help="what a watch is doing: files, lag, last runs, failing rules",
        description="Show the state 'eqlite watch' keeps in the store: whether a watch runs, the watched files "
                    "and how far behind reading is, each rule's last run and next due time, and failing rules.",
        epilog="Exit codes: 0 success, 1 the store cannot be read, 2 bad usage.")
    common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        with AlertStore(args.store, readonly=True) as store:
            if not has_log(store.connection):
                print(f"eqlite status: {args.store}: no watch or replay has used this store yet", file=sys.stderr)
                return EXIT_OK
            report = collect(store.connection, args.store)
    except (AlertStoreError, sqlite3.Error) as error:
        print(f"eqlite status: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if args.format == "json":
        sys.stdout.buffer.write(dumps(report))
    else:
        _print(report, args.tz)
    return EXIT_OK


def collect(connection: sqlite3.Connection, store_path: str) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data (times as epoch ms under ``*_ms`` keys)."""
    known = facts(connection)
    holder = StoreLock.holder(store_path)
    clock = known.get("clock", "")
    now = int(known["now_ms"]) if clock != "real" and known.get("now_ms") else time.time_ns() // 1_000_000
    files = []
    for identity, path, kind, offset, status, message in connection.execute(
            "SELECT identity, path, format, offset, status, message FROM watch_files ORDER BY path"):
        try:
            on_disk: int | None = os.stat(path).st_size
        except OSError:
            on_disk = None
        lag = None if on_disk is None or kind not in ("ndjson", "winevent-json") else max(on_disk - offset, 0)
        files.append({"path": path, "identity": identity, "format": kind, "read_bytes": offset, "size": on_disk,
                      "lag_bytes": lag, "status": status if on_disk is not None else "missing", "message": message})
    rules = []
    for state in rule_states(connection).values():
        last = get_record(connection, str(state.last_seq)) if state.last_seq is not None else []
        rules.append({
            "rule_id": state.rule_id, "rule_uuid": state.rule_uuid, "name": state.rule_name,
            "interval_ms": state.interval, "last_started_ms": state.last_started, "next_due_ms": state.next_due,
            "overdue_ms": max(now - state.next_due, 0), "last_status": state.last_status,
            "consecutive_failures": state.failures, "last_run": record_json(last[0]) if last else None,
        })
    buffered = connection.execute("SELECT COUNT(*) FROM watch_events").fetchone()[0]
    return {
        "store": store_path,
        "running": holder is not None,
        "pid": holder if holder is not None else _int(known.get("pid")),
        "clock": clock,
        "now_ms": now,
        "session": known.get("session"),
        "paths": json.loads(known.get("paths", "[]")),
        "heartbeat_ms": _int(known.get("heartbeat_ms")),
        "stopped_ms": _int(known.get("stopped_ms")),
        "events_buffered": buffered,
        "files": files,
        "rules": rules,
        "failing": [rule for rule in rules if rule["last_status"] == "failed"],
        "notices": json.loads(known.get("notices", "[]")),
    }


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def _interval(ms: int) -> str:
    for unit, name in ((86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s")):
        if ms % unit == 0:
            return f"{ms // unit}{name}"
    return f"{ms}ms"


def _print(report: dict[str, Any], tz: dt.tzinfo | None) -> None:
    if report["running"]:
        state = f"running (pid {report['pid']})"
    elif report["stopped_ms"]:
        state = f"not running (stopped at {display(report['stopped_ms'], tz)})"
    elif report["heartbeat_ms"]:
        state = f"not running (last seen {display(report['heartbeat_ms'], tz)}; it did not stop cleanly)"
    else:
        state = "not running (only replays have used this store)"
    print(f"Watch    {state}")
    if report["clock"]:
        print(f"Clock    {report['clock']}, now {display(report['now_ms'], tz)}")
    if report["paths"]:
        print(f"Paths    {', '.join(report['paths'])}")
    print(f"Buffer   {report['events_buffered']} events kept for later windows")
    if report["files"]:
        print()
        table(["file", "format", "read", "size", "behind", "status"],
              [[f["path"], f["format"], str(f["read_bytes"]), "" if f["size"] is None else str(f["size"]),
                "" if f["lag_bytes"] is None else f"{f['lag_bytes']} bytes", f["status"]] for f in report["files"]])
    if report["rules"]:
        print()
        rows = []
        for rule in report["rules"]:
            overdue = f"overdue {humanize(rule['overdue_ms'])}" if rule["overdue_ms"] else ""
            rows.append([rule["name"][:50], _interval(rule["interval_ms"]), display(rule["last_started_ms"], tz),
                         rule["last_status"], display(rule["next_due_ms"], tz), overdue])
        table(["rule", "every", "last run", "status", "next due", "lag"], rows)
    if report["failing"]:
        print()
        print("Failing rules:")
        for rule in report["failing"]:
            message = rule["last_run"]["message"] if rule["last_run"] else ""
            print(f"  {rule['name']} ({rule['consecutive_failures']} failed runs in a row): {message}")
    if report["notices"]:
        print()
        print("Recent notices:")
        for notice in report["notices"]:
            print(f"  {notice}")
