"""The eql adapter's pure pieces: @timestamp to FILETIME ticks, array flattening, event category."""

from __future__ import annotations

import pytest
from enginebench.eqlpkg import FILETIME_UNIX_EPOCH, event_category, filetime_ticks, flatten_singletons


@pytest.mark.parametrize(
    ("stamp", "ticks"),
    [
        ("1601-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00Z", FILETIME_UNIX_EPOCH),
        ("1970-01-01T00:00:00.000Z", FILETIME_UNIX_EPOCH),
        ("1970-01-01T00:00:01.5Z", FILETIME_UNIX_EPOCH + 15_000_000),
        # 100 ns resolution: the eighth and ninth fraction digits are dropped
        ("1970-01-01T00:00:00.123456789Z", FILETIME_UNIX_EPOCH + 1_234_567),
        ("1970-01-01T00:00:00", FILETIME_UNIX_EPOCH),
        ("1970-01-01T01:30:00+01:30", FILETIME_UNIX_EPOCH),
        ("1969-12-31T23:00:00-0100", FILETIME_UNIX_EPOCH),
        ("1970-01-02", FILETIME_UNIX_EPOCH + 86_400 * 10_000_000),
        (1_500, FILETIME_UNIX_EPOCH + 15_000_000),
        ("1500", FILETIME_UNIX_EPOCH + 15_000_000),
    ],
)
def test_filetime_ticks(stamp: str | int, ticks: int) -> None:
    assert filetime_ticks(stamp) == ticks


def test_filetime_ticks_of_a_demo_timestamp() -> None:
    # 2024-05-14T08:00:01.444Z is 1715673601.444 s after the Unix epoch
    assert filetime_ticks("2024-05-14T08:00:01.444Z") == FILETIME_UNIX_EPOCH + 17_156_736_014_440_000


def test_maxspan_is_a_difference_of_ticks() -> None:
    five_minutes = filetime_ticks("2024-05-14T08:05:00Z") - filetime_ticks("2024-05-14T08:00:00Z")
    assert five_minutes == 5 * 60 * 10_000_000


@pytest.mark.parametrize("stamp", ["yesterday", "2024-05-14T08:00:00.abcZ", None])
def test_filetime_ticks_rejects_non_dates(stamp: object) -> None:
    with pytest.raises(ValueError):
        filetime_ticks(stamp)  # type: ignore[arg-type]


def test_flatten_singletons_unwraps_and_tuples_at_every_depth() -> None:
    document = {"a": [{"b": ["x"]}], "c": [1, [2]], "d": [], "e": "s"}
    assert flatten_singletons(document) == {"a": {"b": "x"}, "c": (1, 2), "d": (), "e": "s"}


@pytest.mark.parametrize(
    ("document", "category"),
    [
        ({"event": {"category": ["process"]}}, "process"),
        ({"event": {"category": "network"}}, "network"),
        ({"event": {"category": []}}, "generic"),
        ({"event": "x"}, "generic"),
        ({}, "generic"),
    ],
)
def test_event_category(document: dict[str, object], category: str) -> None:
    assert event_category(document) == category
