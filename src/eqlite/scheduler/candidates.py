"""Compact candidate events for the fast path, sorted with bounded memory.

A candidate is kept as a small tuple (ordinal, stage marks as bits, join keys per stage,
and where its document can be found again) instead of a parsed document. All the stores of
one execution share a :class:`Budget`: past its limit, the store holding the most
candidates is sorted and written, as a run of pickled chunks, to one shared temporary file.
At the end each store merges its runs, so any input order gives the same ordered stream,
memory stays bounded however many rules there are, and one file descriptor serves them all.
"""

from __future__ import annotations

import contextlib
import copyreg
import heapq
import io
import ipaddress
import itertools
import os
import pickle
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import IO, Any, NamedTuple

from eqlite.runtime.events import Event, Ordinal
from eqlite.sources.ndjson import stable_id

# (ordinal, marks as bits, join keys per stage, (index, id, path, line, locator))
Record = tuple[Ordinal, int, tuple[Any, ...], tuple[Any, ...]]

DEFAULT_LIMIT = 200_000
CHUNK = 1024
# Sorted runs of one store merged at a time. Reading runs back holds a chunk of each in memory, so a
# store never keeps more than this many runs of one size: FAN_IN runs of a level become one run of
# the next (each record is rewritten once per level, a few times in all), or, when they follow one
# another in order (the ranges of a file sorted by time), are chained without being rewritten.
FAN_IN = 8
_LENGTH = struct.Struct("<Q")


def _order(record: Record) -> Ordinal:
    return record[0]


class Run(NamedTuple):
    """A sorted run: its chunks, as (spill file, chunk offsets) parts read in turn, and its first and
    last ordinals."""

    parts: tuple[tuple[SpillFile, list[int]], ...]
    first: Ordinal
    last: Ordinal


class Written(NamedTuple):
    """A run written to a spill file that another store may adopt (see :meth:`CandidateStore.export`)."""

    offsets: list[int]
    first: Ordinal
    last: Ordinal


class SpillFile:
    """An append-only file of length-prefixed chunks, read back by offset.

    Anonymous by default; with ``path`` it is created there (a worker process writes it, the
    parent reads it with :meth:`open` and deletes it on :meth:`close`).
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None
        self._end = 0

    @classmethod
    def open(cls, path: str) -> SpillFile:
        """A spill file another process wrote, to read."""
        spill = cls(path)
        spill._handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        return spill

    def write(self, data: bytes) -> int:
        """Append one chunk; returns its offset."""
        if self._handle is None:
            if self.path is None:
                self._handle = tempfile.TemporaryFile(prefix="eqlite-candidates-")  # noqa: SIM115 - close()
            else:
                self._handle = open(self.path, "w+b")  # noqa: SIM115 - closed by close()
        self._handle.seek(self._end)
        self._handle.write(_LENGTH.pack(len(data)))
        self._handle.write(data)
        offset, self._end = self._end, self._end + _LENGTH.size + len(data)
        return offset

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def read(self, offset: int) -> bytes:
        assert self._handle is not None
        self._handle.flush()
        descriptor = self._handle.fileno()
        (length,) = _LENGTH.unpack(os.pread(descriptor, _LENGTH.size, offset))
        return os.pread(descriptor, length, offset + _LENGTH.size)

    def close(self, delete: bool = True) -> None:
        """Close the file; delete it unless ``delete`` is False, in which case a named file exists
        afterwards even if nothing was written (a worker that found nothing still hands one over)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._end = 0
        elif not delete and self.path is not None:
            open(self.path, "ab").close()
        if delete and self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class Budget:
    """How many candidates all the stores of an execution may hold in memory together."""

    def __init__(self, limit: int = DEFAULT_LIMIT, path: str | None = None) -> None:
        self.limit = limit
        self.held = 0
        self.spills = 0
        self.file = SpillFile(path)
        self.adopted: list[SpillFile] = []  # spill files of worker processes
        self.stores: list[CandidateStore] = []

    def over(self) -> None:
        """Spill the largest stores until the budget holds a quarter of its limit or less."""
        for store in sorted(self.stores, key=len_in_memory, reverse=True):
            if self.held <= self.limit // 4:
                break
            store.spill()

    def close(self) -> None:
        self.file.close()
        for spill in self.adopted:
            spill.close()
        self.adopted = []


def _address_by_number(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[Any, tuple[int]]:
    return type(address), (int(address),)


# Join keys often hold addresses; pickle writes them as text by default, and formatting an IPv6
# address is slow in Python. Their number makes the same object again, much faster.
_DISPATCH = copyreg.dispatch_table.copy()
_DISPATCH[ipaddress.IPv4Address] = _address_by_number
_DISPATCH[ipaddress.IPv6Address] = _address_by_number


def _dumps(records: list[Any]) -> bytes:
    """Pickle a chunk of records (addresses by number).

    >>> pickle.loads(_dumps([(ipaddress.IPv6Address("::ffff:10.0.0.1"), "x")]))
    [(IPv6Address('::ffff:a00:1'), 'x')]
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(records)
    return buffer.getvalue()


def len_in_memory(store: CandidateStore) -> int:
    return len(store._records)


class CandidateStore:
    """Append candidates in any order; read them back in ordinal order.

    >>> budget = Budget(limit=2)
    >>> store = CandidateStore(budget)
    >>> for n in (3, 1, 2):
    ...     store.append(((n, 0, (0, 0), n), 1, (), (None, None, "", n, None)))
    >>> [record[0][0] for record in store.sorted()], budget.spills > 0
    ([1, 2, 3], True)
    >>> store.close(); budget.close()
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget if budget is not None else Budget()
        self.budget.stores.append(self)
        self._records: list[Record] = []
        self._runs: list[Run] = []
        self._levels: list[int] = []  # of each run: how many merges made it (0: spilled or adopted as is)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, record: Record) -> None:
        self._records.append(record)
        self.count += 1
        budget = self.budget
        budget.held += 1
        if budget.held > budget.limit:
            budget.over()

    def spill(self) -> None:
        """Write the records held in memory as one sorted run."""
        if not self._records:
            return
        self._records.sort(key=_order)
        self._runs.append(self._write(self._records))
        self._levels.append(0)
        self.budget.held -= len(self._records)
        self.budget.spills += 1
        self._records = []
        self._compact()

    def _write(self, records: Iterable[Record]) -> Run:
        """Write sorted records (at least one) to the budget's spill file as one run."""
        spill_file = self.budget.file
        offsets: list[int] = []
        chunk: list[Record] = []
        first: Ordinal | None = None
        for record in records:
            if first is None:
                first = record[0]
            chunk.append(record)
            if len(chunk) == CHUNK:
                offsets.append(spill_file.write(_dumps(chunk)))
                last, chunk = chunk[-1][0], []
        if chunk:
            offsets.append(spill_file.write(_dumps(chunk)))
            last = chunk[-1][0]
        assert first is not None
        return Run(((spill_file, offsets),), first, last)

    def _compact(self) -> None:
        """Merge FAN_IN runs of one level into one run of the next, as long as a level has that many.

        >>> budget = Budget(limit=1)
        >>> store = CandidateStore(budget)
        >>> for n in range(40):
        ...     store.append((((7 * n) % 40, 0, n), 1, (), (None, None, "", n, None)))
        >>> len(store._runs) < FAN_IN * 2, [record[0][0] for record in store.sorted()] == list(range(40))
        (True, True)
        >>> store.close(); budget.close()
        """
        level = 0
        while True:
            chosen = [number for number, run_level in enumerate(self._levels) if run_level == level]
            if len(chosen) < FAN_IN:
                if level >= max(self._levels, default=0):
                    return
                level += 1
                continue
            runs = sorted((self._runs[number] for number in chosen), key=lambda run: run.first)
            if all(before.last < after.first for before, after in itertools.pairwise(runs)):
                # one after the other already: chained as they are, nothing read or written
                merged = Run(tuple(part for run in runs for part in run.parts), runs[0].first, runs[-1].last)
            else:
                merged = self._write(heapq.merge(*(self._read(run) for run in runs), key=_order))
            kept = [number for number in range(len(self._runs)) if number not in set(chosen)]
            self._runs = [self._runs[number] for number in kept] + [merged]
            self._levels = [self._levels[number] for number in kept] + [level + 1]

    def export(self) -> tuple[list[Written], int]:
        """Spill what is in memory; the runs (all in the budget's spill file) and the count, for :meth:`adopt`."""
        self.spill()
        runs = [Written([offset for spill_file, offsets in run.parts for offset in offsets], run.first, run.last)
                for run in self._runs]
        assert all(spill_file is self.budget.file for run in self._runs for spill_file, _ in run.parts)
        return runs, self.count

    def adopt(self, spill_file: SpillFile, runs: list[Written], count: int) -> None:
        """Take over sorted runs another store wrote to ``spill_file`` (a worker's)."""
        self._runs.extend(Run(((spill_file, run.offsets),), run.first, run.last) for run in runs)
        self._levels.extend(0 for _ in runs)
        self.count += count
        self._compact()

    @staticmethod
    def _read(run: Run) -> Iterator[Record]:
        for spill_file, offsets in run.parts:
            for offset in offsets:
                chunk: list[Record] = pickle.loads(spill_file.read(offset))
                yield from chunk

    def sorted(self) -> Iterator[Record]:
        """Every record, in ordinal order."""
        self._records.sort(key=_order)
        if not self._runs:
            yield from self._records
            return
        yield from heapq.merge(self._records, *(self._read(run) for run in self._runs), key=_order)

    def close(self) -> None:
        """Forget the records (the spill file belongs to the budget)."""
        self.budget.held -= len(self._records)
        self._runs = []
        self._levels = []
        self._records = []


class LineId(NamedTuple):
    """In a record: the id is the line's stable id under index ``under``, hashed when the line is read back."""

    under: str


@lru_cache(maxsize=1024)
def line_id(under: str) -> LineId:
    """The record id of a line without ``_id`` read under index ``under``: one object per index, so
    a chunk of records pickles it once."""
    return LineId(under)


@lru_cache(maxsize=4096)
def _marks(bits: int, stages: int) -> tuple[bool, ...]:
    """Which of ``stages`` stages an event matched, from their bits.

    >>> _marks(0b101, 3)
    (True, False, True)
    """
    return tuple(bool(bits >> number & 1) for number in range(stages))


def to_event(record: Record) -> Event:
    """A light :class:`Event` for the matchers, without its document (see :func:`hydrate`).

    The record's locator is the kept line (bytes), the parsed document (dict), or
    ``(path, byte offset)`` of a line that can be read again.
    """
    ordinal, bits, keys, (index, doc_id, path, line, locator) = record
    marks = _marks(bits, len(keys))
    if type(doc_id) is LineId:
        event = Event({}, index, None, ordinal[-1], ordinal[0], ordinal, path, line, marks, keys,
                      id_index=doc_id.under)
    else:
        event = Event({}, index, doc_id, ordinal[-1], ordinal[0], ordinal, path, line, marks, keys)
    if isinstance(locator, bytes):
        event.raw = locator
    elif isinstance(locator, dict):
        event.source = locator
    elif isinstance(locator, tuple):
        event.locator = locator
    return event


def hydrate(event: Event, readers: dict[str, IO[bytes]], source_of: Callable[[bytes], dict[str, Any]]) -> None:
    """Give a matched event its ``_source`` back, from its kept line or by re-reading its file."""
    if event.source:
        return
    raw = event.raw
    if raw is None and event.locator is not None:
        raw = read_line(readers, *event.locator)
    if raw is not None:
        event.source = source_of(raw)
        if event.id is None and event.id_index is not None:
            event.id = stable_id(event.id_index, event.line, raw)


def read_line(readers: dict[str, IO[bytes]], path: str, offset: int) -> bytes:
    """The line at byte ``offset`` of file ``path``, its handle kept open in ``readers``."""
    handle = readers.get(path)
    if handle is None:
        handle = readers[path] = open(path, "rb")  # noqa: SIM115 - closed by close_readers
    handle.seek(offset)
    return handle.readline()


def close_readers(readers: dict[str, IO[bytes]]) -> None:
    for handle in readers.values():
        handle.close()
    readers.clear()
