"""``eqlite query``: run an ad-hoc EQL query over event files and print the hits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from eqlite.cli.output import write_ndjson, write_table
from eqlite.errors import QueryError
from eqlite.runtime.search import CompiledQuery, SearchOptions
from eqlite.semantic.schema import Schema, SchemaError, load_es_mapping_file
from eqlite.sources.base import SourceEvent, SourceStats
from eqlite.sources.reader import read_events


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "query",
        help="run an ad-hoc EQL query over event files",
        description="Run an EQL query (Elasticsearch dialect and semantics) over NDJSON event files "
                    "(plain or .gz, Elasticsearch hit envelopes, '-' for stdin) and raw Windows logs "
                    "(.evtx, Windows-event JSON), and print the hits in Elasticsearch's order.",
        epilog="Exit codes: 0 success, 1 an input could not be read, 2 invalid query or usage.",
    )
    parser.add_argument("query", help="the EQL query")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="event files or directories; '-' is stdin")
    parser.add_argument("--size", type=int, default=None,
                        help="return at most N hits, as Elasticsearch's 'size' (default: every hit)")
    parser.add_argument("--tail", action="store_true",
                        help="with --size, keep the last N hits (result_position: tail); default is head")
    parser.add_argument("--format", choices=("ndjson", "table"), default="ndjson", help="output format")
    parser.add_argument("--timestamp-field", default="@timestamp", help="event time field (default @timestamp)")
    parser.add_argument("--tiebreaker-field", default=None, help="field ordering events with equal timestamps")
    parser.add_argument("--event-category-field", default="event.category",
                        help="field matched by 'process where ...' (default event.category)")
    parser.add_argument("--index", default=None,
                        help="index name for documents that do not carry one (default: from the file name)")
    parser.add_argument("--mapping", default=None, metavar="FILE",
                        help="an Elasticsearch index mapping (JSON) giving the field types; default: ECS")
    parser.add_argument("--profile", choices=("winlogbeat", "agent"), default="winlogbeat",
                        help="how raw Windows logs map to ECS (default winlogbeat)")
    parser.add_argument("--max-samples-per-key", type=int, default=1, help="samples per join key (default 1)")
    parser.set_defaults(run=run)


def _schema(args: argparse.Namespace) -> Schema:
    if args.mapping:
        return load_es_mapping_file(args.mapping)
    return Schema.ecs()


def run(args: argparse.Namespace) -> int:
    if args.size is not None and args.size < 0:
        print("eqlite query: --size must not be negative", file=sys.stderr)
        return 2
    try:
        schema = _schema(args)
    except (OSError, SchemaError, ValueError) as error:
        print(f"eqlite query: cannot load mapping {args.mapping}: {error}", file=sys.stderr)
        return 2
    options = SearchOptions(
        schema=schema, timestamp_field=args.timestamp_field, tiebreaker_field=args.tiebreaker_field,
        event_category_field=args.event_category_field, size=args.size,
        result_position="tail" if args.tail else "head", max_samples_per_key=args.max_samples_per_key,
    )
    try:
        compiled = CompiledQuery(args.query, options)
    except QueryError as error:
        print(error.with_query(args.query).describe(), file=sys.stderr)
        return 2
    stats = SourceStats()
    result = compiled.search(_reported(read_events(args.paths, stats, index=args.index, profile=args.profile),
                                       stats))
    if args.format == "ndjson":
        write_ndjson(result.hits)
    else:
        fields = sorted(compiled.plan.fields - {args.event_category_field})
        write_table(result.hits, [args.event_category_field, *fields])
    _summary(stats, result.stats.without_timestamp, result.stats.script_errors, result.stats.last_script_error)
    unreadable = any(problem.position is None and problem.severity == "error" for problem in stats.problems)
    return 1 if unreadable else 0


def _reported(events: Iterator[SourceEvent], stats: SourceStats) -> Iterator[SourceEvent]:
    """Pass events through, printing each problem on stderr as soon as it is found."""
    shown = 0
    for event in events:
        while shown < len(stats.problems):
            print(f"eqlite: {stats.problems[shown]}", file=sys.stderr)
            shown += 1
        yield event
    for problem in stats.problems[shown:]:
        print(f"eqlite: {problem}", file=sys.stderr)


def _summary(stats: SourceStats, without_timestamp: int, script_errors: int, last_error: str) -> None:
    skipped = stats.errors
    if skipped or without_timestamp or script_errors:
        parts = [f"{stats.events} events read"]
        if skipped:
            parts.append(f"{skipped} unreadable records skipped")
        if without_timestamp:
            parts.append(f"{without_timestamp} events without a timestamp ignored")
        if script_errors:
            parts.append(f"{script_errors} script errors (e.g. {last_error}) counted as no match")
        print("eqlite: " + ", ".join(parts), file=sys.stderr)
