"""Replay: the runs Kibana would have made had it been running live over recorded events.

Each rule runs first at ``start`` and then every ``interval``, until a run's window reaches
``end``; both default to the span of the data (the earliest and latest instant any rule's range
field takes). Each run searches its window(s) with the rule's ``max_signals``, and alerts whose
id an earlier run produced are dropped, as the alerts index would drop them. Runs of all rules
are interleaved in start order, so the result is what one Kibana would have written.

A :class:`Pause` stands for the scheduler being down: runs due inside it do not happen, and each
rule runs once as soon as the pause ends, with Kibana's catch-up windows and recorded gap.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from eqlite.alerts import Alert
from eqlite.rules import Rule
from eqlite.scheduler.runner import ExecutionRecord, ExecutorFactory, RuleRunner, default_executor
from eqlite.scheduler.schedule import RangeField, Window
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent


@dataclass(frozen=True, slots=True)
class Pause:
    """The scheduler is down from ``start`` (included) to ``end`` (excluded), epoch ms."""

    start: int
    end: int

    def holds(self, instant: int) -> bool:
        return self.start <= instant < self.end


class EventTimeline:
    """Recorded events, indexed by the instant each range field gives them.

    >>> events = [SourceEvent({"@timestamp": t}, "f", n) for n, t in enumerate(
    ...     ["2024-05-14T08:00:00Z", "2024-05-14T07:00:00Z", "2024-05-14T08:00:00.001Z"], 1)]
    >>> timeline = EventTimeline(events)
    >>> [e.position for e in timeline.window(RangeField(), Window(1715673600000, 1715673600001))]
    [1, 3]
    """

    def __init__(self, events: Iterable[SourceEvent]) -> None:
        self.events = list(events)
        self._indexes: dict[RangeField, tuple[list[int], list[int]]] = {}

    def _index(self, range_field: RangeField) -> tuple[list[int], list[int]]:
        index = self._indexes.get(range_field)
        if index is None:
            timed = sorted((instant, seq) for seq, event in enumerate(self.events)
                           if (instant := range_field.instant(event.source)) is not None)
            index = self._indexes[range_field] = ([instant for instant, _ in timed], [seq for _, seq in timed])
        return index

    def window(self, range_field: RangeField, window: Window) -> list[SourceEvent]:
        """The events whose range instant lies in the window, in read order."""
        instants, seqs = self._index(range_field)
        low = bisect.bisect_left(instants, window.start)
        high = bisect.bisect_right(instants, window.end)
        return [self.events[seq] for seq in sorted(seqs[low:high])]

    def span(self, range_fields: Iterable[RangeField]) -> tuple[int, int] | None:
        """The earliest and latest instant of any of the range fields, or None without timed events."""
        bounds = [(index[0][0], index[0][-1]) for index in map(self._index, set(range_fields)) if index[0]]
        if not bounds:
            return None
        return min(low for low, _ in bounds), max(high for _, high in bounds)


@dataclass(slots=True)
class ReplayResult:
    """The alerts the runs wrote (in write order) and every run's log entry (in start order)."""

    alerts: list[Alert] = field(default_factory=list)
    records: list[ExecutionRecord] = field(default_factory=list)
    start: int | None = None
    end: int | None = None


def run_times(runner: RuleRunner, start: int, end: int, pauses: Sequence[Pause]) -> Iterator[int]:
    """When a rule's runs start: every interval from ``start`` until a window reaches ``end``.

    >>> from eqlite.rules import load_builtin_rules
    >>> runner = RuleRunner(load_builtin_rules()[0], None)
    >>> [t // 60_000 for t in run_times(runner, 0, 12 * 60_000, [Pause(5 * 60_000, 11 * 60_000)])]
    [0, 11, 16]
    """
    interval = runner.schedule.interval
    instant = start
    while True:
        pause = next((pause for pause in pauses if pause.holds(instant)), None)
        if pause is not None:
            instant = pause.end
            continue
        yield instant
        if runner.schedule.window(instant).end >= end:
            return
        instant += interval


def _numbered(instants: Iterator[int], order: int) -> Iterator[tuple[int, int]]:
    for instant in instants:
        yield instant, order


def replay(rules: Sequence[Rule], events: Iterable[SourceEvent], *, schema: Schema | None,
           start: int | None = None, end: int | None = None, pauses: Sequence[Pause] = (),
           space_id: str = "default", executor: ExecutorFactory = default_executor) -> ReplayResult:
    """Simulate Kibana's scheduled runs of ``rules`` over ``events``.

    Args:
        rules: EQL rules (others are skipped by the caller).
        events: the recorded events, in the order they were read (ingest order).
        schema: field types (``Schema.ecs()`` in the CLI).
        start: first run (epoch ms); default: the earliest event instant.
        end: the runs go on until a window reaches this instant; default: the latest event instant.
        pauses: times the scheduler is down.

    Raises:
        TimeError: a rule's schedule cannot be read.

    >>> from eqlite.rules import load_builtin_rules
    >>> result = replay(load_builtin_rules(), [SourceEvent({"@timestamp": "2024-05-14T08:00:00Z"}, "f", 1)],
    ...                 schema=None)
    >>> [(r.status, r.matches) for r in result.records]
    [('succeeded', 0)]
    """
    timeline = EventTimeline(events)
    runners = [RuleRunner(rule, schema, mode="replay", space_id=space_id, executor=executor) for rule in rules]
    result = ReplayResult()
    span = timeline.span(runner.range_field for runner in runners)
    if span is None and (start is None or end is None):
        return result
    first = start if start is not None else span[0]  # type: ignore[index]
    last = end if end is not None else span[1]  # type: ignore[index]
    result.start, result.end = first, last
    written: set[str] = set()

    def known(ids: Sequence[str]) -> set[str]:
        return written.intersection(ids)

    schedules = [_numbered(run_times(runner, first, last, pauses), order) for order, runner in enumerate(runners)]
    previous: dict[int, int] = {}
    for instant, order in heapq.merge(*schedules):
        runner = runners[order]
        outcome = runner.run(instant, previous.get(order), timeline.window, known)
        previous[order] = instant
        written.update(str(alert["kibana.alert.uuid"]) for alert in outcome.alerts)
        result.alerts.extend(outcome.alerts)
        result.records.append(outcome.record)
    return result
