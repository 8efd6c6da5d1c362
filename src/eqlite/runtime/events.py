"""Events as the engine sees them: a document, where it came from, and its place in time.

Elasticsearch orders events by an *ordinal*: the timestamp, then the optional tiebreaker
field (events without one come last), then the order in which documents were indexed.
Here the last part is the order in which events were read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from eqlite.runtime.access import FieldReaders
from eqlite.semantic.schema import Schema
from eqlite.semantic.types import Family, parse_date_nanos

Ordinal = tuple[int, int, Any, int]


@dataclass(slots=True)
class Event:
    """One event: its ``_source``, index, id, and ordinal ``(timestamp_ns, tiebreaker, position)``."""

    source: dict[str, Any]
    index: str | None
    id: str | None
    position: int
    timestamp: int
    ordinal: Ordinal
    path: str = ""
    line: int = 0
    marks: tuple[bool, ...] = ()
    stage_keys: tuple[list[tuple[Any, ...]], ...] | None = None
    raw: bytes | None = None
    locator: tuple[str, int] | None = None
    # With ``id`` None: the index a line's stable id is hashed under once the line is read back
    # (the fast path hashes only the lines that end up in results).
    id_index: str | None = None

    @property
    def timestamp_ms(self) -> int:
        return self.timestamp // 1_000_000


class Record(Protocol):
    """What a source yields: a document with where it came from (see ``eqlite.sources``)."""

    source: dict[str, Any]
    path: str
    position: int
    index: str | None
    id: str | None


class _TiebreakerKey:
    """Sorts tiebreaker values of mixed kinds without failing: numbers, then text, then others."""

    @staticmethod
    def of(value: Any) -> tuple[int, Any]:
        if isinstance(value, bool):
            return (2, int(value))
        if isinstance(value, (int, float)):
            return (0, value)
        if isinstance(value, str):
            return (1, value)
        return (3, str(value))


class Timeline:
    """Turns documents into :class:`Event` objects with their ordinal.

    Args:
        schema: the field types; decides how the timestamp and tiebreaker are read.
        timestamp_field: the event time field (Elasticsearch's ``timestamp_field``).
        tiebreaker_field: the field that orders events with equal timestamps, if any.
    """

    def __init__(self, schema: Schema | None, timestamp_field: str = "@timestamp",
                 tiebreaker_field: str | None = None, *, require_timestamp: bool = True) -> None:
        self.require_timestamp = require_timestamp
        readers = FieldReaders(schema)
        info = readers.info(timestamp_field)
        self._typed_time = info is not None and info.family is Family.DATE
        self._read_time = readers(timestamp_field)
        self._read_tiebreaker = readers(tiebreaker_field) if tiebreaker_field else None
        self.timestamp_field = timestamp_field
        self.position = 0

    def timestamp(self, source: dict[str, Any]) -> int | None:
        """The event time in epoch nanoseconds, or None when the event has none."""
        values = self._read_time(source)
        if not values:
            return None
        value = values[0]
        if self._typed_time:
            return int(value)
        return parse_date_nanos(value)

    def event(self, source: dict[str, Any], index: str | None = None, id: str | None = None,
              path: str = "", line: int = 0) -> Event | None:
        """The next document in input order (see :meth:`event_at`)."""
        position = self.position
        self.position += 1
        return self.event_at(source, position, index, id, path, line)

    def event_at(self, source: dict[str, Any], position: int, index: str | None = None, id: str | None = None,
                 path: str = "", line: int = 0) -> Event | None:
        """Wrap a document; None when it has no usable timestamp and one is required.

        Elasticsearch skips such documents for event queries and sequences; samples ignore time.
        """
        ordinal = self.ordinal_at(source, position)
        if ordinal is None:
            return None
        return Event(source, index, id, position, ordinal[0], ordinal, path, line)

    def ordinal_at(self, source: dict[str, Any], position: int) -> Ordinal | None:
        """The ordinal a document gets at ``position`` (see :meth:`event_at`), without the event."""
        timestamp = self.timestamp(source)
        if timestamp is None:
            if self.require_timestamp:
                return None
            timestamp = 0
        if self._read_tiebreaker is not None:
            values = self._read_tiebreaker(source)
            tiebreaker = (0, _TiebreakerKey.of(values[0])) if values else (1, (0, 0))
        else:
            tiebreaker = (0, (0, 0))
        return (timestamp, *tiebreaker, position)
