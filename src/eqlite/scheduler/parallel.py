"""Several cores on one large NDJSON file: byte ranges read by forked workers, merged in order.

The parent builds the :class:`~eqlite.scheduler.fast.FastExecution` (rules compiled, literal
scanner built) once; workers are forked from it, so they share all of that for free. A file
is cut at line ends into ranges; one pass over the file counts the lines before each cut,
so that every worker numbers lines (and so derives document ids) exactly as a single
reader would, and numbers events so that their order is the file's. Each worker feeds its
range, writes its candidates to its own spill file and returns the rest (missing-stage
times, counts, problems); the parent merges the ranges in file order. Sequence matching
then runs in the parent over the merged candidates, so results are those of one process.

Only plain, seekable NDJSON files of at least :data:`MIN_BYTES` are split; everything else
is read in the parent.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.pool
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from eqlite.scheduler.candidates import DEFAULT_LIMIT
from eqlite.scheduler.fast import FastExecution, Progress, WorkerResult, feed_ndjson
from eqlite.sources.ndjson import READ_BUFFER

MIN_BYTES = 32 << 20
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


_INHERITED: dict[str, FastExecution] = {}  # the parent's execution, as forked workers inherit it


@dataclass(frozen=True, slots=True)
class _Task:
    range: Range
    index: str | None
    position: int
    spill_path: str
    budget: int


def _work(task: _Task) -> WorkerResult:
    execution = _INHERITED["execution"]
    execution.start_worker(task.spill_path, task.position, task.budget)
    part = task.range
    with open(part.path, "rb", buffering=READ_BUFFER) as handle:
        handle.seek(part.start)
        feed_ndjson(execution, handle, part.path, task.index, True, None, part.start, part.lines_before,
                    part.end - part.start)
    return execution.worker_result()


class Workers:
    """A pool of forked workers for one execution; ``close()`` (or ``with``) ends them.

    Args:
        execution: the parent's execution, fully built.
        count: worker processes.
    """

    def __init__(self, execution: FastExecution, count: int) -> None:
        self.execution = execution
        self.count = count
        self.folder = tempfile.mkdtemp(prefix="eqlite-workers-")
        execution.spill_folders.append(self.folder)
        self._pool: multiprocessing.pool.Pool | None = None
        self._tasks = 0

    def _started(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            _INHERITED["execution"] = self.execution
            self._pool = multiprocessing.get_context("fork").Pool(self.count)
        return self._pool

    def feed_file(self, path: str, index: str | None, progress: Progress | None) -> bool:
        """Feed one file through the workers; False (nothing done) when it is too small or not a plain file."""
        if os.path.getsize(path) < MIN_BYTES:
            return False
        ranges = split(path, self.count)
        base = self.execution.position
        tasks = []
        for part in ranges:
            self._tasks += 1
            tasks.append(_Task(part, index, base + part.lines_before,
                               os.path.join(self.folder, f"{self._tasks}.spill"), DEFAULT_LIMIT // self.count))
        for task, result in zip(tasks, self._results(tasks), strict=True):
            self.execution.merge_worker(result, task.spill_path, path)
            if progress is not None:
                progress(result.stats.lines)
        # Past every number a worker used (one per line at most): the next input's events come after.
        self.execution.position = base + os.path.getsize(path) + 1
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
