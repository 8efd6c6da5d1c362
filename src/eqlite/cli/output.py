"""Output helpers for the command line: JSON lines for machines, aligned tables for people."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import IO, Any

import orjson

from eqlite.runtime.access import raw_values
from eqlite.runtime.events import Event
from eqlite.runtime.search import EventHit, Hit, SampleHit, SequenceHit
from eqlite.semantic.types import js_iso

MISSING_EVENT = {"_index": "", "_id": "", "missing": True}


def _default(value: Any) -> Any:
    return str(value)


def dumps(document: Any) -> bytes:
    """Compact JSON with a newline; values JSON cannot hold (addresses, versions) become text."""
    return orjson.dumps(document, default=_default, option=orjson.OPT_APPEND_NEWLINE)


def event_hit(event: Event | None) -> dict[str, Any]:
    """An event as Elasticsearch returns it in an EQL response."""
    if event is None:
        return dict(MISSING_EVENT)
    return {"_index": event.index or "", "_id": event.id or "", "_source": event.source}


def hit_to_json(hit: Hit) -> dict[str, Any]:
    """A hit in Elasticsearch's response shape: an event, or ``{"join_keys", "events"}``."""
    if isinstance(hit, EventHit):
        return event_hit(hit.event)
    assert isinstance(hit, (SequenceHit, SampleHit))
    return {"join_keys": hit.join_keys, "events": [event_hit(event) for event in hit.events]}


def write_ndjson(hits: Iterable[Hit], stream: IO[bytes] | None = None) -> None:
    out = stream if stream is not None else sys.stdout.buffer
    for hit in hits:
        out.write(dumps(hit_to_json(hit)))
    out.flush()


def format_time(nanos: int) -> str:
    """Epoch nanoseconds as ISO-8601 UTC with milliseconds (as ``toISOString``; the number itself past
    the range of a date).

    >>> format_time(-62_167_219_200_000_000_000), format_time(10**30)
    ('0000-01-01T00:00:00.000Z', '1000000000000000000000000000000')
    """
    return js_iso(nanos) or str(nanos)


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = ",".join("" if v is None else str(v) for v in value) if isinstance(value, list) else str(value)
    text = text.replace("\n", " ").replace("\t", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _clip_middle(cell: str, width: int) -> str:
    """``cell`` in at most ``width`` characters, its middle replaced by an ellipsis.

    >>> _clip_middle("/logs/very/long/path/events.ndjson", 20)
    '/logs/ver…nts.ndjson'
    """
    if len(cell) <= width:
        return cell
    head = (width - 1) // 2
    return cell[:head] + "…" + cell[len(cell) - (width - 1 - head):]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], stream: IO[str] | None = None) -> None:
    """Print an aligned table that fits the terminal: the widest columns give way, their cells clipped in the middle."""
    out = stream if stream is not None else sys.stdout
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    limit = shutil.get_terminal_size((160, 24)).columns
    excess = sum(widths) + 2 * (len(widths) - 1) - limit
    while excess > 0:
        widest = max(range(len(widths)), key=widths.__getitem__)
        shrink = min(excess, widths[widest] - max(12, len(headers[widest])))
        if shrink <= 0:
            break
        widths[widest] -= shrink
        excess -= shrink

    def line(cells: Sequence[str]) -> str:
        text = "  ".join(_clip_middle(cell, width).ljust(width) for cell, width in zip(cells, widths, strict=True))
        return text[:limit].rstrip() + "\n"

    out.write(line(headers))
    out.write("  ".join("-" * width for width in widths)[:limit] + "\n")
    for row in rows:
        out.write(line(row))


def _event_cells(event: Event | None, fields: Sequence[str]) -> list[str]:
    if event is None:
        return ["(missing)", "", *("" for _ in fields)]
    values = []
    for name in fields:
        found = raw_values(event.source, name)
        values.append(_cell(found if found is None or len(found) != 1 else found[0], 40))
    return [format_time(event.timestamp), _cell(event.index, 40), *values]


def write_table(hits: Sequence[Hit], fields: Sequence[str], stream: IO[str] | None = None) -> None:
    """Hits as a table: one row per event; sequences and samples numbered, with their join keys."""
    shown = list(fields)[:6]
    rows: list[list[str]] = []
    for number, hit in enumerate(hits, start=1):
        if isinstance(hit, EventHit):
            rows.append([str(number), *_event_cells(hit.event, shown)])
            continue
        assert isinstance(hit, (SequenceHit, SampleHit))
        keys = _cell(hit.join_keys, 50)
        for position, event in enumerate(hit.events):
            label = f"{number}.{position + 1}"
            rows.append([label, *_event_cells(event, shown), keys if position == 0 else ""])
    headers = ["#", "@timestamp", "_index", *shown]
    if hits and not isinstance(hits[0], EventHit):
        headers.append("join_keys")
    table(headers, rows, stream)
