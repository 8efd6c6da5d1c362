"""``eqlite watch``: follow event files and run every rule on its schedule, as Kibana does, durably.

Each cycle reads the clock once, stores whatever the watched files gained (one transaction per
batch, with the files' checkpoints), then runs every rule that is due: a rule never run runs at
once; afterwards it is due one interval after its last start, and runs at the instant the
scheduler gets to it, so a watch that was down (or a simulated clock that jumped) leads to
Kibana's catch-up windows and, past four intervals, a recorded gap. Each run's alerts, log entry
and the rule's next due time are committed together (see :mod:`eqlite.scheduler.state`), so
after ``kill -9`` a restart picks up exactly where the store says it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from eqlite.alerts import AlertStore
from eqlite.scheduler.clock import Clock
from eqlite.scheduler.datemath import display
from eqlite.scheduler.log import RuleState, rule_states
from eqlite.scheduler.runner import ExecutionRecord, RuleRunner
from eqlite.scheduler.state import WatchStore, horizons
from eqlite.scheduler.tail import Tailer
from eqlite.sources.base import SourceStats

_HEARTBEAT_S: Final = 5.0
_NOTICES_KEPT: Final = 20


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """How to watch.

    Attributes:
        paths: files and directories to follow.
        index: index of NDJSON documents that carry none.
        profile: ECS mapping of raw Windows logs.
        host_id: ``host.id`` of raw Windows logs.
        poll: seconds between two cycles (wall time).
        max_executions: stop after this many runs (all rules together), for tests.
        exit_when_idle: stop at the first cycle that reads nothing and finds no rule due.
        batch_events: events per ingest transaction.
    """

    paths: tuple[str, ...]
    index: str | None = None
    profile: str = "winlogbeat"
    host_id: str | None = None
    poll: float = 1.0
    max_executions: int | None = None
    exit_when_idle: bool = False
    batch_events: int = 5000


@dataclass(slots=True)
class WatchSummary:
    """What one watch process did."""

    cycles: int = 0
    events: int = 0
    executions: int = 0
    alerts_written: int = 0
    failed: int = 0
    stopped_by: str = ""
    records: list[ExecutionRecord] = field(default_factory=list)


Report = Callable[[str], None]


class Watcher:
    """The watch loop over one store; the caller holds the store's lock.

    Args:
        runners: one per scheduled rule.
        store: the alert store (tables are added if missing).
        clock: where *now* comes from.
        options: paths and limits.
        report: receives each notice about the files and each input problem.
        on_run: receives each run's log entry once it is committed (default: a line to ``report``).

    >>> import tempfile, pathlib
    >>> from eqlite.rules import load_builtin_rules
    >>> from eqlite.scheduler.clock import FileClock
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "clock").write_text("2024-05-14T08:00:00Z")
    >>> _ = (folder / "events.ndjson").write_text('{"@timestamp": "2024-05-14T07:59:00Z"}\\n')
    >>> with AlertStore(folder / "eqlite.db") as store:
    ...     watcher = Watcher([RuleRunner(load_builtin_rules()[0], None)], store, FileClock(str(folder / "clock")),
    ...                       WatchOptions((str(folder / "events.ndjson"),), exit_when_idle=True), print,
    ...                       on_run=lambda record: print(record.status, record.events))
    ...     summary = watcher.run()
    succeeded 1
    >>> summary.events, summary.executions, summary.stopped_by
    (1, 1, 'idle')
    """

    def __init__(self, runners: Sequence[RuleRunner], store: AlertStore, clock: Clock, options: WatchOptions,
                 report: Report, on_run: Callable[[ExecutionRecord], None] | None = None) -> None:
        self.runners = list(runners)
        self.store = store
        self.clock = clock
        self.options = options
        self.report = report
        self.on_run = on_run or (lambda record: report(describe(record)))
        self.state = WatchStore(store)
        self.states: dict[str, RuleState] = rule_states(store.connection)
        own = [store.path + suffix for suffix in ("", "-wal", "-shm", "-journal", ".lock")]
        self.tailer = Tailer(options.paths, self.state.checkpoints(), index=options.index, profile=options.profile,
                             host_id=options.host_id, batch_events=options.batch_events, ignore=own)
        self.session = str(uuid.uuid4())
        self.summary = WatchSummary()
        self._stop = False
        self._notices: list[str] = []
        self._beat = 0.0

    def stop(self) -> None:
        """Ask the loop to end after the current step (safe from a signal handler)."""
        self._stop = True

    def run(self) -> WatchSummary:
        """Cycle until stopped, a limit is reached, or (with ``exit_when_idle``) nothing is left to do."""
        self.state.set_facts({"pid": str(os.getpid()), "clock": self.clock.spec, "session": self.session,
                              "paths": list(self.options.paths), "started_ms": str(self.clock.now()),
                              "stopped_ms": ""})
        try:
            while not self._stop:
                busy = self.cycle()
                if self._limit_reached():
                    self.summary.stopped_by = f"--max-executions {self.options.max_executions}"
                    break
                if self.options.exit_when_idle and not busy:
                    self.summary.stopped_by = "idle"
                    break
                if not busy:
                    time.sleep(self.options.poll)
            else:
                self.summary.stopped_by = "signal"
        finally:
            self.tailer.close()
            self._heartbeat(self.clock.now(), force=True, stopped=True)
        return self.summary

    def cycle(self) -> bool:
        """One cycle: read, then run what is due. True when it read or ran something."""
        self.summary.cycles += 1
        now = self.clock.now()
        read = self._ingest(now)
        ran = 0
        for runner in self._due(now):
            if self._stop or self._limit_reached():
                break
            self._execute(runner, now if self.clock.simulated else self.clock.now())
            ran += 1
        self._heartbeat(now, force=bool(read or ran))
        return bool(read or ran)

    def _limit_reached(self) -> bool:
        limit = self.options.max_executions
        return limit is not None and self.summary.executions >= limit

    # ------------------------------------------------------------------ reading

    def _ingest(self, now: int) -> int:
        stats = SourceStats()
        count = 0
        for batch in self.tailer.poll(stats):
            self.state.ingest(batch, now if self.clock.simulated else self.clock.now())
            count += len(batch.events)
            self._flush_notices(stats)
        self._flush_notices(stats)
        self.summary.events += count
        return count

    def _flush_notices(self, stats: SourceStats) -> None:
        for notice in self.tailer.notices:
            self._notices.append(notice)
            self.report(notice)
        self.tailer.notices.clear()
        for problem in stats.problems:
            self.report(str(problem))
        stats.problems.clear()

    # ------------------------------------------------------------------ running

    def _due(self, now: int) -> list[RuleRunner]:
        due = []
        for order, runner in enumerate(self.runners):
            state = self.states.get(runner.rule_uuid)
            if state is None or state.next_due <= now:
                due.append((state.next_due if state else -1, order, runner))
        return [runner for _, _, runner in sorted(due, key=lambda item: (item[0], item[1]))]

    def _execute(self, runner: RuleRunner, started: int) -> None:
        previous = self.states.get(runner.rule_uuid)
        outcome = runner.run(started, previous.last_started if previous else None, self.state.window_events,
                             self.store.existing)
        record = outcome.record
        failures = (previous.failures if previous else 0) + 1 if record.status == "failed" else 0
        state = RuleState(runner.rule_uuid, runner.rule.rule_id, runner.rule.name, runner.schedule.interval,
                          started, started + runner.schedule.interval, record.status, None, failures)
        self.states[runner.rule_uuid] = state
        needs = [(other.range_field, other.schedule.retention(self.states[other.rule_uuid].last_started)
                  if other.rule_uuid in self.states else None) for other in self.runners]
        self.state.commit_run(outcome, state, horizons(needs), self.session)
        self.summary.executions += 1
        self.summary.alerts_written += record.written
        self.summary.failed += record.status == "failed"
        self.summary.records.append(record)
        self.on_run(record)

    def _heartbeat(self, now: int, *, force: bool = False, stopped: bool = False) -> None:
        wall = time.monotonic()
        if not force and wall - self._beat < _HEARTBEAT_S:
            return
        self._beat = wall
        facts = {"now_ms": str(now), "heartbeat_ms": str(time.time_ns() // 1_000_000),
                 "notices": json.dumps(self._notices[-_NOTICES_KEPT:])}
        if stopped:
            facts["stopped_ms"] = facts["heartbeat_ms"]
        self.state.set_facts(facts)


def describe(record: ExecutionRecord, tz: dt.tzinfo | None = None) -> str:
    """One line about a run, for the watch's stderr.

    >>> from eqlite.scheduler.schedule import Window
    >>> print(describe(ExecutionRecord("u", "r", "ru", "Rule", 600_000, [Window(60_000, 600_000)])))
    1970-01-01T00:10:00.000Z  Rule: succeeded; window 1970-01-01T00:01:00.000Z .. 1970-01-01T00:10:00.000Z; \
0 matches, 0 alerts written, 0 duplicates dropped (0 ms)
    """
    first, last = record.windows[0], record.windows[-1]
    windows = f"{len(record.windows)} windows" if len(record.windows) > 1 else "window"
    span = f"{display(first.start, tz)} .. {display(last.end, tz)}"
    line = (f"{display(record.started, tz)}  {record.rule_name}: {record.status}; {windows} {span}; "
            f"{record.matches} matches, {record.written} alerts written, {record.duplicates} duplicates dropped "
            f"({record.duration_ms:.0f} ms)")
    if record.status != "succeeded":
        line += f"\n    {record.message}"
    return line
