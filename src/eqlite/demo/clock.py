"""Timestamps and identifiers for generated events, without the wall clock or global state.

Time is an integer count of milliseconds since the Unix epoch: Elasticsearch ``date`` fields
hold milliseconds, so the rule's ``maxspan`` is decided on exactly the values written here.
"""

from __future__ import annotations

import base64
import binascii
import random
from datetime import UTC, datetime, timedelta

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILETIME_OFFSET_MS = 11_644_473_600_000
_MASK64 = (1 << 64) - 1
_ODD_MULTIPLIER = 0x9E3779B97F4A7C15
_PREFIX_CACHE_LIMIT = 4096


def parse_instant(text: str) -> int:
    """Milliseconds since the Unix epoch for an ISO-8601 instant with a time zone.

    >>> parse_instant("2024-05-14T08:00:00.250Z")
    1715673600250
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"instant {text!r} has no time zone; add 'Z' for UTC")
    return (moment - _UNIX_EPOCH) // timedelta(milliseconds=1)


class Stamper:
    """Formats millisecond instants as ``2024-05-14T08:00:00.250Z``.

    Prefixes are cached per second and built from a per-minute cache; the millisecond
    suffixes come from a table, so a call is a lookup and a concatenation.

    >>> Stamper().iso(1715673600250)
    '2024-05-14T08:00:00.250Z'
    """

    __slots__ = ("_millis", "_minutes", "_seconds")

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}
        self._seconds: dict[int, str] = {}
        self._millis = [f".{milli:03d}Z" for milli in range(1000)]

    def iso(self, ms: int) -> str:
        second, milli = divmod(ms, 1000)
        prefix = self._seconds.get(second)
        if prefix is None:
            prefix = self._second_prefix(second)
        return prefix + self._millis[milli]

    def _second_prefix(self, second: int) -> str:
        if len(self._seconds) >= _PREFIX_CACHE_LIMIT:
            self._seconds.clear()
            self._minutes.clear()
        minute, within = divmod(second, 60)
        head = self._minutes.get(minute)
        if head is None:
            head = self._minutes[minute] = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        prefix = self._seconds[second] = f"{head}{within:02d}"
        return prefix


class IdMint:
    """Hands out unique, random-looking ``event.id`` values for one generation run.

    The n-th id is an odd-multiplier scramble of n (a bijection on 64 bits), so ids never
    repeat within a run and two seeds give unrelated ids.

    >>> mint = IdMint(7)
    >>> first, second = mint.next(), mint.next()
    >>> first != second and len(first) == 16
    True
    """

    __slots__ = ("_count", "_salt", "_tag")

    def __init__(self, seed: int) -> None:
        draw = random.Random(f"{seed}:event-ids")
        self._salt = draw.getrandbits(64)
        self._tag = draw.getrandbits(32) << 64
        self._count = 0

    def next(self) -> str:
        count = self._count
        self._count = count + 1
        scrambled = ((count * _ODD_MULTIPLIER + self._salt) & _MASK64) | self._tag
        return binascii.b2a_base64(scrambled.to_bytes(12, "big"), newline=False).decode("ascii")


def entity_id(agent_id: str, pid: int, start_ms: int) -> str:
    """An Endpoint-style ``process.entity_id``: base64 of agent id, pid and start time.

    >>> entity_id("a", 4, 0)[:8]
    'YS00LTEx'
    """
    ticks = (start_ms + _FILETIME_OFFSET_MS) * 10_000
    return base64.b64encode(f"{agent_id}-{pid}-{ticks}".encode("ascii")).decode("ascii")
