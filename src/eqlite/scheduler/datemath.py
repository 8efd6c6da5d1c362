"""Time arithmetic of Kibana's scheduler: rule intervals, date math, instants and their display.

Every instant is an integer count of milliseconds since the Unix epoch, UTC: that is the
precision of an Elasticsearch ``date`` field and of JavaScript's ``Date``, which computes a
rule's window. Time zones appear only when an instant is shown to a person (:func:`display`).

Date math follows Elasticsearch's syntax: an anchor (``now`` or an ISO instant followed by
``||``), then operations ``+N<unit>``, ``-N<unit>`` and ``/<unit>`` (round down), with units
``y M w d h H m s``. A rule's ``from = "now-9m"`` is evaluated against the run's start.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eqlite.semantic.types import js_iso

SECOND: Final = 1000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR

_FIXED_UNITS: Final = {"s": SECOND, "m": MINUTE, "h": HOUR, "H": HOUR, "d": DAY, "w": 7 * DAY}
_INTERVAL: Final = re.compile(r"^(\d+)([smhd])$")
_DURATION: Final = re.compile(r"^(\d+)(ms|[smhdw])$")
_OPERATION: Final = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class TimeError(ValueError):
    """A time, duration or date-math expression that cannot be read; the message says what to write."""


def parse_interval(text: str) -> int:
    """A rule's ``interval`` (``^\\d+[smhd]$``, as Kibana accepts it) in milliseconds.

    >>> parse_interval("5m"), parse_interval("1h")
    (300000, 3600000)
    >>> parse_interval("5 minutes")
    Traceback (most recent call last):
    ...
    eqlite.scheduler.datemath.TimeError: interval '5 minutes' is not a number followed by s, m, h or d (e.g. 5m)
    """
    found = _INTERVAL.match(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise TimeError(f"interval {text!r} is not a number followed by s, m, h or d (e.g. 5m)")
    return int(found.group(1)) * _FIXED_UNITS[found.group(2)]


def parse_duration(text: str) -> int:
    """A duration such as ``30m``, ``90s``, ``2h`` or ``500ms`` in milliseconds.

    >>> parse_duration("30m"), parse_duration("500ms")
    (1800000, 500)
    """
    found = _DURATION.match(text.strip())
    if found is None:
        raise TimeError(f"duration {text!r} is not a number followed by ms, s, m, h, d or w (e.g. 30m)")
    unit = found.group(2)
    return int(found.group(1)) * (1 if unit == "ms" else _FIXED_UNITS[unit])


def parse_instant(text: str) -> int:
    """An ISO-8601 instant in epoch milliseconds; without a zone or offset it is UTC.

    >>> parse_instant("2024-05-14T08:00:00.250Z"), parse_instant("2024-05-14T10:00:00+02:00")
    (1715673600250, 1715673600000)
    >>> parse_instant("2024-05-14")
    1715644800000
    """
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimeError(f"{text!r} is not an ISO-8601 time such as 2024-05-14T08:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def to_datetime(ms: int) -> dt.datetime:
    """An epoch-millisecond instant as an aware UTC datetime.

    >>> to_datetime(1715673600250).isoformat()
    '2024-05-14T08:00:00.250000+00:00'
    """
    return _EPOCH + dt.timedelta(milliseconds=ms)


def iso(ms: int) -> str:
    """An instant as JavaScript's ``toISOString`` writes it (UTC, milliseconds, ``Z``).

    >>> iso(1715673600250)
    '2024-05-14T08:00:00.250Z'
    """
    text = js_iso(ms * 1_000_000)
    if text is None:
        raise TimeError(f"{ms} ms from 1970 is past the range of a date")
    return text


def date_math(expression: str, now: int) -> int:
    """Evaluate Elasticsearch date math against ``now`` (epoch ms); returns epoch ms.

    >>> now = parse_instant("2024-05-14T08:10:30Z")
    >>> iso(date_math("now-9m", now)), iso(date_math("now", now)), iso(date_math("now-1d/d", now))
    ('2024-05-14T08:01:30.000Z', '2024-05-14T08:10:30.000Z', '2024-05-13T00:00:00.000Z')
    >>> iso(date_math("2024-01-31T00:00:00Z||+1M", now))
    '2024-02-29T00:00:00.000Z'
    """
    text = expression.strip()
    if text.startswith("now"):
        anchor, operations = now, text[3:]
    elif "||" in text:
        head, operations = text.split("||", 1)
        anchor = parse_instant(head)
    else:
        return parse_instant(text)
    moment = to_datetime(anchor)
    position = 0
    while position < len(operations):
        found = _OPERATION.match(operations, position)
        if found is None:
            raise TimeError(f"date math {expression!r}: cannot read {operations[position:]!r} "
                            "(write e.g. now-9m, now-1h/h)")
        sign, amount, unit, rounding = found.groups()
        if rounding is not None:
            moment = _round_down(moment, rounding)
        else:
            moment = _shift(moment, int(amount) * (1 if sign == "+" else -1), unit)
        position = found.end()
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def _shift(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit in ("y", "M"):
        months = moment.year * 12 + moment.month - 1 + (amount * 12 if unit == "y" else amount)
        year, month = divmod(months, 12)
        day = min(moment.day, _days_in_month(year, month + 1))
        return moment.replace(year=year, month=month + 1, day=day)
    return moment + dt.timedelta(milliseconds=amount * _FIXED_UNITS[unit])


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _round_down(moment: dt.datetime, unit: str) -> dt.datetime:
    if unit == "y":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        start = moment - dt.timedelta(days=moment.weekday())
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit in ("h", "H"):
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


# moment.js's default thresholds for ``duration.humanize()``: below 45 s "a few seconds",
# below 45 min minutes, below 22 h hours, below 26 d days, below 11 months months.
_HUMAN_STEPS: Final = (
    (MINUTE, 45, "a minute", "{} minutes"),
    (HOUR, 22, "an hour", "{} hours"),
    (DAY, 26, "a day", "{} days"),
    (DAY * 146097 // 4800, 11, "a month", "{} months"),
)


def humanize(ms: int) -> str:
    """A duration in words, as Kibana's gap message writes it (moment.js ``humanize``).

    >>> humanize(6 * MINUTE), humanize(26 * MINUTE), humanize(50 * MINUTE), humanize(20 * SECOND)
    ('6 minutes', '26 minutes', 'an hour', 'a few seconds')
    """
    seconds = _round_half_up(ms / SECOND)
    if seconds < 45:
        return "a few seconds"
    for unit, limit, one, many in _HUMAN_STEPS:
        count = _round_half_up(ms / unit)
        if count <= 1:
            return one
        if count < limit:
            return many.format(count)
    years = _round_half_up(ms / (365 * DAY))
    return "a year" if years <= 1 else f"{years} years"


def _round_half_up(value: float) -> int:
    return int(value + 0.5)


def zone(text: str | None) -> dt.tzinfo:
    """The time zone named by ``--tz``: an IANA name (``Europe/Paris``), ``UTC``, ``local`` or ``+02:00``.

    >>> zone("+02:00").utcoffset(None), zone(None) is dt.UTC
    (datetime.timedelta(seconds=7200), True)
    """
    if text is None or text.upper() in ("UTC", "Z"):
        return dt.UTC
    if text == "local":
        local = dt.datetime.now().astimezone().tzinfo
        return local if local is not None else dt.UTC
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if offset is not None:
        minutes = int(offset.group(2)) * 60 + int(offset.group(3))
        return dt.timezone(dt.timedelta(minutes=minutes if offset.group(1) == "+" else -minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(f"unknown time zone {text!r}; use an IANA name such as Europe/Paris, "
                        "an offset such as +02:00, 'local' or UTC") from None


def display(ms: int | None, tz: dt.tzinfo | None = None) -> str:
    """An instant for people: ISO UTC by default, or local time with its offset in ``tz``.

    >>> display(1715673600250), display(1715673600250, zone("+02:00"))
    ('2024-05-14T08:00:00.250Z', '2024-05-14 10:00:00.250+02:00')
    """
    if ms is None:
        return ""
    if tz is None or tz is dt.UTC:
        return iso(ms)
    return to_datetime(ms).astimezone(tz).isoformat(sep=" ", timespec="milliseconds")
