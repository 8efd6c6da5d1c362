"""Sequence matching, exactly as Elasticsearch's matcher runs it.

Events are fed in ascending ordinal order. For each positive stage and join key only the
most recent partial sequence counts: an event matching stage *s* takes the latest partial
of stage *s - 1* for its key and discards it (and, implicitly, every older one), even when
``maxspan`` or ``until`` then rejects the extended sequence. Stages are tried from last to
first, so that an event can complete one sequence and start another but never extends a
partial it has just created.

Missing-event stages (``![...]``) do not take part in matching; each completed candidate
is checked afterwards against the events that match them, with millisecond timestamps,
as Elasticsearch does.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from eqlite.runtime.events import Event, Ordinal

KeyValue = tuple[Any, ...]
KeyFunction = Callable[[Event], list[KeyValue]]
Filter = Callable[[Event], bool]


@dataclass(frozen=True, slots=True)
class StageRuntime:
    """A compiled stage: its filter, a function giving the join keys of an event, and ``!``."""

    matches: Filter
    keys: KeyFunction
    missing: bool = False


@dataclass(slots=True)
class SequenceMatch:
    """A completed sequence: its events in stage order (None for a missing-event stage) and its key."""

    events: list[Event | None]
    key: KeyValue


@dataclass(slots=True)
class _Partial:
    events: list[Event]

    @property
    def first(self) -> Event:
        return self.events[0]

    @property
    def last(self) -> Event:
        return self.events[-1]


@dataclass(slots=True)
class MatcherStats:
    """What the matcher did, for ``--explain`` style reporting and the state circuit breaker."""

    events: int = 0
    candidates: int = 0
    rejected_maxspan: int = 0
    rejected_until: int = 0
    rejected_missing: int = 0
    dropped_by_cap: int = 0
    peak_partials: int = 0
    cap_hit: bool = False


@dataclass(slots=True)
class SequenceMatcher:
    """Runs one sequence query over events fed in ordinal order.

    Args:
        stages: every stage, ``runs`` written out, in query order.
        until: the ``until`` stage, if any.
        maxspan_ns: the ``maxspan`` in nanoseconds, or None.
        max_partials: how many partial sequences may be pending at once, over all stages and
            keys; past it the oldest are dropped and ``stats.cap_hit`` is set (Elasticsearch
            fails the search with its circuit breaker instead).
    """

    stages: Sequence[StageRuntime]
    until: StageRuntime | None
    maxspan_ns: int | None
    max_partials: int = 1_000_000
    stats: MatcherStats = field(default_factory=MatcherStats)
    _pending: list[dict[KeyValue, _Partial]] = field(default_factory=list)
    _until: dict[KeyValue, Ordinal] = field(default_factory=dict)
    # times (ms) of the events that match each missing-event stage, per key: 8 bytes each
    _missing_events: dict[int, dict[KeyValue, array[int]]] = field(default_factory=dict)
    _positive: list[int] = field(default_factory=list)
    _completed: list[tuple[Ordinal, int, _Partial, KeyValue]] = field(default_factory=list)
    _sequence_number: int = 0
    _since_purge: int = 0

    def __post_init__(self) -> None:
        self._positive = [index for index, stage in enumerate(self.stages) if not stage.missing]
        self._pending = [{} for _ in self._positive]
        self._missing_events = {index: {} for index, stage in enumerate(self.stages) if stage.missing}

    # ------------------------------------------------------------ feeding

    def feed(self, event: Event) -> None:
        """Process the next event (events must arrive in ascending ordinal order)."""
        self.stats.events += 1
        for position in range(len(self._positive) - 1, -1, -1):
            stage = self.stages[self._positive[position]]
            if not stage.matches(event):
                continue
            for key in stage.keys(event):
                self._advance(position, key, event)
        for index, bucket in self._missing_events.items():
            stage = self.stages[index]
            if stage.matches(event):
                for key in stage.keys(event):
                    times = bucket.get(key)
                    if times is None:
                        times = bucket[key] = array("q")
                    times.append(event.timestamp_ms)
        if self.until is not None and self.until.matches(event):
            for key in self.until.keys(event):
                self._until[key] = event.ordinal
        self._since_purge += 1
        if self._since_purge >= 4096:
            self._purge(event.timestamp)

    def _advance(self, position: int, key: KeyValue, event: Event) -> None:
        last_position = len(self._positive) - 1
        if position == 0:
            partial = _Partial([event])
            if position == last_position:
                self._complete(partial, key)
            else:
                self._store(0, key, partial)
            return
        previous = self._pending[position - 1].pop(key, None)
        if previous is None:
            return
        if self.maxspan_ns is not None and event.timestamp - previous.first.timestamp > self.maxspan_ns:
            self.stats.rejected_maxspan += 1
            return
        until = self._until.get(key)
        if until is not None and until >= previous.last.ordinal:
            self.stats.rejected_until += 1
            return
        extended = _Partial([*previous.events, event])
        if position == last_position:
            self._complete(extended, key)
        else:
            self._store(position, key, extended)

    def _store(self, position: int, key: KeyValue, partial: _Partial) -> None:
        bucket = self._pending[position]
        bucket.pop(key, None)
        bucket[key] = partial
        count = sum(len(pending) for pending in self._pending)
        self.stats.peak_partials = max(self.stats.peak_partials, count)
        if count > self.max_partials:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        self.stats.cap_hit = True
        oldest: tuple[Ordinal, int, KeyValue] | None = None
        for position, bucket in enumerate(self._pending):
            if bucket:
                key, partial = next(iter(bucket.items()))
                candidate = (partial.last.ordinal, position, key)
                if oldest is None or candidate < oldest:
                    oldest = candidate
        if oldest is not None:
            del self._pending[oldest[1]][oldest[2]]
            self.stats.dropped_by_cap += 1

    def _purge(self, now: int) -> None:
        """Forget partials that can no longer complete within ``maxspan``; keeps state bounded."""
        self._since_purge = 0
        if self.maxspan_ns is None:
            return
        horizon = now - self.maxspan_ns
        for bucket in self._pending:
            stale = [key for key, partial in bucket.items() if partial.first.timestamp < horizon]
            for key in stale:
                del bucket[key]

    def _complete(self, partial: _Partial, key: KeyValue) -> None:
        self.stats.candidates += 1
        self._completed.append((partial.last.ordinal, self._sequence_number, partial, key))
        self._sequence_number += 1

    # ------------------------------------------------------------ results

    def add_missing_times(self, stage_index: int, key: KeyValue, times: Iterable[int]) -> None:
        """Record the times (ms) of events matching a missing-event stage under ``key``, without
        feeding them (in any order).

        An ``array("q")`` is taken over, not copied (the caller gives it up): a stage that
        matches most events holds 8 bytes per event, not a Python int in a list.
        """
        bucket = self._missing_events[stage_index]
        known = bucket.get(key)
        if known is None:
            bucket[key] = times if isinstance(times, array) and times.typecode == "q" else array("q", times)
        else:
            known.extend(times)

    def results(self) -> list[SequenceMatch]:
        """Completed sequences, ordered by their last event, after the missing-event checks."""
        self._completed.sort(key=lambda item: (item[0], item[1]))
        nearest = self._missing_neighbours() if self._missing_events else {}
        matches = []
        for _, _, partial, key in self._completed:
            if self._missing_events and not self._passes_missing_checks(partial, key, nearest):
                self.stats.rejected_missing += 1
                continue
            events: list[Event | None] = []
            positive = iter(partial.events)
            for stage in self.stages:
                events.append(None if stage.missing else next(positive))
            matches.append(SequenceMatch(events, key))
        return matches

    def _missing_points(self, partial: _Partial) -> Iterator[tuple[int, int, int]]:
        """(missing stage, stages matched before it, time) for each missing stage a sequence is checked
        against at that time: the nearest missing event before its first event (a leading stage), or
        after the event preceding the stage."""
        positive_seen = 0
        for index, stage in enumerate(self.stages):
            if not stage.missing:
                positive_seen += 1
            else:
                yield index, positive_seen, partial.events[max(positive_seen - 1, 0)].timestamp_ms

    def _missing_neighbours(self) -> dict[tuple[int, KeyValue], _Neighbours]:
        """For each missing stage and key that some completed sequence is checked against, the
        missing events nearest to the times it is checked at."""
        wanted: dict[tuple[int, KeyValue], set[int]] = {}
        for _, _, partial, key in self._completed:
            for index, _, moment in self._missing_points(partial):
                if key in self._missing_events[index]:
                    wanted.setdefault((index, key), set()).add(moment)
        return {(index, key): _Neighbours(self._missing_events[index][key], points)
                for (index, key), points in wanted.items()}

    def _passes_missing_checks(self, partial: _Partial, key: KeyValue,
                               nearest: dict[tuple[int, KeyValue], _Neighbours]) -> bool:
        times = [event.timestamp_ms for event in partial.events]
        first_ms, last_ms = times[0], times[-1]
        leading: int | None = None
        trailing: int | None = None
        for index, positive_seen, moment in self._missing_points(partial):
            found = nearest.get((index, key))
            if found is None:
                continue
            if positive_seen == 0:
                before = found.before(moment)
                if before is not None:
                    leading = before if leading is None else max(leading, before)
            elif positive_seen == len(self._positive):
                after = found.after(moment)
                if after is not None:
                    trailing = after if trailing is None else min(trailing, after)
            else:
                after = found.after(moment)
                if after is not None and after < times[positive_seen]:
                    return False
        return self._keep(leading, trailing, first_ms, last_ms)

    def _keep(self, leading: int | None, trailing: int | None, first_ms: int, last_ms: int) -> bool:
        starts_missing, ends_missing = self.stages[0].missing, self.stages[-1].missing
        maxspan_ms = (self.maxspan_ns or 0) // 1_000_000
        if leading is None and trailing is None:
            return True
        if starts_missing and leading is None:
            return True
        if ends_missing and trailing is None:
            return True
        if starts_missing and ends_missing:
            assert leading is not None and trailing is not None
            return trailing - leading > maxspan_ms
        if starts_missing:
            assert leading is not None
            return last_ms - leading > maxspan_ms
        if ends_missing:
            assert trailing is not None
            return trailing - first_ms > maxspan_ms
        return False


class _Neighbours:
    """The nearest of many times (ms) before and after each of a few points, without sorting the times.

    Times already in order (the usual case) are bisected. Otherwise one pass over them finds, for
    every point at once, the greatest time below it and the least above it, so that millions of
    times in input order need neither a sorted copy nor a list of Python ints.
    """

    def __init__(self, times: array[int], points: Iterable[int]) -> None:
        self._times: array[int] | None = None
        self._before: dict[int, int] = {}
        self._after: dict[int, int] = {}
        if all(map(operator.le, times, itertools.islice(times, 1, None))):
            self._times = times
            return
        ordered = sorted(points)
        lowest: list[int | None] = [None] * (len(ordered) + 1)  # least time with that many points below it
        highest: list[int | None] = [None] * (len(ordered) + 1)  # greatest time with that many points at or below
        for moment in times:
            below = bisect.bisect_left(ordered, moment)
            low = lowest[below]
            if low is None or moment < low:
                lowest[below] = moment
            at_or_below = bisect.bisect_right(ordered, moment)
            high = highest[at_or_below]
            if high is None or moment > high:
                highest[at_or_below] = moment
        best: int | None = None
        for number in range(len(ordered) - 1, -1, -1):  # after point i: the least time with > i points below
            low = lowest[number + 1]
            if low is not None and (best is None or low < best):
                best = low
            if best is not None:
                self._after[ordered[number]] = best
        best = None
        for number, point in enumerate(ordered):  # before point i: the greatest time with <= i points at or below
            high = highest[number]
            if high is not None and (best is None or high > best):
                best = high
            if best is not None:
                self._before[point] = best

    def before(self, point: int) -> int | None:
        """The greatest time below ``point`` (one of the points given), if any."""
        if self._times is None:
            return self._before.get(point)
        cut = bisect.bisect_left(self._times, point)
        return self._times[cut - 1] if cut else None

    def after(self, point: int) -> int | None:
        """The least time above ``point`` (one of the points given), if any."""
        if self._times is None:
            return self._after.get(point)
        cut = bisect.bisect_right(self._times, point)
        return self._times[cut] if cut < len(self._times) else None


def key_combinations(columns: Iterable[tuple[tuple[Any, ...], bool]]) -> list[KeyValue]:
    """Every join key of an event: the Cartesian product of each key's distinct values.

    Each column is (values, optional). A non-optional key without values gives no key at
    all; an optional one contributes ``None``.

    >>> key_combinations([((1, 2), False), (("a",), False)])
    [(1, 'a'), (2, 'a')]
    >>> key_combinations([((), False)]), key_combinations([((), True)])
    ([], [(None,)])
    """
    choices: list[tuple[Any, ...]] = []
    single = True
    for values, optional in columns:
        if single and len(values) == 1 and values[0] is not None:
            # The usual case: one value per key field.
            choices.append(values)
            continue
        distinct = tuple(dict.fromkeys(value for value in values if value is not None))
        if not distinct:
            if not optional:
                return []
            distinct = (None,)
        if len(distinct) != 1:
            single = False
        choices.append(distinct)
    if single:
        return [tuple(choice[0] for choice in choices)]
    return list(itertools.product(*choices))
