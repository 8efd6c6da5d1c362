"""Follow growing event files: new files, appended lines, rotation, truncation, removal.

A file is known by its identity (device and inode), not its name, so a file renamed by log
rotation is read on from where it was left, and a new file under the old name starts from
its beginning. What has been read of each file is a :class:`FileCheckpoint`: byte offset and
line count for line formats (ECS NDJSON, Windows-event JSON lines), the last record number
for EVTX, the number of lines read for gzip NDJSON.

A line is read once its newline has been written: a half-written last line waits for the
next poll. Line numbers count every line from the start of the file, so documents without an
``_id`` get the same stable id as ``eqlite run`` gives them.

Files stay open while watched, so the rest of a file rotated away (renamed out of the
watched paths, or removed) is still read before it is let go, as ``tail -F`` does. A file
whose size drops below the offset read was truncated in place: it is reported and read
again from its start (lines already seen give the same ids, hence no new alerts). EVTX,
gzip and zip files cannot be appended to line by line: they are read again whenever their
size changes, skipping the records or lines already read (zip archives only once).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Final

import orjson

from eqlite.sources.base import SourceEvent, SourceStats
from eqlite.sources.ndjson import GZIP_MAGIC, parse_line, read_ndjson
from eqlite.sources.windows import Mapper, read_windows_file
from eqlite.sources.windows.detect import classify_head
from eqlite.sources.windows.records import RecordError, from_nxlog, from_winlogbeat6, is_nxlog, is_winlogbeat6

_HEAD: Final = 1 << 16
_FINGERPRINT: Final = 1024
_LINE_FORMATS: Final = ("ndjson", "winevent-json")


@dataclass(frozen=True, slots=True)
class FileCheckpoint:
    """How much of one file has been read.

    Attributes:
        identity: ``device:inode``, stable across renames.
        path: where the file was last seen.
        format: ``ndjson``, ``winevent-json``, ``evtx``, ``gzip``, ``zip`` or ``skipped``.
        offset: bytes read (line formats), or the size when last read (others).
        size: the file's size when last looked at.
        line: lines read (line formats and gzip).
        record: the last EVTX record number read.
        status: ``active``, ``gone`` (removed or rotated away) or ``skipped``.
        message: the last thing reported about the file.
        fingerprint: SHA-256 of the first ``min(offset, 1024)`` bytes read: a new file that got the
            inode of a deleted one is told apart by its content.
    """

    identity: str
    path: str
    format: str
    offset: int = 0
    size: int = 0
    line: int = 0
    record: int = 0
    status: str = "active"
    message: str = ""
    fingerprint: str = ""


@dataclass(slots=True)
class Batch:
    """Events read from one file, and the file's checkpoint once they are stored."""

    checkpoint: FileCheckpoint
    events: list[SourceEvent]


def identity_of(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


class Tailer:
    """Polls watched paths and yields what was added since the checkpoints.

    Args:
        paths: files and directories (walked recursively; hidden files skipped).
        checkpoints: what has been read, by identity (from the store after a restart).
        index: index of NDJSON documents that carry none (else ``data_stream.*`` decides).
        profile: ECS mapping of raw Windows logs (``winlogbeat`` or ``agent``).
        host_id: ``host.id`` of raw Windows logs (default: the record's computer).
        batch_events: at most this many events per batch (one store transaction each).
        ignore: files never read (the store's own files, when it lies under a watched directory).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = Path(folder, "a.ndjson").write_text('{"@timestamp": "2024-05-14T08:00:00Z"}\\n{"half": ')
    >>> tailer = Tailer([folder], {})
    >>> [(b.checkpoint.line, len(b.events)) for b in tailer.poll(SourceStats())]
    [(1, 1)]
    >>> with open(Path(folder, "a.ndjson"), "a") as handle:
    ...     _ = handle.write('1}\\n')
    >>> [(b.checkpoint.line, b.events[0].position) for b in tailer.poll(SourceStats())]
    [(2, 2)]
    >>> tailer.close()
    """

    def __init__(self, paths: Sequence[str], checkpoints: Mapping[str, FileCheckpoint], *, index: str | None = None,
                 profile: str = "winlogbeat", host_id: str | None = None, batch_events: int = 5000,
                 ignore: Sequence[str] = ()) -> None:
        self.paths = list(paths)
        self.checkpoints = dict(checkpoints)
        self.index = index
        self.profile = profile
        self.host_id = host_id
        self.batch_events = batch_events
        self.notices: list[str] = []
        self._handles: dict[str, IO[bytes]] = {}
        self._mapper: Mapper | None = None
        self._time_cache: dict[tuple[str, str, str], str] = {}
        self._waiting: set[str] = set()
        self._ignore = {os.path.realpath(path) for path in ignore}

    # ------------------------------------------------------------------ polling

    def poll(self, stats: SourceStats) -> Iterator[Batch]:
        """Yield batches of new events; store each batch before asking for the next one.

        A batch whose checkpoint has status ``gone`` says the file is no longer watched.
        """
        present = self._discover()
        gone: set[str] = set()
        for identity, old in list(self.checkpoints.items()):
            if identity not in present:
                gone.add(old.path)
                yield from self._let_go(old, stats)
        for identity, (path, stat) in present.items():
            known = self.checkpoints.get(identity)
            if (known is not None and identity not in self._handles and stat.st_size >= known.offset
                    and not self._same_content(known, path)):
                self.checkpoints.pop(identity)
                self.notices.append(f"{path}: a new file took the place (and inode) of {known.path}; reading "
                                    "it from its start")
                known = None
            checkpoint = known if known is not None else self._new_file(identity, path, stat, path in gone)
            if checkpoint is None:
                continue
            if checkpoint.path != path:
                checkpoint = self._notice(replace(checkpoint, path=path), f"{checkpoint.path} is now {path} (renamed); "
                                                                          f"reading on from byte {checkpoint.offset}")
            yield from self._read(checkpoint, stat, stats)

    def _same_content(self, checkpoint: FileCheckpoint, path: str) -> bool:
        if checkpoint.format not in _LINE_FORMATS or not checkpoint.fingerprint:
            return True
        try:
            with open(path, "rb") as handle:
                head = handle.read(min(checkpoint.offset, _FINGERPRINT))
        except OSError:
            return True
        return hashlib.sha256(head).hexdigest() == checkpoint.fingerprint

    def _discover(self) -> dict[str, tuple[str, os.stat_result]]:
        present: dict[str, tuple[str, os.stat_result]] = {}
        for root in self.paths:
            if os.path.isdir(root):
                files = sorted(str(p) for p in Path(root).rglob("*") if not p.name.startswith(".") and p.is_file())
            elif os.path.exists(root):
                files = [root]
            else:
                if root not in self._waiting:
                    self._waiting.add(root)
                    self.notices.append(f"{root}: no such file or directory yet; waiting for it")
                continue
            self._waiting.discard(root)
            for path in files:
                if self._ignore and os.path.realpath(path) in self._ignore:
                    continue
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                present.setdefault(identity_of(stat), (path, stat))
        return present

    def _new_file(self, identity: str, path: str, stat: os.stat_result, replaces: bool) -> FileCheckpoint | None:
        """A checkpoint for a file never seen, once its format can be told (its first line is complete)."""
        try:
            with open(path, "rb") as handle:
                head = handle.read(_HEAD)
        except OSError as error:
            self.notices.append(f"{path}: cannot read: {error.strerror or error}")
            return None
        if head.startswith(GZIP_MAGIC):
            kind = "gzip"
        elif not head.strip():
            return None
        else:
            if b"\n" not in head and len(head) < _HEAD and not head.startswith((b"ElfFile", b"PK")):
                return None
            kind = str(classify_head(head))
        if kind in ("unknown", "empty"):
            checkpoint = FileCheckpoint(identity, path, "skipped", size=stat.st_size, status="skipped")
            self.checkpoints[identity] = checkpoint
            return self._notice(checkpoint, f"{path}: not an event file (not NDJSON, EVTX or Windows-event JSON); "
                                            "skipped")
        checkpoint = self.checkpoints[identity] = FileCheckpoint(identity, path, kind)
        if replaces:
            checkpoint = self._notice(checkpoint, f"{path} was replaced by a new file (rotated); reading the new file "
                                                  "from its start")
        return checkpoint

    def _notice(self, checkpoint: FileCheckpoint, message: str) -> FileCheckpoint:
        self.notices.append(message)
        updated = replace(checkpoint, message=message)
        self.checkpoints[checkpoint.identity] = updated
        return updated

    def _let_go(self, checkpoint: FileCheckpoint, stats: SourceStats) -> Iterator[Batch]:
        """A file no longer under the watched paths: read the rest through its open handle, then forget it."""
        handle = self._handles.pop(checkpoint.identity, None)
        if handle is not None:
            try:
                yield from self._read_lines(checkpoint, handle, os.fstat(handle.fileno()).st_size, stats)
            finally:
                handle.close()
        checkpoint = self.checkpoints.pop(checkpoint.identity, checkpoint)
        message = ""
        if checkpoint.status != "skipped":
            message = (f"{checkpoint.path} was removed or rotated away after {checkpoint.offset} bytes; "
                       "no longer watched")
            self.notices.append(message)
        yield Batch(replace(checkpoint, status="gone", message=message), [])

    # ------------------------------------------------------------------ reading

    def _read(self, checkpoint: FileCheckpoint, stat: os.stat_result, stats: SourceStats) -> Iterator[Batch]:
        kind = checkpoint.format
        if kind == "skipped":
            return
        if kind in _LINE_FORMATS:
            if stat.st_size < checkpoint.offset:
                checkpoint = self._notice(replace(checkpoint, offset=0, line=0, fingerprint=""),
                                          f"{checkpoint.path} was truncated ({stat.st_size} bytes, {checkpoint.offset} "
                                          "had been read); reading it again from its start")
                yield Batch(checkpoint, [])
            if stat.st_size == checkpoint.offset:
                return
            handle = self._handle(checkpoint)
            if handle is not None:
                yield from self._read_lines(checkpoint, handle, stat.st_size, stats)
            return
        if stat.st_size == checkpoint.size:
            return
        if kind == "zip" and checkpoint.size:
            self._notice(replace(checkpoint, size=stat.st_size),
                         f"{checkpoint.path}: zip archives are read once; the change is ignored")
            return
        yield from self._read_whole(checkpoint, stat.st_size, stats)

    def _handle(self, checkpoint: FileCheckpoint) -> IO[bytes] | None:
        handle = self._handles.get(checkpoint.identity)
        if handle is None:
            try:
                handle = open(checkpoint.path, "rb")  # noqa: SIM115 - kept open while the file is watched
            except OSError as error:
                self._notice(checkpoint, f"{checkpoint.path}: cannot read: {error.strerror or error}")
                return None
            if identity_of(os.fstat(handle.fileno())) != checkpoint.identity:
                handle.close()
                return None
            self._handles[checkpoint.identity] = handle
        return handle

    def _read_lines(self, checkpoint: FileCheckpoint, handle: IO[bytes], size: int,
                    stats: SourceStats) -> Iterator[Batch]:
        start = checkpoint.offset
        offset, line = checkpoint.offset, checkpoint.line
        events: list[SourceEvent] = []
        handle.seek(offset)
        while True:
            chunk = handle.read(1 << 22)
            end = chunk.rfind(b"\n")
            if end < 0:
                break  # nothing more, or a half-written line: wait for its newline
            # Split on "\n" only, as iterating the file does: the line's bytes (newline included) make its id.
            for piece in chunk[:end].split(b"\n"):
                raw = piece + b"\n"
                line += 1
                offset += len(raw)
                if raw.strip():
                    event = self._parse(raw, checkpoint, line, stats)
                    if event is not None:
                        events.append(event)
                if len(events) >= self.batch_events:
                    checkpoint = self._advance(checkpoint, handle, offset, line, size)
                    yield Batch(checkpoint, events)
                    events = []
            handle.seek(offset)
        if offset != start or events:
            yield Batch(self._advance(checkpoint, handle, offset, line, max(size, offset)), events)

    def _advance(self, checkpoint: FileCheckpoint, handle: IO[bytes], offset: int, line: int,
                 size: int) -> FileCheckpoint:
        fingerprint = checkpoint.fingerprint
        if checkpoint.offset < _FINGERPRINT or not fingerprint:
            handle.seek(0)
            fingerprint = hashlib.sha256(handle.read(min(offset, _FINGERPRINT))).hexdigest()
        updated = replace(checkpoint, offset=offset, line=line, size=size, fingerprint=fingerprint)
        self.checkpoints[checkpoint.identity] = updated
        return updated

    def _parse(self, raw: bytes, checkpoint: FileCheckpoint, line: int, stats: SourceStats) -> SourceEvent | None:
        stats.file(checkpoint.path).records += 1
        if checkpoint.format == "ndjson":
            event = parse_line(raw, checkpoint.path, line, self.index, stats)
        else:
            event = self._windows_line(raw, checkpoint.path, line, stats)
        if event is not None:
            stats.file(checkpoint.path).events += 1
        return event

    def _windows_line(self, raw: bytes, path: str, line: int, stats: SourceStats) -> SourceEvent | None:
        try:
            obj: Any = orjson.loads(raw)
            if not isinstance(obj, dict):
                raise RecordError("line is not a JSON object")
            if is_nxlog(obj):
                record = from_nxlog(obj, self._time_cache)
            elif is_winlogbeat6(obj):
                record = from_winlogbeat6(obj)
            else:
                raise RecordError("JSON object is not a Windows event (no EventID/Channel or event_id/log_name)")
            if self._mapper is None:
                self._mapper = Mapper(self.profile, self.host_id)
            source, index, _ = self._mapper.map_tuple(record)
        except orjson.JSONDecodeError as error:
            stats.problem(path, line, f"not JSON: {error}")
            return None
        except Exception as error:  # a bad record must not stop the watch; it becomes a problem
            stats.problem(path, line, f"cannot map record: {error}")
            return None
        return SourceEvent(source, path, line, index)

    def _read_whole(self, checkpoint: FileCheckpoint, size: int, stats: SourceStats) -> Iterator[Batch]:
        """EVTX, gzip and zip: read the file again, skipping what was read before."""
        path = checkpoint.path
        if checkpoint.format == "gzip":
            source = read_ndjson(path, stats, index=self.index)
            done = checkpoint.line
        else:
            source = read_windows_file(path, profile=self.profile, host_id=self.host_id, stats=stats)
            done = checkpoint.record
        last = done
        events: list[SourceEvent] = []
        for event in source:
            if event.position <= done and event.path == path:
                continue
            last = max(last, event.position) if event.path == path else last
            events.append(event)
            if len(events) >= self.batch_events:
                checkpoint = self._whole_progress(checkpoint, last, checkpoint.size)
                yield Batch(checkpoint, events)
                events = []
        yield Batch(self._whole_progress(checkpoint, last, size), events)

    def _whole_progress(self, checkpoint: FileCheckpoint, last: int, size: int) -> FileCheckpoint:
        if checkpoint.format == "gzip":
            updated = replace(checkpoint, line=last, offset=size, size=size)
        else:
            updated = replace(checkpoint, record=last, offset=size, size=size)
        self.checkpoints[checkpoint.identity] = updated
        return updated

    def close(self) -> None:
        """Close every file kept open."""
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
