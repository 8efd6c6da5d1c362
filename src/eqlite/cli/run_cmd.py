"""``eqlite run``: run detection rules over event files and write the alerts Kibana would write.

Hunting mode (default): one window over all the data, no time filter, every match an alert.
Each rule sees only the events whose index its index patterns cover; events with no known
index are visible to every rule, and the summary says how many there were.

Replay mode (``--replay``): the runs Kibana would have made had it been running live over the
data: every ``interval`` from ``--start``, each searching its look-back window with
``max_signals``, de-duplicated by alert id, with catch-up windows and gaps after a ``--pause``
(see :mod:`eqlite.scheduler.replay`). The execution log goes to stderr and to the store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import orjson
from tqdm import tqdm

from eqlite.alerts import (
    Alert,
    AlertBuilder,
    AlertOutputError,
    AlertStore,
    NdjsonSink,
    WriteResult,
    check_store_writable,
    check_target,
    dumps_alert,
    open_sink,
)
from eqlite.cli.alert_pool import PARALLEL_MIN_HITS, AlertPool, BuiltBatch, Hydrate, can_fork, table_place
from eqlite.cli.alerts_cmd import write_alert_table
from eqlite.cli.convert_cmd import summary as source_summary
from eqlite.cli.executions_cmd import time_zone, write_log_table
from eqlite.cli.output import table
from eqlite.errors import EqliteError
from eqlite.rules import Rule, load_builtin_rules, load_rules
from eqlite.runtime.search import hit_events
from eqlite.scheduler.datemath import TimeError, display, parse_duration, parse_instant
from eqlite.scheduler.executor import Execution, RuleRun
from eqlite.scheduler.fast import FastExecution, collector_paused, read_sample, run_paths, settle_for_run
from eqlite.scheduler.log import ensure_tables, insert_records
from eqlite.scheduler.parallel import Presplit
from eqlite.scheduler.replay import Pause, ReplayResult, replay
from eqlite.scheduler.runner import MAX_SIGNALS_WARNING, schedulable
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent, SourceStats
from eqlite.sources.reader import input_files, read_events

DEFAULT_STORE = "eqlite.db"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "run", help="run detection rules over event files and write alerts",
        description="Run every supported rule over the events (NDJSON, .gz, Elasticsearch hits, .evtx, "
                    "Windows-event JSON) and write Kibana-shaped alerts. Without --rules the built-in pack "
                    "runs. Hunting mode: one window over all the data, every match an alert.",
        epilog="Exit codes: 0 success, 1 a rule or input failed or the output could not be written, "
               "2 bad usage.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="event files or directories; '-' is stdin")
    parser.add_argument("--rules", action="append", metavar="PATH|builtin", default=None,
                        help="rule files or directories, or 'builtin' (repeatable; default: builtin)")
    parser.add_argument("--index", default=None,
                        help="index name for events that carry none (else data_stream.* decides)")
    parser.add_argument("--alerts", default=None, metavar="FILE|-",
                        help="also write the alerts as NDJSON to FILE, or to stdout with '-'")
    parser.add_argument("--store", default=DEFAULT_STORE, metavar="DB",
                        help=f"SQLite alert store (default ./{DEFAULT_STORE})")
    parser.add_argument("--no-store", action="store_true", help="do not write the alert store")
    parser.add_argument("--format", choices=("ndjson", "table"), default=None,
                        help="stdout format: NDJSON alerts, or a table of alerts (default: table, or ndjson "
                             "with --alerts -)")
    parser.add_argument("--now", default=None, metavar="ISO",
                        help="the alerts' @timestamp (default: the current time); fixing it makes output "
                             "byte-identical across runs")
    parser.add_argument("--profile", choices=("winlogbeat", "agent"), default="winlogbeat",
                        help="how raw Windows logs map to ECS (default winlogbeat)")
    parser.add_argument("--host-id", default=None, help="host.id of raw Windows logs (default: the computer)")
    parser.add_argument("--engine", choices=("fast", "reference"), default="fast",
                        help="fast (default): NDJSON lines that no rule can match are skipped unparsed, and "
                             "only candidate events are sorted; reference: every event parsed and matched by "
                             "the reference engine. Both give the same alerts; the reference engine also "
                             "reports malformed lines that no rule could have matched")
    parser.add_argument("--workers", type=_workers, default="auto", metavar="N",
                        help="processes that read plain NDJSON files (32 MB and more, alone or together) and "
                             "EVTX or zip files (two or more, 4 MB together), and build the alerts of rules with many "
                             "matches, in parallel with the fast engine; "
                             "'auto' (the default): "
                             f"one per CPU this process may use, at most {AUTO_WORKERS_MAX}; 1: none")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary on stderr")
    replay = parser.add_argument_group("replay", "simulate Kibana's scheduled runs over the data's time span")
    replay.add_argument("--replay", action="store_true",
                        help="run each rule every 'interval' over its look-back window, as Kibana would have")
    replay.add_argument("--start", metavar="ISO", default=None,
                        help="the first run (default: the earliest event time)")
    replay.add_argument("--end", metavar="ISO", default=None,
                        help="run until a window reaches this time (default: the latest event time)")
    replay.add_argument("--pause", metavar="ISO/DURATION", action="append", default=[],
                        help="the scheduler is down from ISO for DURATION (e.g. 2024-05-14T12:00:00Z/30m); "
                             "repeatable")
    replay.add_argument("--tz", metavar="ZONE", type=time_zone, default=None,
                        help="show times in the execution log in this zone (default UTC)")
    parser.set_defaults(run=run)


# Each worker holds its own candidate budget: more than a few would trade memory for little speed.
AUTO_WORKERS_MAX = 4


def _workers(text: str) -> int:
    if text == "auto":
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(usable, AUTO_WORKERS_MAX))
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', not {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError("needs at least 1")
    return count


def parse_now(text: str | None) -> dt.datetime:
    """``--now``: an ISO-8601 instant (``Z`` or an offset; no offset means UTC)."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def load_rule_set(sources: Sequence[str] | None) -> tuple[list[Rule], list[str]]:
    """The rules named by ``--rules`` (``builtin`` or paths), and the load errors to report."""
    rules: list[Rule] = []
    errors: list[str] = []
    for source in sources or ["builtin"]:
        if source == "builtin":
            rules.extend(load_builtin_rules())
            continue
        loaded = load_rules([source])
        rules.extend(loaded.rules)
        errors.extend(str(error) for error in loaded.errors)
    return rules, errors


@dataclass(slots=True)
class RuleSummary:
    rule: Rule
    status: str
    detail: str = ""
    events: int = 0
    matches: int = 0
    alerts: int = 0


@dataclass(slots=True)
class Outcome:
    alerts: list[Alert] = field(default_factory=list)
    rules: list[RuleSummary] = field(default_factory=list)


ALERT_BATCH = 1000


def alert_batches(rule_run: RuleRun, now: dt.datetime, summary: RuleSummary,
                  hydrate: Hydrate | None = None) -> Iterator[list[Alert]]:
    """The alerts for a rule's matches, in Elasticsearch's hit order, a batch of hits at a time.

    With ``hydrate``, each batch's events get their documents just before their alerts are
    built, and lose them after, so that a rule with many matches never holds them all.
    The summary's counts and notes are filled in as the batches go.
    """
    if rule_run.result is None:
        return
    builder = AlertBuilder(rule_run.rule, now=now)
    hits = rule_run.result.hits
    summary.matches = len(hits)
    for start in range(0, len(hits), ALERT_BATCH):
        batch = hits[start:start + ALERT_BATCH]
        if hydrate is not None:
            hydrate(batch)
        alerts = builder.build_all(batch)
        summary.alerts += len(alerts)
        if hydrate is not None:
            for hit in batch:
                for event in hit_events(hit):
                    if event.raw is not None or event.locator is not None:
                        event.source = {}  # read again should a later hit share the event
        yield alerts
    summary.detail = _notes(rule_run)


def _notes(rule_run: RuleRun) -> str:
    """What the summary says of a rule's run beside its counts."""
    if rule_run.result is None:
        return ""
    stats = rule_run.result.stats
    notes = []
    if stats.script_errors:
        notes.append(f"{stats.script_errors} script errors ({stats.last_script_error})")
    if stats.matcher is not None and stats.matcher.cap_hit:
        notes.append(f"sequence state cap hit: {stats.matcher.dropped_by_cap} partials dropped")
    return "; ".join(notes)


def summarize(rule_run: RuleRun, now: dt.datetime) -> tuple[RuleSummary, list[Alert]]:
    """A rule's line in the summary, and the alerts for its matches in Elasticsearch's hit order."""
    summary = RuleSummary(rule_run.rule, rule_run.status, rule_run.error or "", rule_run.events_seen)
    alerts = [alert for batch in alert_batches(rule_run, now, summary) for alert in batch]
    return summary, alerts


def build_outcome(runs: Iterable[RuleRun], now: dt.datetime) -> Outcome:
    """Alerts for every match of every rule, in rule order then Elasticsearch's hit order."""
    outcome = Outcome()
    for rule_run in runs:
        summary, alerts = summarize(rule_run, now)
        outcome.rules.append(summary)
        outcome.alerts.extend(alerts)
    return outcome


def _events(paths: Sequence[str], stats: SourceStats, args: argparse.Namespace) -> Iterator[SourceEvent]:
    events = read_events(paths, stats, index=args.index, profile=args.profile, host_id=args.host_id,
                         index_from_file_name=False)
    shown = 0
    for event in events:
        while shown < len(stats.problems):
            print(f"eqlite: {stats.problems[shown]}", file=sys.stderr)
            shown += 1
        yield event
    for problem in stats.problems[shown:]:
        print(f"eqlite: {problem}", file=sys.stderr)


def _check_outputs(args: argparse.Namespace) -> str | None:
    try:
        if args.alerts is not None:
            check_target(args.alerts)
        if not args.no_store:
            check_store_writable(args.store)
    except AlertOutputError as error:
        return str(error)
    return None


def run(args: argparse.Namespace) -> int:
    if args.replay:
        return run_replay(args)
    if args.start or args.end or args.pause:
        print("eqlite run: --start, --end and --pause need --replay", file=sys.stderr)
        return 2
    try:
        now = parse_now(args.now)
    except ValueError:
        print(f"eqlite run: --now {args.now!r} is not an ISO-8601 time", file=sys.stderr)
        return 2
    problem = _check_outputs(args)
    if problem is not None:
        print(f"eqlite run: {problem}", file=sys.stderr)
        return 1
    rules, load_errors = load_rule_set(args.rules)
    for error in load_errors:
        print(f"eqlite: {error}", file=sys.stderr)
    stats = SourceStats()
    started = time.perf_counter()
    runs: Iterable[RuleRun]
    hydrate: Hydrate | None
    fast: FastExecution | None = None
    progress = tqdm(total=None, unit=" events", disable=True if args.quiet else None, file=sys.stderr,
                    mininterval=0.5, smoothing=0.1, desc="eqlite run")
    try:
        if args.engine == "fast":
            # the large files are cut into the workers' ranges on another core while the rules are built
            presplit = Presplit(input_files(args.paths), args.workers)
            # what the build makes is frozen before any collection walks it (see settle_for_run)
            with collector_paused():
                try:
                    fast = FastExecution(rules, Schema.ecs(), read_sample(args.paths))
                except BaseException:
                    presplit.close()
                    raise
                settle_for_run()
            _report_rule_errors(fast.runs)
            run_paths(fast, args.paths, stats, index=args.index, profile=args.profile, host_id=args.host_id,
                      progress=progress.update, workers=args.workers, presplit=presplit)
            for source_problem in stats.problems:
                print(f"eqlite: {source_problem}", file=sys.stderr)
            runs, events, without_index = fast.finish_each(hydrated=False), stats.events, fast.events_without_index
            hydrate = fast.hydrate
        else:
            execution = Execution.of(rules, Schema.ecs())
            _report_rule_errors(execution.runs)
            for record in _events(args.paths, stats, args):
                execution.feed(record)
                progress.update(1)
            runs, events, without_index = execution.finish(), execution.events, execution.events_without_index
            hydrate = None
    finally:
        progress.close()
    outcome = Outcome()
    pooled = fast if fast is not None and args.workers > 1 and can_fork() else None  # (see alert_pool)
    try:
        with AlertWriter(args) as writer, ExitStack() as stack:
            pool: AlertPool[RuleSummary] | None = None
            matched = 0  # the matches of the rules so far
            for number, rule_run in enumerate(runs):
                summary = RuleSummary(rule_run.rule, rule_run.status, rule_run.error or "", rule_run.events_seen)
                outcome.rules.append(summary)
                hits = rule_run.result.hits if rule_run.result is not None else ()
                matched += len(hits)
                if pool is None and pooled is not None and matched >= PARALLEL_MIN_HITS:
                    pool = stack.enter_context(AlertPool([run.rule for run in pooled.runs], now, pooled.hydrate,
                                                         pooled.reopen_readers, args.workers,
                                                         rows=writer.needs_rows))
                if pool is not None and rule_run.result is not None:
                    summary.matches = len(hits)
                    summary.detail = _notes(rule_run)
                    for done, built in pool.submit(summary, number, hits):
                        writer.write_built(built)
                        done.alerts += len(built.uuids)
                else:
                    for alerts in alert_batches(rule_run, now, summary, hydrate):
                        writer.write(alerts)
                rule_run.result = None  # written or sent: one rule's results in memory at a time
            if pool is not None:
                for done, built in pool.drain():
                    writer.write_built(built)
                    done.alerts += len(built.uuids)
            results = writer.results
    except (AlertOutputError, EqliteError) as error:
        print(f"eqlite run: {error}", file=sys.stderr)
        return 1
    if not args.quiet:
        _report(outcome, results, events, without_index, stats, time.perf_counter() - started)
    failed = bool(load_errors) or any(summary.status == "error" for summary in outcome.rules)
    unreadable = any(problem.position is None and problem.severity == "error" for problem in stats.problems)
    return 1 if failed or unreadable else 0


TABLE_ROWS = 1000


class AlertWriter:
    """Writes alerts batch by batch (a rule's at a time) to the store, the NDJSON target and stdout.

    Each batch is one store transaction; the NDJSON file is published whole, when the writer
    closes without error. The stdout table shows the first :data:`TABLE_ROWS` alerts.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.results: dict[str, WriteResult] = {}
        self.stdout_format = args.format or ("ndjson" if args.alerts == "-" else "table")
        self.store = None if args.no_store else AlertStore(args.store)
        self.sink = open_sink(args.alerts) if args.alerts is not None and args.alerts != "-" else None
        self.ndjson_stdout = self.stdout_format == "ndjson" and (args.alerts == "-" or args.format == "ndjson")
        self.table: list[Alert] = []
        self.table_blocks: dict[str, list[Alert]] = {}
        self.not_shown = 0

    def write(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        if self.store is not None:
            self._add("store", self.store.write(alerts))
        if self.sink is not None:
            self._add("file", self.sink.write(alerts))
        if self.ndjson_stdout:
            out = sys.stdout.buffer
            for alert in alerts:
                out.write(dumps_alert(alert))
            out.flush()
        elif self.stdout_format == "table":
            for alert in alerts:
                self._tabulate(str(alert.get("kibana.alert.uuid")), *table_place(alert), alert)

    @property
    def needs_rows(self) -> bool:
        """Whether alerts built elsewhere must come with the store's rows (see :meth:`write_built`)."""
        return self.store is not None or isinstance(self.sink, AlertStore)

    def write_built(self, built: BuiltBatch) -> None:
        """:meth:`write` for alerts built in worker processes (see :mod:`eqlite.cli.alert_pool`)."""
        if not built.uuids:
            return
        if self.store is not None:
            assert built.rows is not None, "the store's rows were not asked for"
            self._add("store", self.store.write_rows(*built.rows))
        if isinstance(self.sink, NdjsonSink):
            self._add("file", self.sink.write_lines(list(zip(built.uuids, built.lines, strict=True))))
        elif isinstance(self.sink, AlertStore):
            assert built.rows is not None, "the store's rows were not asked for"
            self._add("file", self.sink.write_rows(*built.rows))
        elif self.sink is not None:
            self._add("file", self.sink.write([orjson.loads(line) for line in built.lines]))
        if self.ndjson_stdout:
            out = sys.stdout.buffer
            out.write(b"".join(built.lines))
            out.flush()
        elif self.stdout_format == "table":  # only the alerts the table shows are parsed again
            for uuid, line, (group, building_block) in zip(built.uuids, built.lines, built.groups, strict=True):
                self._tabulate(uuid, group, building_block, line)

    def _tabulate(self, uuid: str, group: str | None, building_block: bool, document: Alert | bytes) -> None:
        """Place an alert in the stdout table: an event alert or a sequence shell while there is room,
        a building block under its shell when the shell is shown. ``document`` is the alert, or its
        NDJSON line, parsed only if the table shows it."""
        if building_block:
            blocks = self.table_blocks.get(str(group))
            if blocks is not None:
                blocks.append(_parsed(document))
        elif len(self.table) < TABLE_ROWS:
            self.table.append(_parsed(document))
            self.table_blocks[uuid] = []
        else:
            self.not_shown += 1

    def _add(self, target: str, result: WriteResult) -> None:
        before = self.results.get(target, WriteResult(0, 0))
        self.results[target] = WriteResult(before.written + result.written, before.duplicates + result.duplicates)

    def __enter__(self) -> AlertWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if self.store is not None:
            self.store.close()
        if self.sink is not None:
            if kind is not None and isinstance(self.sink, NdjsonSink):
                self.sink.abort()  # the target file stays as it was
            else:
                self.sink.close()
        if kind is None and self.table:
            write_alert_table(self.table, lambda uuid: self.table_blocks.get(uuid, []))
        if kind is None and self.not_shown:
            print(f"eqlite run: {self.not_shown} more alerts not shown; see 'eqlite alerts list', or use "
                  f"--format ndjson or --alerts FILE", file=sys.stderr)


def _parsed(document: Alert | bytes) -> Alert:
    if isinstance(document, bytes):
        parsed: Alert = orjson.loads(document)
        return parsed
    return document


def _report_rule_errors(runs: Sequence[RuleRun]) -> None:
    for rule_run in runs:
        if rule_run.status == "error":
            print(f"eqlite: rule {rule_run.rule.name!r}: {rule_run.error}", file=sys.stderr)


def _report(outcome: Outcome, results: dict[str, WriteResult], events: int, without_index: int,
            stats: SourceStats, elapsed: float) -> None:
    err = sys.stderr
    print(f"\neqlite run: {events} events in {elapsed:.1f} s ({events / elapsed if elapsed else 0:,.0f}/s)",
          file=err)
    if len(stats.files) > 1 or stats.errors or stats.problems:
        source_summary(stats, err)
    if without_index:
        print(f"{without_index} events had no known index (no hit envelope, --index or "
              f"data_stream.*) and were visible to every rule", file=err)
    rows = [[s.status, s.rule.name[:60], str(s.events), str(s.matches), str(s.alerts), s.detail[:80]]
            for s in outcome.rules if s.status != "unsupported"]
    unsupported = sum(1 for s in outcome.rules if s.status == "unsupported")
    table(["status", "rule", "events", "matches", "alerts", "notes"], rows, err)
    if unsupported:
        print(f"{unsupported} rules of other types were not run (see 'eqlite rules check')", file=err)
    for target, result in results.items():
        print(f"{target}: {result.written} alerts written, {result.duplicates} already present", file=err)


# ---------------------------------------------------------------------- replay


def _pause(text: str) -> Pause:
    moment, slash, length = text.rpartition("/")
    if not slash:
        raise TimeError(f"--pause {text!r}: write START/DURATION, e.g. 2024-05-14T12:00:00Z/30m")
    start = parse_instant(moment)
    return Pause(start, start + parse_duration(length))


def run_replay(args: argparse.Namespace) -> int:
    """``eqlite run --replay``: Kibana's scheduled runs over recorded events."""
    if args.now is not None:
        print("eqlite run: --now does not apply to --replay (each alert is timed by the run that wrote it)",
              file=sys.stderr)
        return 2
    try:
        start = parse_instant(args.start) if args.start else None
        end = parse_instant(args.end) if args.end else None
        pauses = [_pause(text) for text in args.pause]
    except TimeError as error:
        print(f"eqlite run: {error}", file=sys.stderr)
        return 2
    problem = _check_outputs(args)
    if problem is not None:
        print(f"eqlite run: {problem}", file=sys.stderr)
        return 1
    rules, load_errors = load_rule_set(args.rules)
    for load_error in load_errors:
        print(f"eqlite: {load_error}", file=sys.stderr)
    chosen = schedulable(rules, Schema.ecs(), mode="replay")
    for message in chosen.problems:
        print(f"eqlite: {message}", file=sys.stderr)
    stats = SourceStats()
    started = time.perf_counter()
    events = list(_events(args.paths, stats, args))
    result = replay([runner.rule for runner in chosen.runners], events, schema=Schema.ecs(), start=start, end=end,
                    pauses=pauses)
    try:
        results = _write_replay(result, args)
    except (AlertOutputError, EqliteError) as error:
        print(f"eqlite run: {error}", file=sys.stderr)
        return 1
    if not args.quiet:
        _report_replay(result, results, len(events), args.tz, time.perf_counter() - started)
        if chosen.unsupported:
            print(f"{chosen.unsupported} rules of other types were not run (see 'eqlite rules check')",
                  file=sys.stderr)
    unreadable = any(problem.position is None and problem.severity == "error" for problem in stats.problems)
    broken = bool(load_errors) or any(runner.error for runner in chosen.runners) or len(chosen.problems) > 0
    return 1 if broken or unreadable else 0


def _write_replay(result: ReplayResult, args: argparse.Namespace) -> dict[str, WriteResult]:
    """The alerts go where ``run`` sends them; the store also gets the execution log, in the same transaction."""
    results: dict[str, WriteResult] = {}
    if not args.no_store:
        with AlertStore(args.store) as store:
            ensure_tables(store.connection, store.path)
            session = str(uuid.uuid4())
            results["store"] = store.write(result.alerts,
                                           also=lambda db: insert_records(db, result.records, session))
    elsewhere = argparse.Namespace(**{**vars(args), "no_store": True})
    with AlertWriter(elsewhere) as writer:
        writer.write(result.alerts)
    results.update(writer.results)
    return results


def _report_replay(result: ReplayResult, results: dict[str, WriteResult], events: int, tz: dt.tzinfo | None,
                   elapsed: float) -> None:
    err = sys.stderr
    if result.records:
        print(file=err)
        write_log_table(result.records, tz, err)
    rules = len({record.rule_id for record in result.records})
    span = (f" from {display(result.start, tz)} to {display(result.end, tz)}"
            if result.start is not None and result.end is not None else "")
    limited = sum(MAX_SIGNALS_WARNING in record.warnings for record in result.records)
    gaps = sum(1 for record in result.records if record.gap)
    failed = sum(record.status == "failed" for record in result.records)
    print(f"\neqlite run --replay: {events} events, {len(result.records)} runs of {rules} rules{span} in "
          f"{elapsed:.1f} s: {len(result.alerts)} alerts; {limited} runs reached max_signals, {gaps} gaps, "
          f"{failed} failed runs", file=err)
    for target, outcome in results.items():
        print(f"{target}: {outcome.written} alerts written, {outcome.duplicates} already present", file=err)
