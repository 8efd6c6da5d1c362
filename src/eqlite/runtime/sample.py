"""Samples: groups of events, one per filter, that share their join keys; time plays no part.

Like Elasticsearch, keys are visited in ascending order (as a composite aggregation
returns them, nulls first), each key yields up to ``max_samples_per_key`` samples, and an
event fills at most one place in a key's samples. Within a filter, events are taken in
the order they were read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from eqlite.runtime.events import Event
from eqlite.runtime.sequence import KeyValue, StageRuntime


@dataclass(slots=True)
class SampleMatch:
    events: list[Event]
    key: KeyValue


def _sort_key(key: KeyValue) -> tuple[tuple[int, Any], ...]:
    parts: list[tuple[int, Any]] = []
    for value in key:
        if value is None:
            parts.append((0, 0))
        elif isinstance(value, bool):
            parts.append((1, int(value)))
        elif isinstance(value, (int, float)):
            parts.append((2, value))
        else:
            parts.append((3, str(value)))
    return tuple(parts)


@dataclass(slots=True)
class SampleMatcher:
    stages: Sequence[StageRuntime]
    max_samples_per_key: int = 1
    _by_key: list[dict[KeyValue, list[Event]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_key = [{} for _ in self.stages]

    def feed(self, event: Event) -> None:
        for index, stage in enumerate(self.stages):
            if stage.matches(event):
                for key in stage.keys(event):
                    self._by_key[index].setdefault(key, []).append(event)

    def results(self) -> list[SampleMatch]:
        common = set(self._by_key[0])
        for bucket in self._by_key[1:]:
            common &= set(bucket)
        samples: list[SampleMatch] = []
        for key in sorted(common, key=_sort_key):
            lists = [bucket[key] for bucket in self._by_key]
            for chosen in itertools.islice(self._combinations(lists), self.max_samples_per_key):
                samples.append(SampleMatch(list(chosen), key))
        return samples

    @staticmethod
    def _combinations(lists: list[list[Event]]) -> Iterator[tuple[Event, ...]]:
        """One event per filter, no event twice in a sample, in the order events were read."""
        for combination in itertools.product(*lists):
            positions = {event.position for event in combination}
            if len(positions) == len(combination):
                yield combination
