"""``eqlite executions``: the execution log of scheduled runs (``eqlite watch`` and ``eqlite run --replay``).

``list`` prints one row per run, the latest first, filtered by rule, status or mode; ``show``
prints one run in full. Times are UTC unless ``--tz`` names another zone. Output goes to
stdout, diagnostics to stderr. Exit codes: 0 success, 1 the store cannot be read or the run
is not found, 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
from collections.abc import Sequence
from typing import IO, Any, Final

from eqlite.alerts import DEFAULT_STORE, AlertStore, AlertStoreError
from eqlite.cli.output import dumps, table
from eqlite.scheduler.datemath import TimeError, display, humanize, zone
from eqlite.scheduler.log import LogQuery, get_record, record_json, select_records
from eqlite.scheduler.runner import MAX_SIGNALS_WARNING, ExecutionRecord

STATUSES: Final = ("succeeded", "partial failure", "failed")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_EPILOG: Final = "Exit codes: 0 success, 1 the store cannot be read or the run is not found, 2 bad usage."


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "executions", help="list and show scheduled rule runs",
        description="Read the execution log that 'eqlite watch' and 'eqlite run --replay' keep in the store.",
        epilog=_EPILOG)
    parser.set_defaults(run=run, executions_command=None, executions_parser=parser)
    actions = parser.add_subparsers(dest="executions_command", metavar="<subcommand>")
    listing = actions.add_parser("list", help="list runs, latest first", epilog=_EPILOG,
                                 description="List rule runs, latest first.")
    common_options(listing)
    listing.add_argument("--rule", metavar="ID|NAME", help="rule_id, rule uuid, or part of the rule name")
    listing.add_argument("--status", metavar="S[,S...]", type=_statuses, default=(),
                         help="only these statuses: succeeded, partial failure (or warning), failed")
    listing.add_argument("--mode", choices=("watch", "replay"), help="only runs of 'eqlite watch' or of a replay")
    listing.add_argument("--limit", metavar="N", type=_count, default=100, help="at most N runs (default 100; 0: all)")
    show = actions.add_parser("show", help="show one run", epilog=_EPILOG,
                              description="Show one run by its log number or execution uuid (or a prefix of it).")
    show.add_argument("key", metavar="SEQ|UUID", help="the '#' of 'executions list', or an execution uuid prefix")
    common_options(show)


def common_options(parser: argparse.ArgumentParser) -> None:
    """``--store``, ``--format`` and ``--tz``, shared with ``eqlite status``."""
    parser.add_argument("--store", metavar="DB", default=DEFAULT_STORE,
                        help=f"the SQLite alert store (default ./{DEFAULT_STORE})")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table for people (default) or JSON for machines")
    parser.add_argument("--tz", metavar="ZONE", type=time_zone, default=None,
                        help="show times in this zone (IANA name, +02:00 or 'local'); default UTC")


def time_zone(text: str) -> dt.tzinfo:
    """``--tz`` as an argparse type."""
    try:
        return zone(text)
    except TimeError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _statuses(text: str) -> tuple[str, ...]:
    chosen = tuple("partial failure" if part.strip().lower() in ("warning", "partial", "partial failure")
                   else part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in STATUSES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: use one or more of succeeded, warning, failed, comma-separated")
    return chosen


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 for all)")
    return int(text)


def has_log(connection: sqlite3.Connection) -> bool:
    """Whether the store holds the scheduler's tables (a watch or replay has written to it)."""
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'executions'").fetchone()
    return row is not None


def run(args: argparse.Namespace) -> int:
    if args.executions_command is None:
        args.executions_parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with AlertStore(args.store, readonly=True) as store:
            if not has_log(store.connection):
                print(f"eqlite executions: {args.store}: no runs recorded yet (run 'eqlite watch' or "
                      "'eqlite run --replay' with this --store)", file=sys.stderr)
                return EXIT_OK if args.executions_command == "list" else EXIT_FAILURE
            if args.executions_command == "list":
                return _list(store.connection, args)
            return _show(store.connection, args)
    except (AlertStoreError, sqlite3.Error) as error:
        print(f"eqlite executions: {error}", file=sys.stderr)
        return EXIT_FAILURE


def _list(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    limit = args.limit or None
    records = select_records(connection, LogQuery(args.rule, args.status, args.mode, None if limit is None
                                                  else limit + 1))
    more = limit is not None and len(records) > limit
    records = records[:limit] if limit is not None else records
    if args.format == "json":
        out = sys.stdout.buffer
        for record in records:
            out.write(dumps(record_json(record)))
        out.flush()
    elif records:
        write_log_table(records, args.tz, sys.stdout)
    if more:
        print(f"eqlite executions: showing the latest {limit}; use --limit to see more", file=sys.stderr)
    elif not records:
        print("eqlite executions: no runs match", file=sys.stderr)
    return EXIT_OK


def _show(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    found = get_record(connection, args.key)
    if not found:
        print(f"eqlite executions: no run {args.key!r} in {args.store}", file=sys.stderr)
        return EXIT_FAILURE
    if len(found) > 1:
        print(f"eqlite executions: {args.key!r} matches several runs; give more of the uuid:", file=sys.stderr)
        for record in found:
            print(f"  {record.uuid}", file=sys.stderr)
        return EXIT_FAILURE
    record = found[0]
    if args.format == "json":
        sys.stdout.buffer.write(dumps(record_json(record)))
        return EXIT_OK
    tz = args.tz
    rows = [
        ("Run", f"#{record.seq}  {record.uuid} ({record.mode})"),
        ("Rule", f"{record.rule_name} ({record.rule_id})"),
        ("Started", display(record.started, tz)),
        ("Status", record.status),
        ("Message", record.message),
        ("Windows", "\n".join(f"{display(w.start, tz)} .. {display(w.end, tz)}"
                              + ("  (regular)" if i == len(record.windows) - 1 and len(record.windows) > 1 else "")
                              for i, w in enumerate(record.windows))),
        ("Events searched", str(record.events)),
        ("Matches", str(record.matches)),
        ("Alerts", f"{record.alerts} built, {record.written} written, {record.duplicates} duplicates dropped"),
        ("Duration", f"{record.duration_ms:.1f} ms"),
    ]
    if record.gap_range is not None:
        rows.append(("Gap", f"{humanize(record.gap)} ({record.gap} ms) not searched: "
                            f"{display(record.gap_range.start, tz)} .. {display(record.gap_range.end, tz)}"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        lines = value.split("\n")
        print(f"{label.ljust(width)}  {lines[0]}")
        for line in lines[1:]:
            print(f"{' ' * width}  {line}")
    return EXIT_OK


def notes(record: ExecutionRecord) -> str:
    """A short summary of a run's warnings and errors, for a table cell."""
    parts = []
    if record.gap:
        parts.append(f"gap {humanize(record.gap)}")
    if MAX_SIGNALS_WARNING in record.warnings:
        parts.append("max alerts reached")
    parts += [error for error in record.errors if "were not queried" not in error]
    parts += [warning for warning in record.warnings if warning != MAX_SIGNALS_WARNING]
    return "; ".join(parts)


def write_log_table(records: Sequence[ExecutionRecord], tz: dt.tzinfo | None, stream: IO[str]) -> None:
    """Runs as a table (start, rule, status, window, counts, duration), then the message of every run that did not
    simply succeed."""
    rows = []
    for record in records:
        span = window_span(record.windows[0].start, record.windows[-1].end, tz, record.started)
        if len(record.windows) > 1:
            span += f" +{len(record.windows) - 1} catch-up"
        rows.append(["" if record.seq is None else str(record.seq), display(record.started, tz), record.rule_name[:32],
                     record.status, span, str(record.matches), str(record.written), str(record.duplicates),
                     f"{record.duration_ms:.0f}ms", notes(record)])
    table(["#", "started", "rule", "status", "window", "matches", "written", "dropped", "took", "notes"], rows, stream)
    for record in records:
        if record.status != "succeeded":
            label = f"#{record.seq} " if record.seq is not None else ""
            stream.write(f"{label}{display(record.started, tz)} {record.rule_name}: {record.status}: "
                         f"{record.message}\n")


def window_span(start: int, end: int, tz: dt.tzinfo | None, started: int) -> str:
    """``from .. to`` as times of day when they fall on the run's date (the table shows the date once).

    >>> window_span(1715673060000, 1715673600000, None, 1715673600000)
    '07:51:00.000Z .. 08:00:00.000Z'
    """
    day = display(started, tz)[:10]
    return " .. ".join(text[11:] if text[:10] == day else text for text in (display(start, tz), display(end, tz)))
