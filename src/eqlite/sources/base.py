"""What every event source yields, and how sources report what they could not read.

A source turns a file (NDJSON, EVTX, Windows-event JSON, ...) into :class:`SourceEvent`
records. A bad record never stops a run: the source records a :class:`Problem` in its
:class:`SourceStats` and goes on with the next record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(slots=True)
class SourceEvent:
    """One event as read from a source.

    Attributes:
        source: the event document (``_source``), ECS-shaped.
        path: the file it came from (``"-"`` for standard input).
        position: 1-based line number (text formats) or record number (EVTX).
        index: the Elasticsearch index it belongs to, when the source knows it.
        id: the document ``_id``, when the source knows it.
    """

    source: dict[str, Any]
    path: str
    position: int
    index: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A record or file that could not be read completely."""

    path: str
    position: int | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.path if self.position is None else f"{self.path}:{self.position}"
        return f"{where}: {self.severity}: {self.message}"


@dataclass(slots=True)
class FileStats:
    """Counts for one input file."""

    path: str
    format: str = "unknown"
    records: int = 0
    events: int = 0
    errors: int = 0
    warnings: int = 0
    unmapped: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class SourceStats:
    """Counts and problems for a whole run, file by file.

    >>> stats = SourceStats()
    >>> stats.problem("a.ndjson", 3, "not JSON")
    >>> stats.files["a.ndjson"].errors, str(stats.problems[0])
    (1, 'a.ndjson:3: error: not JSON')
    """

    files: dict[str, FileStats] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    max_problems: int = 1000

    def file(self, path: str) -> FileStats:
        stats = self.files.get(path)
        if stats is None:
            stats = self.files[path] = FileStats(path)
        return stats

    def problem(self, path: str, position: int | None, message: str, severity: Severity = "error") -> None:
        stats = self.file(path)
        if severity == "error":
            stats.errors += 1
        else:
            stats.warnings += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(Problem(path, position, message, severity))

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.files.values())

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files.values())
