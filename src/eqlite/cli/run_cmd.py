"""``eqlite run``: run detection rules over event files and write the alerts Kibana would write.

Hunting mode: one window over all the data, no time filter, every match an alert. Each
rule sees only the events whose index its index patterns cover; events with no known
index are visible to every rule, and the summary says how many there were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from eqlite.alerts import (
    Alert,
    AlertBuilder,
    AlertOutputError,
    AlertStore,
    WriteResult,
    check_store_writable,
    check_target,
    dumps_alert,
    open_sink,
)
from eqlite.cli.alerts_cmd import write_alert_table
from eqlite.cli.convert_cmd import summary as source_summary
from eqlite.cli.output import table
from eqlite.errors import EqliteError
from eqlite.rules import Rule, load_builtin_rules, load_rules
from eqlite.scheduler.executor import Execution, RuleRun
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent, SourceStats
from eqlite.sources.reader import read_events

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
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary on stderr")
    parser.set_defaults(run=run)


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


def build_outcome(runs: Sequence[RuleRun], now: dt.datetime) -> Outcome:
    """Alerts for every match of every rule, in rule order then Elasticsearch's hit order."""
    outcome = Outcome()
    for rule_run in runs:
        summary = RuleSummary(rule_run.rule, rule_run.status, rule_run.error or "", rule_run.events_seen)
        outcome.rules.append(summary)
        if rule_run.result is None:
            continue
        builder = AlertBuilder(rule_run.rule, now=now)
        summary.matches = len(rule_run.result.hits)
        alerts = builder.build_all(rule_run.result.hits)
        summary.alerts = len(alerts)
        outcome.alerts.extend(alerts)
        stats = rule_run.result.stats
        notes = []
        if stats.script_errors:
            notes.append(f"{stats.script_errors} script errors ({stats.last_script_error})")
        if stats.matcher is not None and stats.matcher.cap_hit:
            notes.append(f"sequence state cap hit: {stats.matcher.dropped_by_cap} partials dropped")
        summary.detail = "; ".join(notes)
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
    execution = Execution.of(rules, Schema.ecs())
    for rule_run in execution.runs:
        if rule_run.status == "error":
            print(f"eqlite: rule {rule_run.rule.name!r}: {rule_run.error}", file=sys.stderr)
    stats = SourceStats()
    started = time.perf_counter()
    progress = tqdm(total=None, unit=" events", disable=True if args.quiet else None, file=sys.stderr,
                    mininterval=0.5, smoothing=0.1, desc="eqlite run")
    try:
        for record in _events(args.paths, stats, args):
            execution.feed(record)
            progress.update(1)
    finally:
        progress.close()
    outcome = build_outcome(execution.finish(), now)
    try:
        results = write_alerts(outcome, args)
    except (AlertOutputError, EqliteError) as error:
        print(f"eqlite run: {error}", file=sys.stderr)
        return 1
    if not args.quiet:
        _report(outcome, results, execution, stats, time.perf_counter() - started)
    failed = bool(load_errors) or any(summary.status == "error" for summary in outcome.rules)
    unreadable = any(problem.position is None and problem.severity == "error" for problem in stats.problems)
    return 1 if failed or unreadable else 0


def write_alerts(outcome: Outcome, args: argparse.Namespace) -> dict[str, WriteResult]:
    """Write to the store, the NDJSON target and stdout; returns what each target took."""
    results: dict[str, WriteResult] = {}
    stdout_format = args.format or ("ndjson" if args.alerts == "-" else "table")
    if not args.no_store:
        with AlertStore(args.store) as store:
            results["store"] = store.write(outcome.alerts)
    if args.alerts is not None and args.alerts != "-":
        sink = open_sink(args.alerts)
        try:
            results["file"] = sink.write(outcome.alerts)
        finally:
            sink.close()
    if stdout_format == "ndjson" and (args.alerts == "-" or args.format == "ndjson"):
        out = sys.stdout.buffer
        for alert in outcome.alerts:
            out.write(dumps_alert(alert))
        out.flush()
    elif stdout_format == "table" and outcome.alerts:
        by_group: dict[str, list[Alert]] = {}
        for alert in outcome.alerts:
            if alert.get("kibana.alert.group.index") is not None:
                by_group.setdefault(str(alert.get("kibana.alert.group.id")), []).append(alert)
        write_alert_table([a for a in outcome.alerts if a.get("kibana.alert.group.index") is None],
                          lambda uuid: by_group.get(uuid, []))
    return results


def _report(outcome: Outcome, results: dict[str, WriteResult], execution: Execution, stats: SourceStats,
            elapsed: float) -> None:
    err = sys.stderr
    print(f"\neqlite run: {execution.events} events in {elapsed:.1f} s "
          f"({execution.events / elapsed if elapsed else 0:,.0f}/s)", file=err)
    if len(stats.files) > 1 or stats.errors or stats.problems:
        source_summary(stats, err)
    if execution.events_without_index:
        print(f"{execution.events_without_index} events had no known index (no hit envelope, --index or "
              f"data_stream.*) and were visible to every rule", file=err)
    rows = [[s.status, s.rule.name[:60], str(s.events), str(s.matches), str(s.alerts), s.detail[:80]]
            for s in outcome.rules if s.status != "unsupported"]
    unsupported = sum(1 for s in outcome.rules if s.status == "unsupported")
    table(["status", "rule", "events", "matches", "alerts", "notes"], rows, err)
    if unsupported:
        print(f"{unsupported} rules of other types were not run (see 'eqlite rules check')", file=err)
    for target, result in results.items():
        print(f"{target}: {result.written} alerts written, {result.duplicates} already present", file=err)
