"""``eqlite watch``: follow event files and run the rules on Kibana's schedule, storing alerts durably.

The watch holds the store with an exclusive lock; a second watch on the same store refuses to
start. SIGTERM or Ctrl-C end it after the current step. Exit codes: 0 stopped normally, 1 the
store is locked or cannot be written, or no rule can run, 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from eqlite.alerts import DEFAULT_STORE, AlertStore, AlertStoreError, check_store_writable
from eqlite.cli.executions_cmd import time_zone
from eqlite.cli.run_cmd import load_rule_set
from eqlite.scheduler.clock import Clock, parse_clock
from eqlite.scheduler.datemath import TimeError, display
from eqlite.scheduler.runner import ExecutionRecord, schedulable
from eqlite.scheduler.state import StoreLock, WatchLockedError, store_is_file
from eqlite.scheduler.watch import Watcher, WatchOptions, describe
from eqlite.semantic.schema import Schema

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "watch", help="follow event files and run rules on their schedule",
        description="Follow growing NDJSON, Windows-event JSON and EVTX files (and new files in directories), "
                    "and run every rule every 'interval' over its look-back window, as Kibana schedules it: "
                    "overlapping windows, max_signals, de-duplication by alert id, catch-up windows and gaps. "
                    "Events read are stored with their files' checkpoints, and each run's alerts, log entry and "
                    "schedule are committed together, so the watch can be killed at any moment and restarted "
                    "without losing or repeating an alert.",
        epilog="Exit codes: 0 stopped normally, 1 the store is in use or cannot be written, 2 bad usage.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="event files or directories to follow")
    parser.add_argument("--store", default=DEFAULT_STORE, metavar="DB",
                        help=f"SQLite alert store, also holding checkpoints and the log (default ./{DEFAULT_STORE})")
    parser.add_argument("--rules", action="append", metavar="PATH|builtin", default=None,
                        help="rule files or directories, or 'builtin' (repeatable; default: builtin)")
    parser.add_argument("--clock", default="real", metavar="real|file:PATH|speed:F@ISO",
                        help="'real' (default), 'file:PATH' (simulated time read from PATH, for tests and demos) "
                             "or 'speed:FACTOR@ISO' (simulated time from ISO, FACTOR times faster)")
    parser.add_argument("--poll", type=_seconds, default=1.0, metavar="SECONDS",
                        help="how often to look for new data when idle (default 1)")
    parser.add_argument("--max-executions", type=_positive, default=None, metavar="N",
                        help="stop after N rule runs (all rules together)")
    parser.add_argument("--exit-when-idle", action="store_true",
                        help="stop as soon as nothing new is read and no rule is due")
    parser.add_argument("--batch-events", type=_positive, default=5000, metavar="N",
                        help="events stored per transaction (default 5000; smaller commits more often)")
    parser.add_argument("--index", default=None, help="index name for events that carry none")
    parser.add_argument("--profile", choices=("winlogbeat", "agent"), default="winlogbeat",
                        help="how raw Windows logs map to ECS (default winlogbeat)")
    parser.add_argument("--host-id", default=None, help="host.id of raw Windows logs (default: the computer)")
    parser.add_argument("--tz", metavar="ZONE", type=time_zone, default=None,
                        help="show times in this zone (IANA name, +02:00 or 'local'); default UTC")
    parser.add_argument("--quiet", "-q", action="store_true", help="report only problems, not every run")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        clock = parse_clock(args.clock)
        clock.now()
    except TimeError as error:
        print(f"eqlite watch: {error}", file=sys.stderr)
        return EXIT_USAGE
    problem = store_is_file(args.store)
    if problem is not None:
        print(f"eqlite watch: {args.store}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        check_store_writable(args.store)
    except AlertStoreError as error:
        print(f"eqlite watch: {error}", file=sys.stderr)
        return EXIT_FAILURE
    lock = StoreLock(args.store)
    try:
        lock.acquire()
    except WatchLockedError as error:
        print(f"eqlite watch: {error}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return _watch(args, clock)
    finally:
        lock.release()


def _watch(args: argparse.Namespace, clock: Clock) -> int:
    rules, load_errors = load_rule_set(args.rules)
    for error in load_errors:
        print(f"eqlite watch: {error}", file=sys.stderr)
    chosen = schedulable(rules, Schema.ecs(), mode="watch")
    for problem in chosen.problems:
        print(f"eqlite watch: {problem}", file=sys.stderr)
    if not chosen.runners:
        print("eqlite watch: no rule to run (only enabled EQL rules are scheduled)", file=sys.stderr)
        return EXIT_FAILURE
    options = WatchOptions(tuple(args.paths), index=args.index, profile=args.profile, host_id=args.host_id,
                           poll=args.poll, max_executions=args.max_executions, exit_when_idle=args.exit_when_idle,
                           batch_events=args.batch_events)
    try:
        with AlertStore(args.store) as store:
            watcher = Watcher(chosen.runners, store, clock, options, _report, _run_reporter(args.quiet, args.tz))
            if not args.quiet:
                skipped = f"; {chosen.unsupported} rules of other types not run" if chosen.unsupported else ""
                print(f"eqlite watch: {len(chosen.runners)} rules over {', '.join(args.paths)}, clock {clock.spec} "
                      f"(now {display(clock.now(), args.tz)}), store {args.store}{skipped}", file=sys.stderr)
            previous = _on_signals(watcher.stop)
            try:
                summary = watcher.run()
            finally:
                _restore(previous)
    except (AlertStoreError, TimeError) as error:
        print(f"eqlite watch: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if not args.quiet:
        print(f"eqlite watch: stopped ({summary.stopped_by}): {summary.events} events read, {summary.executions} "
              f"runs, {summary.alerts_written} alerts written, {summary.failed} failed runs", file=sys.stderr)
    return EXIT_OK


def _report(line: str) -> None:
    print(f"eqlite watch: {line}", file=sys.stderr, flush=True)


def _run_reporter(quiet: bool, tz: dt.tzinfo | None) -> Callable[[ExecutionRecord], None]:
    def on_run(record: ExecutionRecord) -> None:
        if not quiet or record.status != "succeeded":
            _report(describe(record, tz))

    return on_run


Handler = Callable[[int, FrameType | None], Any] | int | None


def _on_signals(stop: Callable[[], None]) -> dict[int, Handler]:
    def handle(number: int, frame: FrameType | None) -> None:
        stop()

    previous: dict[int, Handler] = {}
    for number in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[number] = signal.signal(number, handle)
        except ValueError:  # not the main thread (tests): no handlers, KeyboardInterrupt still stops
            break
    return previous


def _restore(previous: dict[int, Handler]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)

