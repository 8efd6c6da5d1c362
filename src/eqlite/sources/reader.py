"""Read events from any supported input, choosing the reader by content, not only by extension.

Directories are walked recursively in name order. ECS NDJSON (plain, gzip, hit envelopes)
is read by :mod:`eqlite.sources.ndjson`; raw Windows logs (``.evtx``, Windows-event JSON
lines, ``.zip`` archives of them) by :mod:`eqlite.sources.windows`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, cast

from eqlite.sources.base import SourceEvent, SourceStats
from eqlite.sources.ndjson import index_for_path, is_gzip, read_ndjson


def expand_paths(paths: Iterable[str], stats: SourceStats) -> Iterator[tuple[str, bool]]:
    """(path, named) for files named, and for files under directories named (recursively, sorted).

    ``named`` is False for files found by walking a directory. '-' passes through.
    """
    for path in paths:
        if path == "-":
            yield path, True
        elif os.path.isdir(path):
            found = sorted(str(p) for p in Path(path).rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                stats.problem(path, None, "directory holds no files", "warning")
            for file in found:
                yield file, False
        elif os.path.exists(path):
            yield path, True
        else:
            stats.problem(path, None, "no such file or directory")


def input_files(paths: Iterable[str]) -> list[str]:
    """The files :func:`expand_paths` gives (standard input aside), its problems left for it to report."""
    return [path for path, _ in expand_paths(paths, SourceStats()) if path != "-"]


def detect(path: str) -> str:
    """The format of a file, by content: evtx, zip, winevent-json, ndjson, empty or unknown.

    A gzip file is told by what it holds: ``ndjson`` or ``empty`` (the NDJSON reader decompresses
    it), else ``unknown``.
    """
    if path == "-":
        return "ndjson"
    from eqlite.sources.windows import detect_format

    if not is_gzip(path):
        return str(detect_format(path))
    import gzip
    import zlib

    from eqlite.sources.windows.detect import classify_head

    try:
        with gzip.open(path, "rb") as stream:
            kind = classify_head(stream.read(1 << 16), cast(IO[bytes], stream))
    except (OSError, EOFError, zlib.error):
        return "unknown"  # damaged: read as NDJSON when named, which reports what is wrong
    return kind if kind in ("ndjson", "empty") else "unknown"


def holds_no_events(path: str, kind: str, named: bool, stats: SourceStats) -> bool:
    """Whether a file is empty, or was found by walking a directory and is not an event file; says so in ``stats``."""
    if kind == "empty":
        stats.file(path).format = "empty"
        stats.problem(path, None, "file is empty", "warning")
        return True
    if kind == "unknown" and not named:
        # Found by walking a directory (a README, a licence, metadata): not events.
        stats.file(path).format = "skipped"
        stats.problem(path, None, "not an event file (not NDJSON, EVTX or Windows-event JSON); skipped", "warning")
        return True
    return False


def read_events(paths: Iterable[str], stats: SourceStats, *, index: str | None = None,
                profile: str = "winlogbeat", host_id: str | None = None,
                index_from_file_name: bool = True) -> Iterator[SourceEvent]:
    """Every event of every input, in input order; problems go to ``stats``, never stop the run.

    Args:
        paths: files, directories or '-' (stdin, NDJSON).
        stats: per-file counts and problems.
        index: index of NDJSON documents that carry none.
        index_from_file_name: when ``index`` is None, name the index after the file (as ``eqlite query``
            does); otherwise leave it unknown (``eqlite run`` then derives it from ``data_stream.*``).
        profile: ECS mapping profile for raw Windows logs: ``winlogbeat`` or ``agent``.
        host_id: overrides ``host.id`` of raw Windows logs (default: the record's computer).
    """
    for path, named in expand_paths(paths, stats):
        try:
            kind = detect(path)
        except OSError as error:  # gone, or unreadable, since the folder was listed: the others go on
            stats.problem(path, None, f"cannot read: {error.strerror or error}")
            continue
        if kind in ("evtx", "winevent-json", "zip"):
            from eqlite.sources.windows import read_windows_file

            yield from read_windows_file(path, profile=profile, host_id=host_id, stats=stats)
            continue
        if holds_no_events(path, kind, named, stats):
            continue
        default_index = index or (index_for_path(path) if index_from_file_name else None)
        yield from read_ndjson(path, stats, index=default_index)
