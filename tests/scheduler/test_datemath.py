"""Schedule arithmetic: intervals, date math against a run's start, humanized gaps, display zones."""

from __future__ import annotations

import pytest

from eqlite.scheduler.datemath import (
    TimeError,
    date_math,
    display,
    humanize,
    parse_duration,
    parse_instant,
    parse_interval,
    zone,
)
from tests.scheduler.helpers import MINUTE, iso, ms

NOW = ms("2024-05-14T08:10:30.250Z")


@pytest.mark.parametrize(("text", "expected"), [
    ("5m", 5 * MINUTE), ("1h", 60 * MINUTE), ("30s", 30_000), ("1d", 1440 * MINUTE), ("15m", 15 * MINUTE)])
def test_interval(text: str, expected: int) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["5", "5min", "0m", "-5m", "5M", "1w", ""])
def test_bad_interval_names_the_format(text: str) -> None:
    with pytest.raises(TimeError, match="followed by s, m, h or d"):
        parse_interval(text)


@pytest.mark.parametrize(("expression", "expected"), [
    ("now", "2024-05-14T08:10:30.250Z"),
    ("now-9m", "2024-05-14T08:01:30.250Z"),
    ("now-6m", "2024-05-14T08:04:30.250Z"),
    ("now-119m", "2024-05-14T06:11:30.250Z"),
    ("now+1h", "2024-05-14T09:10:30.250Z"),
    ("now-1d/d", "2024-05-13T00:00:00.000Z"),
    ("now/h", "2024-05-14T08:00:00.000Z"),
    ("now/w", "2024-05-13T00:00:00.000Z"),
    ("now-1M/M", "2024-04-01T00:00:00.000Z"),
    ("now-2y", "2022-05-14T08:10:30.250Z"),
    ("2024-03-31T00:00:00Z||-1M", "2024-02-29T00:00:00.000Z"),
    ("2024-05-01T00:00:00Z", "2024-05-01T00:00:00.000Z"),
])
def test_date_math_is_relative_to_the_given_now(expression: str, expected: str) -> None:
    assert iso(date_math(expression, NOW)) == expected


def test_bad_date_math_says_where() -> None:
    with pytest.raises(TimeError, match="cannot read '-9 minutes'"):
        date_math("now-9 minutes", NOW)


@pytest.mark.parametrize(("millis", "words"), [
    (20_000, "a few seconds"), (50_000, "a minute"), (6 * MINUTE, "6 minutes"), (26 * MINUTE, "26 minutes"),
    (44 * MINUTE, "44 minutes"), (45 * MINUTE, "an hour"), (3 * 60 * MINUTE, "3 hours"),
    (22 * 60 * MINUTE, "a day"), (3 * 1440 * MINUTE, "3 days")])
def test_humanize_follows_moment_thresholds(millis: int, words: str) -> None:
    assert humanize(millis) == words


def test_instants_without_zone_are_utc_and_offsets_convert() -> None:
    assert parse_instant("2024-05-14T08:00:00") == parse_instant("2024-05-14T10:00:00+02:00") == ms(
        "2024-05-14T08:00:00Z")
    assert parse_duration("90s") == 90_000
    with pytest.raises(TimeError):
        parse_instant("yesterday")


def test_display_is_utc_unless_a_zone_is_given() -> None:
    instant = ms("2024-01-14T08:00:00.500Z")
    assert display(instant) == "2024-01-14T08:00:00.500Z"
    assert display(instant, zone("Europe/Paris")) == "2024-01-14 09:00:00.500+01:00"
    assert display(instant, zone("-05:30")) == "2024-01-14 02:30:00.500-05:30"
    with pytest.raises(TimeError, match="unknown time zone"):
        zone("Mars/Olympus")
