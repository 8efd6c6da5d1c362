"""Missing-event stages: times given aside (as the fast path gives them) act as fed events do."""

from __future__ import annotations

import random
from array import array

from eqlite.runtime.events import Event
from eqlite.runtime.sequence import SequenceMatcher, StageRuntime


def _event(time: int, stage: int) -> Event:
    nanos = time * 1_000_000  # ``time`` in milliseconds
    return Event({"stage": stage}, None, None, time, nanos, (nanos, 0, 0, time))


def _matcher() -> SequenceMatcher:
    # sequence by k with maxspan=5ms [a] ![b] [c]
    stages = [
        StageRuntime(lambda event: event.source["stage"] == 0, lambda event: [("k",)]),
        StageRuntime(lambda event: event.source["stage"] == 1, lambda event: [("k",)], missing=True),
        StageRuntime(lambda event: event.source["stage"] == 2, lambda event: [("k",)]),
    ]
    return SequenceMatcher(stages, None, 5_000_000)


def test_times_aside_in_any_order_give_the_results_of_fed_events() -> None:
    rng = random.Random(2)
    found = rejected = 0
    for _ in range(200):
        timeline = sorted({rng.randrange(60) for _ in range(rng.randint(2, 25))})
        kinds = {time: rng.randrange(3) for time in timeline}
        fed = _matcher()
        for time in timeline:
            fed.feed(_event(time, kinds[time]))
        aside = _matcher()
        missing_times = [time for time in timeline if kinds[time] == 1]
        rng.shuffle(missing_times)
        half = len(missing_times) // 2
        aside.add_missing_times(1, ("k",), array("q", missing_times[:half]))
        aside.add_missing_times(1, ("k",), missing_times[half:])
        for time in timeline:
            if kinds[time] != 1:
                aside.feed(_event(time, kinds[time]))

        def positions(matcher: SequenceMatcher) -> list[list[int | None]]:
            return [[None if e is None else e.position for e in match.events] for match in matcher.results()]

        assert positions(aside) == positions(fed), (timeline, kinds)
        found += len(positions(fed))
        rejected += fed.stats.rejected_missing
    assert found and rejected  # both outcomes were exercised


def test_nearest_times_in_and_out_of_order() -> None:
    from eqlite.runtime.sequence import _Neighbours

    rng = random.Random(1)
    for _ in range(2000):
        times = array("q", [rng.randrange(100) for _ in range(rng.randint(0, 30))])
        if rng.random() < 0.3:
            times = array("q", sorted(times))
        points = {rng.randrange(-5, 105) for _ in range(rng.randint(1, 6))}
        nearest = _Neighbours(times, points)
        for point in points:
            assert nearest.before(point) == max((t for t in times if t < point), default=None), (times, point)
            assert nearest.after(point) == min((t for t in times if t > point), default=None), (times, point)
