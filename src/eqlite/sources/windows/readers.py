"""Read EVTX files, Windows-event JSON lines and zip archives of them into ECS :class:`SourceEvent`\\ s.

Nothing here stops a run: an unreadable chunk, record or line becomes a :class:`~eqlite.sources.base.Problem`
(file and record/line number) in the :class:`~eqlite.sources.base.SourceStats`, and reading goes on
with the next one. Zip members are streamed, never extracted to disk.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

import orjson
from evtx import PyEvtxParser

from eqlite.sources.base import SourceEvent, SourceStats
from eqlite.sources.windows.detect import EVTX_MAGIC, FileFormat, classify_head
from eqlite.sources.windows.mapper import Mapper
from eqlite.sources.windows.profile import Profile
from eqlite.sources.windows.records import (
    RecordError,
    WinRecord,
    from_evtx,
    from_nxlog,
    from_winlogbeat6,
    is_nxlog,
    is_winlogbeat6,
)

_PEEK = 1 << 16
_MAX_EVTX_MEMBER = 1 << 30
_MAX_ERRORS_IN_A_ROW = 1000
_RECORD_NUMBER = re.compile(r"record (?:number |IDs )(\d+)")

Located = tuple[str, int, WinRecord]
T = TypeVar("T")
# How to read one EVTX source (a path or an in-memory zip member) and one stream of JSON lines, by label.
_ReadFns = tuple[
    Callable[[str | IO[bytes], str], Iterator[T]],
    Callable[[Iterable[bytes], str], Iterator[T]],
]


def _evtx_items(source: str | IO[bytes], label: str, stats: SourceStats) -> Iterator[dict[str, Any]]:
    """The ``evtx`` package's records (``event_record_id``, ``data``), each counted; bad chunks are problems."""
    try:
        # One thread: the crate's thread pool costs more than it saves on files of a few MB.
        parser = PyEvtxParser(source, number_of_threads=1)
    except (OSError, RuntimeError, ValueError) as exc:
        stats.problem(label, None, f"not a readable EVTX file: {exc}")
        return
    file_stats = stats.file(label)
    records = parser.records_json()
    last = 0
    errors_in_row = 0
    while True:
        try:
            item = next(records)
        except StopIteration:
            break
        except (RuntimeError, OSError, ValueError) as exc:
            # The crate reports the bad chunk or record and can go on with the next one.
            found = _RECORD_NUMBER.search(str(exc))
            stats.problem(label, int(found.group(1)) if found else last + 1, f"unreadable EVTX data: {exc}")
            errors_in_row += 1
            if errors_in_row >= _MAX_ERRORS_IN_A_ROW:
                stats.problem(label, None, "too many unreadable records in a row; rest of the file skipped")
                break
            continue
        errors_in_row = 0
        if item is None:
            continue
        file_stats.records += 1
        last = item["event_record_id"]
        yield item
    if file_stats.records == 0 and file_stats.errors == 0:
        stats.problem(label, None, "EVTX file holds no records", "warning")


def _evtx_records(source: str | IO[bytes], label: str, stats: SourceStats) -> Iterator[tuple[int, WinRecord]]:
    loads = orjson.loads
    for item in _evtx_items(source, label, stats):
        number = item["event_record_id"]
        try:
            record = from_evtx(loads(item["data"])["Event"])
        except (RecordError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            stats.problem(label, number, f"not a Windows event record: {exc}")
            continue
        yield number, record


def _evtx_events(source: str | IO[bytes], label: str, stats: SourceStats, mapper: Mapper) -> Iterator[SourceEvent]:
    """EVTX records mapped to ECS: most straight from the JSON (:meth:`Mapper.map_evtx`), the rest normalized."""
    file_stats = stats.file(label)
    unmapped_counts = file_stats.unmapped
    loads = orjson.loads
    map_evtx = mapper.map_evtx
    for item in _evtx_items(source, label, stats):
        number = item["event_record_id"]
        try:
            event = loads(item["data"])["Event"]
        except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
            stats.problem(label, number, f"not a Windows event record: {exc}")
            continue
        try:
            mapped = map_evtx(event)
        except Exception:  # the normalized path below reports it, as it always has
            event = loads(item["data"])["Event"]
            mapped = None
        if mapped is None:
            try:
                record = from_evtx(event)
            except (RecordError, KeyError, TypeError) as exc:
                stats.problem(label, number, f"not a Windows event record: {exc}")
                continue
            try:
                doc, index, known = mapper.map_tuple(record)
            except Exception as exc:  # a bad value must not stop the run; it becomes a problem
                stats.problem(label, number, f"cannot map record: {type(exc).__name__}: {exc}")
                continue
            unmapped = None if known else f"{record['channel'] or '?'}:{record['event_id']}"
        else:
            doc, index, unmapped = mapped
        if unmapped is not None:
            unmapped_counts[unmapped] += 1
        file_stats.events += 1
        yield SourceEvent(doc, label, number, index)


def _json_records(lines: Iterable[bytes], label: str, stats: SourceStats) -> Iterator[tuple[int, WinRecord]]:
    file_stats = stats.file(label)
    time_cache: dict[tuple[str, str, str], str] = {}
    loads = orjson.loads
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        file_stats.records += 1
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as exc:
            stats.problem(label, number, f"not JSON: {exc}")
            continue
        try:
            if not isinstance(obj, dict):
                raise RecordError("line is not a JSON object")
            if is_nxlog(obj):
                record = from_nxlog(obj, time_cache)
            elif is_winlogbeat6(obj):
                record = from_winlogbeat6(obj)
            else:
                raise RecordError("JSON object is not a Windows event (no EventID/Channel or event_id/log_name)")
        except RecordError as exc:
            stats.problem(label, number, str(exc))
            continue
        yield number, record


def _zip_members(path: str, stats: SourceStats, read: _ReadFns[T]) -> Iterator[T]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        stats.problem(path, None, f"not a readable zip archive: {exc}")
        return
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        if not members:
            stats.problem(path, None, "zip archive holds no files", "warning")
        for member in members:
            label = f"{path}!{member.filename}"
            try:
                yield from _zip_member(archive, member, label, stats, read)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
                stats.problem(label, None, f"archive member cannot be read to its end: {exc}")


def _zip_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str, stats: SourceStats, read: _ReadFns[T]
) -> Iterator[T]:
    with archive.open(member) as handle:
        kind = classify_head(handle.read(_PEEK), handle)
    stats.file(label).format = kind
    if kind == "evtx":
        if member.file_size > _MAX_EVTX_MEMBER:
            stats.problem(label, None, f"EVTX member of {member.file_size} bytes is too large to read from a zip")
            return
        data = archive.read(member)
        yield from read[0](io.BytesIO(data), label)
    elif kind == "winevent-json":
        with archive.open(member) as handle:
            yield from read[1](io.BufferedReader(handle, buffer_size=1 << 20), label)  # type: ignore[type-var]
    else:
        _unsupported(kind, label, stats)


def _unsupported(kind: FileFormat, label: str, stats: SourceStats) -> None:
    if kind == "empty":
        stats.problem(label, None, "empty file", "warning")
    elif kind == "ndjson":
        message = "plain ECS NDJSON, not raw Windows events: read it with the NDJSON source"
        stats.problem(label, None, message, "warning")
    elif kind == "zip":
        stats.problem(label, None, "zip archives inside zip archives are not read")
    else:
        stats.problem(label, None, "not a Windows event file (EVTX, Windows-event JSON lines or a zip of them)")


def _read_file(path: str | os.PathLike[str], stats: SourceStats, read: _ReadFns[T]) -> Iterator[T]:
    """Tell the file's format by content and hand each EVTX source or JSON-lines stream in it to ``read``."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            head = handle.read(len(EVTX_MAGIC))
            if head != EVTX_MAGIC:
                # Only the EVTX magic is enough to tell; text formats need their first line.
                head += handle.read(_PEEK - len(head))
            kind = classify_head(head, handle)
    except OSError as exc:
        stats.problem(name, None, f"cannot read file: {exc}")
        return
    stats.file(name).format = kind
    if kind == "evtx":
        yield from read[0](name, name)
    elif kind == "winevent-json":
        with open(name, "rb", buffering=1 << 20) as handle:
            yield from read[1](handle, name)
    elif kind == "zip":
        yield from _zip_members(name, stats, read)
    else:
        _unsupported(kind, name, stats)


def iter_windows_records(path: str | os.PathLike[str], stats: SourceStats | None = None) -> Iterator[Located]:
    """Yield ``(label, position, record)`` for every readable record of a Windows event file.

    ``label`` is the path, or ``archive.zip!member`` for zip members; ``position`` is the EVTX record
    number or the 1-based line number.
    """
    stats = SourceStats() if stats is None else stats

    def evtx(source: str | IO[bytes], label: str) -> Iterator[Located]:
        for number, record in _evtx_records(source, label, stats):
            yield label, number, record

    def json_lines(lines: Iterable[bytes], label: str) -> Iterator[Located]:
        for number, record in _json_records(lines, label, stats):
            yield label, number, record

    yield from _read_file(path, stats, (evtx, json_lines))


def read_windows_file(
    path: str | os.PathLike[str],
    profile: str | Profile = "winlogbeat",
    host_id: str | None = None,
    stats: SourceStats | None = None,
) -> Iterator[SourceEvent]:
    """Read a Windows event file and yield its events mapped to ECS.

    The format is told from the content (see :func:`~eqlite.sources.windows.detect.detect_format`):
    EVTX, NXLog/Mordor JSON lines, raw Winlogbeat 6 JSON lines, or a zip archive of any of these.

    Args:
        path: the file to read.
        profile: the collector to reproduce, ``"winlogbeat"`` or ``"agent"`` (see :data:`PROFILES`).
        host_id: ``host.id`` for every event; defaults to each record's computer name.
        stats: where counts and problems go; per-file ``unmapped`` counts ``channel:event_id`` for
            events the profile has no specific mapping for.

    Yields:
        :class:`SourceEvent` with the ECS document, its path (``archive.zip!member`` inside a zip),
        record/line number and index name.

    >>> list(read_windows_file("/nonexistent.evtx"))
    []
    """
    stats = SourceStats() if stats is None else stats
    mapper = Mapper(profile, host_id)

    def evtx(source: str | IO[bytes], label: str) -> Iterator[SourceEvent]:
        return _evtx_events(source, label, stats, mapper)

    def json_lines(lines: Iterable[bytes], label: str) -> Iterator[SourceEvent]:
        return _json_events(lines, label, stats, mapper)

    yield from _read_file(path, stats, (evtx, json_lines))


def _json_events(lines: Iterable[bytes], label: str, stats: SourceStats, mapper: Mapper) -> Iterator[SourceEvent]:
    file_stats = stats.file(label)
    map_tuple = mapper.map_tuple
    for number, record in _json_records(lines, label, stats):
        try:
            source, index, known = map_tuple(record)
        except Exception as exc:  # a bad value must not stop the run; it becomes a problem
            stats.problem(label, number, f"cannot map record: {type(exc).__name__}: {exc}")
            continue
        if not known:
            file_stats.unmapped[f"{record['channel'] or '?'}:{record['event_id']}"] += 1
        file_stats.events += 1
        yield SourceEvent(source, label, number, index)
