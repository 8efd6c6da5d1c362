"""Compact candidate events for the fast path, sorted with bounded memory.

A candidate is kept as a small tuple (ordinal, stage marks as bits, join keys per stage,
and where its document can be found again) instead of a parsed document. Past a limit the
buffer is sorted and written to a temporary file; at the end the runs are merged, so any
input order gives the same ordered stream while memory stays bounded.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from eqlite.runtime.events import Event, Ordinal

# (ordinal, marks as bits, join keys per stage, (index, id, path, line, locator))
Record = tuple[Ordinal, int, tuple[Any, ...], tuple[Any, ...]]

DEFAULT_LIMIT = 50_000


def _order(record: Record) -> Ordinal:
    return record[0]


class CandidateStore:
    """Append candidates in any order; read them back in ordinal order.

    >>> store = CandidateStore(limit=2)
    >>> for n in (3, 1, 2):
    ...     store.append(((n, 0, (0, 0), n), 1, (), (None, None, "", n, None)))
    >>> [record[0][0] for record in store.sorted()]
    [1, 2, 3]
    >>> store.close()
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._records: list[Record] = []
        self._runs: list[IO[bytes]] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, record: Record) -> None:
        self._records.append(record)
        self.count += 1
        if len(self._records) >= self.limit:
            self._spill()

    def _spill(self) -> None:
        self._records.sort(key=_order)
        handle = tempfile.TemporaryFile(prefix="eqlite-candidates-")  # noqa: SIM115 - closed by close()
        pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
        for start in range(0, len(self._records), 4096):
            pickler.dump(self._records[start:start + 4096])
        handle.flush()
        handle.seek(0)
        self._runs.append(handle)
        self._records = []

    @staticmethod
    def _read(handle: IO[bytes]) -> Iterator[Record]:
        unpickler = pickle.Unpickler(handle)
        while True:
            try:
                chunk = unpickler.load()
            except EOFError:
                return
            yield from chunk

    def sorted(self) -> Iterator[Record]:
        """Every record, in ordinal order."""
        self._records.sort(key=_order)
        if not self._runs:
            yield from self._records
            return
        streams = [self._read(handle) for handle in self._runs]
        yield from heapq.merge(self._records, *streams, key=_order)

    def close(self) -> None:
        for handle in self._runs:
            handle.close()
        self._runs = []
        self._records = []


def to_event(record: Record) -> Event:
    """A light :class:`Event` for the matchers, without its document (see :func:`hydrate`).

    The record's locator is the kept line (bytes), the parsed document (dict), or
    ``(path, byte offset)`` of a line that can be read again.
    """
    ordinal, bits, keys, (index, doc_id, path, line, locator) = record
    marks = tuple(bool(bits >> number & 1) for number in range(len(keys)))
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
        path, offset = event.locator
        handle = readers.get(path)
        if handle is None:
            handle = readers[path] = open(path, "rb")  # noqa: SIM115 - closed by close_readers
        handle.seek(offset)
        raw = handle.readline()
    if raw is not None:
        event.source = source_of(raw)


def close_readers(readers: dict[str, IO[bytes]]) -> None:
    for handle in readers.values():
        handle.close()
    readers.clear()
