"""``eqlite convert``: raw Windows logs (EVTX, Windows-event JSON, zips) to ECS NDJSON."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import IO, Any

from eqlite.cli.output import dumps, table
from eqlite.sources.base import SourceStats
from eqlite.sources.reader import read_events


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "convert", help="convert raw Windows logs to ECS NDJSON",
        description="Map raw Windows logs (.evtx, Windows-event JSON lines, .zip archives of them) to ECS "
                    "documents exactly as Winlogbeat or Elastic Agent would, and write them as NDJSON. "
                    "Plain ECS NDJSON passes through unchanged.",
        epilog="Exit codes: 0 success, 1 an input could not be read or the output written, 2 bad usage.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--profile", choices=("winlogbeat", "agent"), default="winlogbeat",
                        help="the collector to reproduce (default winlogbeat)")
    parser.add_argument("--host-id", default=None, help="host.id for every event (default: the record's computer)")
    parser.add_argument("--out", "-o", default="-", help="output file (default: stdout)")
    parser.add_argument("--envelopes", action="store_true",
                        help='write Elasticsearch hits {"_index", "_id", "_source"} instead of bare documents')
    parser.add_argument("--quiet", "-q", action="store_true", help="no per-file summary on stderr")
    parser.set_defaults(run=run)


def _write(args: argparse.Namespace, stream: IO[bytes], stats: SourceStats) -> None:
    for event in read_events(args.paths, stats, profile=args.profile, host_id=args.host_id):
        if args.envelopes:
            stream.write(dumps({"_index": event.index, "_id": event.id, "_source": event.source}))
        else:
            stream.write(dumps(event.source))


def run(args: argparse.Namespace) -> int:
    stats = SourceStats()
    if args.out == "-":
        _write(args, sys.stdout.buffer, stats)
        sys.stdout.buffer.flush()
    else:
        directory = os.path.dirname(os.path.abspath(args.out))
        try:
            handle, temporary = tempfile.mkstemp(prefix=".eqlite-", suffix=".ndjson", dir=directory)
        except OSError as error:
            print(f"eqlite convert: cannot write to {args.out}: {error.strerror}", file=sys.stderr)
            return 1
        try:
            with os.fdopen(handle, "wb") as stream:
                _write(args, stream, stats)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, args.out)
        except BaseException:
            os.unlink(temporary)
            raise
    for problem in stats.problems:
        print(f"eqlite: {problem}", file=sys.stderr)
    if not args.quiet:
        summary(stats, sys.stderr)
    return 1 if any(p.position is None and p.severity == "error" for p in stats.problems) else 0


def summary(stats: SourceStats, stream: IO[str]) -> None:
    """Per-file counts: format, records, events, errors, warnings and unmapped event kinds, and the totals.

    Paths are shown relative to the folder that holds them all.
    """
    paths = list(stats.files)
    files = [path for path in paths if "!" not in path and path != "-"]
    base = os.path.dirname(os.path.commonpath(files)) if len(files) > 1 else ""
    if base in ("", "/"):
        base = ""
    rows = []
    for path, file_stats in stats.files.items():
        unmapped = sum(file_stats.unmapped.values())
        shown = os.path.relpath(path, base) if base and path.startswith(base + os.sep) else path
        rows.append([shown, file_stats.format, str(file_stats.records), str(file_stats.events),
                     str(file_stats.errors), str(file_stats.warnings), str(unmapped)])
    if len(rows) > 1:
        every = stats.files.values()
        rows.append([f"total ({len(rows)} files)", "", str(sum(f.records for f in every)),
                     str(sum(f.events for f in every)), str(sum(f.errors for f in every)),
                     str(sum(f.warnings for f in every)), str(sum(sum(f.unmapped.values()) for f in every))])
    if base:
        stream.write(f"files under {base}{os.sep}\n")
    table(["file", "format", "records", "events", "errors", "warnings", "unmapped"], rows, stream)
