"""When a rule runs and which events each run searches (detection-engine.md §0.1–§0.2, §0.9, §3.2).

A rule runs every ``interval``. Each run evaluates ``from`` and ``to`` as date math against
its *actual* start time, giving the window ``[from, to]``, inclusive at both ends. When a run
starts later than the previous run's window can cover, the uncovered time is a *gap*: up to
:data:`MAX_CATCH_UP` extra windows, each shifted back by one interval (keeping the same
overlap), are searched as well, and whatever the gap still leaves uncovered makes the run
``failed`` with a recorded gap range.

The time filter is a range on the rule's ``timestamp_override`` field when it has one, falling
back to ``@timestamp`` for events without that field (unless
``timestamp_override_fallback_disabled``); otherwise on ``@timestamp``. It is applied to every
event before EQL matching. :class:`RangeField` reads that instant from a document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from eqlite.rules import Rule
from eqlite.runtime.access import raw_values
from eqlite.scheduler.datemath import date_math, iso, parse_interval
from eqlite.semantic.types import parse_date

MAX_CATCH_UP: Final = 4
"""Kibana's ``MAX_RULE_GAP_RATIO``: at most this many extra windows when a run is late."""

TIMESTAMP: Final = "@timestamp"


@dataclass(frozen=True, slots=True)
class Window:
    """A searched time range ``[start, end]`` in epoch ms, both ends included (``gte``/``lte``).

    >>> Window(0, 540_000).contains(540_000), str(Window(0, 60_000))
    (True, '1970-01-01T00:00:00.000Z .. 1970-01-01T00:01:00.000Z')
    """

    start: int
    end: int

    def contains(self, instant: int) -> bool:
        return self.start <= instant <= self.end

    def shifted(self, delta: int) -> Window:
        return Window(self.start + delta, self.end + delta)

    def to_json(self) -> dict[str, str]:
        return {"gte": iso(self.start), "lte": iso(self.end)}

    def __str__(self) -> str:
        return f"{iso(self.start)} .. {iso(self.end)}"


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """What one run searches.

    Attributes:
        started: the run's start (epoch ms); the windows' date math is relative to it.
        windows: the searched windows, oldest catch-up window first, the regular window last.
        gap: ``(started - previous start) - (to - from)`` when positive, else 0.
        remaining_gap: the part of the gap the catch-up windows do not cover.
        gap_range: the uncovered time, ``[previous start, previous start + remaining gap]``.
    """

    started: int
    windows: tuple[Window, ...]
    gap: int = 0
    remaining_gap: int = 0
    gap_range: Window | None = None

    @property
    def window(self) -> Window:
        """The regular window (the last one searched)."""
        return self.windows[-1]

    @property
    def catch_up(self) -> int:
        return len(self.windows) - 1


@dataclass(frozen=True, slots=True)
class RuleSchedule:
    """A rule's ``interval``, ``from`` and ``to``, ready to plan runs.

    >>> from eqlite.rules import load_builtin_rules
    >>> schedule = RuleSchedule.of(load_builtin_rules()[0])
    >>> schedule.interval, schedule.look_back
    (300000, 540000)
    >>> plan = schedule.plan(35 * 60_000, previous=0)
    >>> plan.catch_up, plan.remaining_gap // 60_000, plan.gap_range.end // 60_000
    (4, 6, 6)
    """

    interval: int
    from_: str = "now-6m"
    to: str = "now"

    @classmethod
    def of(cls, rule: Rule) -> RuleSchedule:
        """The schedule of a rule; raises :class:`~eqlite.scheduler.datemath.TimeError` for a bad value."""
        schedule = cls(parse_interval(rule.interval), rule.from_, rule.to)
        schedule.window(0)
        return schedule

    @property
    def look_back(self) -> int:
        """``to - from`` in ms (for date math that does not round, the same at every start)."""
        return self.window(0).end - self.window(0).start

    def window(self, started: int) -> Window:
        """The regular window of a run that starts at ``started``."""
        return Window(date_math(self.from_, started), date_math(self.to, started))

    def plan(self, started: int, previous: int | None) -> ExecutionPlan:
        """The windows of a run, with catch-up windows and the gap left when ``previous`` is long ago.

        Args:
            started: the run's actual start (epoch ms).
            previous: the start of the rule's previous run, None for its first run.
        """
        regular = self.window(started)
        if previous is None:
            return ExecutionPlan(started, (regular,))
        gap = (started - previous) - (regular.end - regular.start)
        if gap <= 0:
            return ExecutionPlan(started, (regular,))
        catch_up = min(math.ceil(gap / self.interval), MAX_CATCH_UP)
        windows = (*(regular.shifted(-k * self.interval) for k in range(catch_up, 0, -1)), regular)
        remaining = max(gap - catch_up * self.interval, 0)
        gap_range = Window(previous, previous + remaining) if remaining else None
        return ExecutionPlan(started, windows, gap, remaining, gap_range)

    def retention(self, previous: int) -> int:
        """The earliest instant any later run can search, given the last run started at ``previous``.

        A later run starts at least one interval after ``previous``; its catch-up windows reach
        back no further than ``previous + (to - now) - interval`` (they stop once the gap is
        covered), so older events can be forgotten.
        """
        to_offset = self.window(previous).end - previous
        from_offset = self.window(previous).start - previous
        return previous + min(to_offset - self.interval, self.interval + from_offset)


@dataclass(frozen=True, slots=True)
class RangeField:
    """Which field a rule's time-range filter reads: the override, with ``@timestamp`` as fallback.

    >>> field = RangeField("event.ingested", TIMESTAMP)
    >>> field.instant({"@timestamp": "2024-05-14T08:00:00Z", "event": {"ingested": "2024-05-14T08:00:03.5Z"}})
    1715673603500
    >>> field.instant({"@timestamp": "2024-05-14T08:00:00Z"})
    1715673600000
    """

    primary: str = TIMESTAMP
    fallback: str | None = None

    @classmethod
    def of(cls, rule: Rule) -> RangeField:
        override = rule.timestamp_override
        if not override or override == TIMESTAMP:
            return cls()
        fallback = None if rule.timestamp_override_fallback_disabled else TIMESTAMP
        return cls(override, fallback)

    def instant(self, source: Mapping[str, Any]) -> int | None:
        """The event's instant for the range filter in epoch ms, or None when it has none.

        A ``date`` field holds milliseconds, so finer digits are dropped before comparing.
        The first value of a multi-valued field decides.
        """
        values = raw_values(source, self.primary)
        if values:
            return field_instant(values)
        if self.fallback is None:
            return None
        return field_instant(raw_values(source, self.fallback))

    def __str__(self) -> str:
        return self.primary if self.fallback is None else f"{self.primary} (else {self.fallback})"


def field_instant(values: list[Any] | None) -> int | None:
    """The first value of a date field, as epoch milliseconds (None when absent or unreadable).

    >>> field_instant(["2024-05-14T08:00:00.1239Z"]), field_instant([None, "1970-01-01T00:00:01Z"])
    (1715673600123, 1000)
    >>> field_instant(["soon"]) is None
    True
    """
    for value in values or ():
        if value is None:
            continue
        nanos = parse_date(value)
        return None if nanos is None else nanos // 1_000_000
    return None
