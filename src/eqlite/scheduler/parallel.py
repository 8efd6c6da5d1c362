"""Several cores on one large NDJSON file: byte ranges read by forked workers, merged in order.

The parent builds the :class:`~eqlite.scheduler.fast.FastExecution` (rules compiled, literal
scanner built) once; workers are forked from it, so they share all of that for free. A file
is cut at line ends into ranges; one pass over the file counts the lines before each cut,
so that every worker numbers lines (and so derives document ids) exactly as a single
reader would, and numbers events so that their order is the file's (:class:`Presplit` makes that
pass in another process while the rules are built). Each worker feeds its
range, writes its candidates to its own spill file and returns the rest (missing-stage
times, counts, problems); the parent merges the ranges in file order. Sequence matching
then runs in the parent over the merged candidates, so results are those of one process.

Plain NDJSON files (seekable, not compressed) are read by the workers: a file of at least
:data:`MIN_BYTES` in ranges, smaller ones whole, several to a task, so that a folder of many
small files (the file output of Filebeat and Winlogbeat rotates at 10 MB) uses every core too.
Files that follow one another in the input are read together when they add up to
:data:`MIN_BYTES`. Windows event files (EVTX, Windows-event JSON, zip archives of them) that follow
one another are read, mapped and fed by the workers too, each whole, when there are two or more of
:data:`MIN_EVENT_BYTES` together. Each worker counts the records, events and problems of the
files it reads, and the parent adds them up. Everything else (standard input, gzip) is read in
the parent.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.pool
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

from eqlite.scheduler.candidates import DEFAULT_LIMIT
from eqlite.scheduler.fast import FastExecution, Progress, WorkerResult, feed_events, feed_ndjson_file, plain_file

MIN_BYTES = 32 << 20
MIN_EVENT_BYTES = 4 << 20  # Windows event files: mapping each record costs about 10 times a line's reading
RANGE_BYTES = 64 << 20
TAIL_BYTES = 8 << 20  # the smallest of the last ranges (about 5,000 lines of 1.6 KB)
COUNT_BLOCK = 8 << 20


@dataclass(frozen=True, slots=True)
class Range:
    """Bytes ``[start, end)`` of a file, beginning after ``lines_before`` lines."""

    path: str
    start: int
    end: int
    lines_before: int


def split(path: str, workers: int, range_bytes: int | None = None, tail_bytes: int | None = None) -> list[Range]:
    """Cut a file at line ends into ranges of about ``range_bytes`` (one per worker at least, unless long
    lines span the cuts), the last ones smaller: each a share of what is left, down to ``tail_bytes``,
    so that the workers finish at about the same time rather than one waiting for the other's last
    full range.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"a\\nbb\\nccc\\ndddd\\n")
    >>> [(r.start, r.end, r.lines_before) for r in split(f.name, 2, range_bytes=4)]
    [(0, 5, 0), (5, 9, 2), (9, 14, 3)]
    >>> os.unlink(f.name)
    """
    range_bytes = RANGE_BYTES if range_bytes is None else range_bytes
    size = os.path.getsize(path)
    smallest = min(range_bytes, TAIL_BYTES if tail_bytes is None else tail_bytes, -(-size // workers))
    targets = []
    position = 0
    while position < size:
        position += max(smallest, min(range_bytes, (size - position) // (2 * workers)), 1)
        targets.append(min(position, size))
    cuts = [0]
    with open(path, "rb") as handle:
        for target in targets[:-1]:
            handle.seek(max(target - 1, cuts[-1]))
            handle.readline()
            cut = handle.tell()
            if cut >= size:
                break
            if cut > cuts[-1]:
                cuts.append(cut)
        cuts.append(size)
        ranges = []
        handle.seek(0)
        position = lines = 0
        for start, end in itertools.pairwise(cuts):
            while position < start:
                block = handle.read(min(COUNT_BLOCK, start - position))
                lines += block.count(b"\n")
                position += len(block)
            ranges.append(Range(path, start, end, lines))
    return ranges


def _splittable(path: str) -> bool:
    """Whether ``feed_files`` would cut this file: a plain NDJSON file of :data:`MIN_BYTES` or more, not gzip."""
    from eqlite.sources.reader import detect

    try:
        return plain_file(path) and os.path.getsize(path) >= MIN_BYTES and detect(path) == "ndjson"
    except OSError:
        return False


def _split_each(paths: list[str], workers: int, connection: Connection) -> None:
    """In the :class:`Presplit` process: send (path, ranges or None) for each file, in order."""
    try:
        for path in paths:
            try:
                ranges: list[Range] | None = split(path, workers)
            except OSError:
                ranges = None  # the parent splits it again, and reports what is wrong
            connection.send((path, ranges))
    finally:
        connection.close()


class Presplit:
    """The ranges of the large files among the inputs, cut by a forked process while the parent builds the rules.

    :func:`split` reads every byte of a file to count its lines (about 0.8 s for 1.6 GB here), and the
    workers cannot start before it is done. Started before the rules are built, when the other cores
    are idle, it costs no time. :meth:`ranges` gives a file's ranges, or None when the file was not
    cut ahead (small, compressed, not NDJSON), the process failed, or the file's size has changed
    since: the caller then cuts it itself. ``close()`` (or ``with``) ends the process.
    """

    def __init__(self, paths: Iterable[str], workers: int) -> None:
        self._found: dict[str, list[Range] | None] = {}
        self._waiting: set[str] = set()
        self._connection: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.workers = workers
        if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return
        files = list(dict.fromkeys(path for path in paths if _splittable(path)))
        if not files:
            return
        context = multiprocessing.get_context("fork")
        receiving, sending = context.Pipe(duplex=False)
        self._process = context.Process(target=_split_each, args=(files, workers, sending), daemon=True,
                                        name="eqlite-presplit")
        self._process.start()
        sending.close()
        self._connection = receiving
        self._waiting = set(files)

    def ranges(self, path: str) -> list[Range] | None:
        while path in self._waiting and self._connection is not None:
            try:
                found, ranges = self._connection.recv()
            except (EOFError, OSError):  # the process died: the files left are cut by the caller
                self.close()
                break
            self._waiting.discard(found)
            self._found[found] = ranges
        ranges = self._found.pop(path, None)
        try:
            if ranges is not None and ranges[-1].end != os.path.getsize(path):
                return None
        except OSError:
            return None
        return ranges

    def close(self) -> None:
        self._waiting.clear()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join()
            self._process = None

    def __enter__(self) -> Presplit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_INHERITED: dict[str, FastExecution] = {}  # the parent's execution, as forked workers inherit it


@dataclass(frozen=True, slots=True)
class _Task:
    parts: tuple[tuple[Range, int], ...]  # byte ranges (whole small files, or one range of a large file), each
    index: str | None                     # with the number of its first event
    spill_path: str
    budget: int
    reader: tuple[str, str | None] | None = None  # (profile, host id): Windows event files, each read whole


def _work(task: _Task) -> WorkerResult:
    execution = _INHERITED["execution"]
    execution.start_worker(task.spill_path, task.parts[0][1], task.budget)
    for part, position in task.parts:
        execution.position = position
        if task.reader is not None:
            feed_events(execution, part.path, execution.problems, task.index, *task.reader, None)
            continue
        feed_ndjson_file(execution, part.path, execution.problems, task.index, None, part.start, part.lines_before,
                         part.end - part.start)
    return execution.worker_result()


def _span(path: str, size: int) -> int | None:
    """How many events a Windows event file can hold at most: its size in bytes (a record takes one at
    least), or for a zip archive, the size of what it holds; None for an archive that cannot be read
    (the parent reads it, and reports what is wrong)."""
    if not zipfile.is_zipfile(path):
        return size
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


class Workers:
    """A pool of forked workers for one execution; ``close()`` (or ``with``) ends them.

    Args:
        execution: the parent's execution, fully built.
        count: worker processes.
        presplit: files cut into ranges ahead, if any.
    """

    def __init__(self, execution: FastExecution, count: int, presplit: Presplit | None = None) -> None:
        self.execution = execution
        self.count = count
        self.presplit = presplit
        self.folder = tempfile.mkdtemp(prefix="eqlite-workers-")
        execution.spill_folders.append(self.folder)
        self._pool: multiprocessing.pool.Pool | None = None
        self._tasks = 0

    def _started(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            _INHERITED["execution"] = self.execution
            self._pool = multiprocessing.get_context("fork").Pool(self.count)
        return self._pool

    def feed_files(self, paths: list[str], index: str | None, progress: Progress | None,
                   reader: tuple[str, str | None] | None = None) -> bool:
        """Feed plain NDJSON files through the workers, in order: a file of :data:`MIN_BYTES` or more cut
        into ranges, smaller ones whole, several to a task. False (nothing done) when together they are
        smaller than that.

        With ``reader`` (the profile and host id of :func:`~eqlite.sources.reader.read_events`), the files
        are Windows event files (EVTX, Windows-event JSON, zip archives of them), each read whole by a
        worker, which maps and feeds its events: when there are two or more, of :data:`MIN_EVENT_BYTES`
        together.

        The workers' findings are merged in input order, with each file's counts and problems. Events
        are numbered past the execution's position: each file's from its own base, ``size + 1`` after
        the last's (a line or a record takes a byte at least; for an archive, the size of what it holds).
        """
        sizes = [os.path.getsize(path) for path in paths]
        total = sum(sizes)
        worth_it = total >= MIN_BYTES if reader is None else len(paths) >= 2 and total >= MIN_EVENT_BYTES
        found = sizes if reader is None else [_span(path, size) for path, size in zip(paths, sizes, strict=True)]
        spans = [span for span in found if span is not None]
        if not worth_it or len(spans) < len(paths):
            return False
        # Small files go several to a task (each task costs its worker a few milliseconds for every
        # rule), up to a size that still leaves a few tasks per worker to even out their ends.
        target = max(1, min(RANGE_BYTES, total // (4 * self.count)))
        presplit = self.presplit if self.presplit is not None and self.presplit.workers == self.count else None
        base = self.execution.position
        tasks: list[_Task] = []
        pending: list[tuple[Range, int]] = []
        pending_bytes = 0

        def close_task(parts: list[tuple[Range, int]]) -> None:
            self._tasks += 1
            tasks.append(_Task(tuple(parts), index, os.path.join(self.folder, f"{self._tasks}.spill"),
                               DEFAULT_LIMIT // self.count, reader))

        for path, size, span in zip(paths, sizes, spans, strict=True):
            cut = size >= MIN_BYTES and reader is None
            if pending and (cut or pending_bytes + size > target):
                close_task(pending)
                pending, pending_bytes = [], 0
            if cut:
                ranges = (presplit.ranges(path) if presplit is not None else None) or split(path, self.count)
                for part in ranges:
                    close_task([(part, base + part.lines_before)])
            else:
                pending.append((Range(path, 0, size, 0), base))
                pending_bytes += size
            # Past every number a worker used (one per line or record at most): the next file's come after.
            base += span + 1
        if pending:
            close_task(pending)
        for task, result in zip(tasks, self._results(tasks), strict=True):
            self.execution.merge_worker(result, task.spill_path)
            if progress is not None:
                progress(result.stats.lines)
        self.execution.position = base  # the next input's events come after every number used
        return True

    def _results(self, tasks: list[_Task]) -> Iterator[WorkerResult]:
        yield from self._started().imap(_work, tasks)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def remove_folders(folders: list[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    folders.clear()
