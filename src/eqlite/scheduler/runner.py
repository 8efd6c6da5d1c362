"""One scheduled run of one rule, as Kibana's EQL executor performs it (detection-engine.md §0.3–§0.9, §3.1).

For each window of the run's plan (oldest catch-up window first), the events whose range
instant lies in the window are offered to the rule's query, in the order they were read;
the earliest ``max_signals`` hits are kept (for sequences ``size`` counts sequences), and
reaching the limit adds Kibana's warning. The alerts of all windows are built with the run's
start as their time, then the ones whose id already exists (in the store, or earlier in the
same run) are dropped: deterministic ids are the whole de-duplication.

The final status is ``failed`` when the search failed or a gap was left, ``partial failure``
when there were warnings, else ``succeeded``. A failing rule never stops the others: its
error is recorded and the rule runs again at its next interval.

Anything with ``feed(record)`` and ``finish() -> list[RuleRun]`` can execute the query
(:data:`ExecutorFactory`); the default is :class:`~eqlite.scheduler.executor.Execution`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from eqlite.alerts import Alert, AlertBuilder, iso_time
from eqlite.alerts.ids import execution_uuid_for, rule_uuid
from eqlite.rules import Rule
from eqlite.scheduler.datemath import TimeError, humanize, to_datetime
from eqlite.scheduler.executor import Execution, RuleRun, prepare, scheduled_options
from eqlite.scheduler.schedule import ExecutionPlan, RangeField, RuleSchedule, Window
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent

RunStatus = Literal["succeeded", "partial failure", "failed"]

MAX_SIGNALS_WARNING: Final = ("This rule reached the maximum alert limit for the rule execution. "
                              "Some alerts were not created.")
SUCCESS_MESSAGE: Final = "Rule execution completed successfully"


def gap_message(remaining_ms: int) -> str:
    """Kibana's text for time a run could not search.

    >>> gap_message(360_000)[:55]
    '6 minutes (360000ms) were not queried between this rule'
    """
    return (f"{humanize(remaining_ms)} ({remaining_ms}ms) were not queried between this rule execution and the "
            "last execution, so signals may have been missed. Consider increasing your look behind time or adding "
            "more Kibana instances")


class Executor(Protocol):
    """What runs a rule's query over one window: events in, results out."""

    def feed(self, record: SourceEvent) -> None: ...

    def finish(self) -> list[RuleRun]: ...


ExecutorFactory = Callable[[Sequence[Rule], Schema | None], Executor]
WindowEvents = Callable[[RangeField, Window], Iterable[SourceEvent]]
KnownIds = Callable[[Sequence[str]], set[str]]


def default_executor(rules: Sequence[Rule], schema: Schema | None) -> Executor:
    """The reference executor with the scheduled search request."""
    return Execution.of(rules, schema, scheduled_options)


@dataclass(slots=True)
class ExecutionRecord:
    """The execution-log entry of one run (Kibana's execution result, §3.9).

    Attributes:
        started: the run's start (epoch ms), also the ``@timestamp`` of its alerts.
        windows: every searched window, oldest first; the regular window is the last.
        matches: hits found in all windows, before ``max_signals`` (sequences count once).
        alerts: alert documents built from the kept hits (a sequence gives shell + building blocks).
        written: alerts new to the store; ``duplicates``: dropped because their id existed.
        events: events searched (in the windows and visible to the rule's index patterns).
        gap: time left unsearched (ms), with ``gap_range``, when the run started too late.
    """

    uuid: str
    rule_id: str
    rule_uuid: str
    rule_name: str
    started: int
    windows: list[Window]
    mode: str = "watch"
    status: RunStatus = "succeeded"
    message: str = SUCCESS_MESSAGE
    matches: int = 0
    alerts: int = 0
    written: int = 0
    duplicates: int = 0
    events: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    gap: int = 0
    gap_range: Window | None = None
    duration_ms: float = 0.0
    seq: int | None = None

    def settle(self) -> None:
        """Derive status and message from errors and warnings, as Kibana's wrapper does.

        >>> record = ExecutionRecord("u", "r", "ru", "Rule", 0, [Window(0, 0)])
        >>> record.warnings.append(MAX_SIGNALS_WARNING); record.settle(); record.status
        'partial failure'
        >>> record.errors.append("gap"); record.settle(); record.status, record.message[:5]
        ('failed', 'gap, ')
        """
        if self.errors:
            self.status = "failed"
            self.message = ", ".join(self.errors + self.warnings)
        elif self.warnings:
            self.status = "partial failure"
            self.message = ", ".join(self.warnings)
        else:
            self.status = "succeeded"
            self.message = SUCCESS_MESSAGE


@dataclass(slots=True)
class RunOutcome:
    """A finished run: its log entry and the alerts to write (duplicates already dropped)."""

    record: ExecutionRecord
    alerts: list[Alert]


class RuleRunner:
    """Runs one rule at the instants a scheduler picks.

    Args:
        rule: an EQL rule (other types are not scheduled).
        schema: field types of the searched indices (ECS by default in the CLI).
        mode: ``watch`` or ``replay``, written to the execution log.
        executor: builds the query executor of one window.

    Raises:
        TimeError: the rule's ``interval``, ``from`` or ``to`` cannot be read.

    >>> from eqlite.rules import load_builtin_rules
    >>> runner = RuleRunner(load_builtin_rules()[0], None, mode="replay")
    >>> outcome = runner.run(600_000, None, lambda field, window: [], lambda ids: set())
    >>> outcome.record.status, [str(w) for w in outcome.record.windows]
    ('succeeded', ['1970-01-01T00:01:00.000Z .. 1970-01-01T00:10:00.000Z'])
    """

    def __init__(self, rule: Rule, schema: Schema | None, *, mode: str = "watch", space_id: str = "default",
                 executor: ExecutorFactory = default_executor) -> None:
        self.rule = rule
        self.schema = schema
        self.mode = mode
        self.space_id = space_id
        self.schedule = RuleSchedule.of(rule)
        self.range_field = RangeField.of(rule)
        self.rule_uuid = rule_uuid(rule, space_id)
        self._executor = executor
        probe = prepare(rule, schema, scheduled_options)
        self.error = probe.error if probe.status != "ok" else None

    def run(self, started: int, previous: int | None, events: WindowEvents, known: KnownIds) -> RunOutcome:
        """Run the rule as started at ``started`` (epoch ms) after a run at ``previous``.

        Args:
            events: the events of a window for a range field, in read order.
            known: which of the given alert ids the alerts index already holds.
        """
        clock = time.perf_counter()
        plan = self.schedule.plan(started, previous)
        now = to_datetime(started)
        record = ExecutionRecord(execution_uuid_for(self.rule_uuid, iso_time(now)), self.rule.rule_id,
                                 self.rule_uuid, self.rule.name, started, list(plan.windows), self.mode)
        if plan.remaining_gap:
            record.errors.append(gap_message(plan.remaining_gap))
            record.gap, record.gap_range = plan.remaining_gap, plan.gap_range
        alerts: list[Alert] = []
        if self.error is not None:
            record.errors.append(self.error)
        else:
            try:
                alerts = self._search(plan, now, events, record)
            except Exception as error:  # a rule's failure is recorded; the scheduler goes on
                record.errors.append(f"{type(error).__name__}: {error}")
                alerts = []
        fresh = _drop_known(alerts, known)
        record.alerts = len(alerts)
        record.written = len(fresh)
        record.duplicates = len(alerts) - len(fresh)
        record.settle()
        record.duration_ms = (time.perf_counter() - clock) * 1000
        return RunOutcome(record, fresh)

    def _search(self, plan: ExecutionPlan, now: dt.datetime, events: WindowEvents,
                record: ExecutionRecord) -> list[Alert]:
        builder = AlertBuilder(self.rule, now=now, space_id=self.space_id, rule_uuid=self.rule_uuid,
                               execution_uuid=record.uuid)
        limit = self.rule.max_signals
        alerts: list[Alert] = []
        for window in plan.windows:
            executor = self._executor([self.rule], self.schema)
            for event in events(self.range_field, window):
                executor.feed(event)
            rule_run = executor.finish()[0]
            if rule_run.status != "ok" or rule_run.result is None:
                raise RuntimeError(rule_run.error or f"the rule could not run ({rule_run.status})")
            record.events += rule_run.events_seen
            hits = rule_run.result.hits
            record.matches += len(hits)
            if len(hits) >= limit and MAX_SIGNALS_WARNING not in record.warnings:
                record.warnings.append(MAX_SIGNALS_WARNING)
            alerts.extend(builder.build_all(hits[:limit]))
        return alerts


def _drop_known(alerts: list[Alert], known: KnownIds) -> list[Alert]:
    """Kibana's pre-write ``ids`` query, plus the 409 a second create of one id gets within a bulk."""
    ids = [str(alert["kibana.alert.uuid"]) for alert in alerts]
    existing = known(ids) if ids else set()
    fresh: list[Alert] = []
    seen: set[str] = set()
    for uuid, alert in zip(ids, alerts, strict=True):
        if uuid in existing or uuid in seen:
            continue
        seen.add(uuid)
        fresh.append(alert)
    return fresh


@dataclass(slots=True)
class RuleSet:
    """The rules a scheduler runs, and what was left out and why."""

    runners: list[RuleRunner] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unsupported: int = 0
    disabled: int = 0


def schedulable(rules: Iterable[Rule], schema: Schema | None, *, mode: str,
                executor: ExecutorFactory = default_executor) -> RuleSet:
    """Runners for the enabled rules an EQL engine can run; a rule with a bad schedule is a problem.

    A rule whose query does not compile is still scheduled: each of its runs fails with the error,
    as a broken rule does in Kibana.

    >>> from eqlite.rules import load_builtin_rules
    >>> [runner.rule.rule_id for runner in schedulable(load_builtin_rules(), None, mode="watch").runners]
    ['51ce96fb-9e52-4dad-b0ba-99b54440fc9a']
    """
    chosen = RuleSet()
    for rule in rules:
        if not rule.execution_support().supported:
            chosen.unsupported += 1
            continue
        if not rule.enabled:
            chosen.disabled += 1
            continue
        try:
            runner = RuleRunner(rule, schema, mode=mode, executor=executor)
        except TimeError as error:
            chosen.problems.append(f"rule {rule.name!r} is not scheduled: {error}")
            continue
        if runner.error is not None:
            chosen.problems.append(f"rule {rule.name!r}: {runner.error}; each of its runs will fail")
        chosen.runners.append(runner)
    return chosen
