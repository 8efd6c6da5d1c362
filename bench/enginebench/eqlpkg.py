"""The ``eql`` package (1.0.1, Endgame/Elastic's Python EQL) driven as a black box, for comparison only.

The package is AGPL-licensed: this module only calls its public API (``parse_query`` under
parser configurations, ``PythonEngine``, ``Event``) and copies none of its code.

Three adaptations are needed to run it over ECS NDJSON, and they are part of its timed run:

* time: the package keeps event time, and compares ``maxspan``, in Windows FILETIME ticks
  (100 ns since 1601-01-01), so ``@timestamp`` is converted to ticks (:func:`filetime_ticks`);
* category: its event type is one string, so ``event.category`` gives its first element;
* arrays: it compares whole field values, while Elasticsearch matches a multi-valued field
  when any value matches. ECS keeps ``event.type``, ``event.category``, ``host.ip``,
  ``process.args`` ... as arrays, and a JSON array makes its ``in`` operator raise (a list
  is unhashable). :func:`flatten_singletons` unwraps one-element arrays (the common case,
  ``"event.type": ["start"]``) and turns longer ones into tuples, which match no string.

Its semantics differ from Elasticsearch's in other places too (case-insensitive comparisons by
default, no multi-value matching, no ``cidrmatch`` spelled in lower case), so its result
counts are reported only to make gross disagreements visible.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from functools import lru_cache
from typing import Any

import orjson

from enginebench.engines import Engine, RunOutcome
from eqlite.rules import Rule

TICKS_PER_SECOND = 10_000_000
FILETIME_UNIX_EPOCH = 116_444_736_000_000_000  # ticks from 1601-01-01 to 1970-01-01
_FILETIME_ZERO = dt.datetime(1601, 1, 1)
GENERIC_CATEGORY = "generic"  # the package's EVENT_TYPE_GENERIC


@lru_cache(maxsize=8192)
def _second_ticks(text: str) -> int:
    delta = dt.datetime.fromisoformat(text).replace(tzinfo=None) - _FILETIME_ZERO
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND


def _zone_ticks(zone: str) -> int:
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return sign * (hours * 3600 + minutes * 60) * TICKS_PER_SECOND


def filetime_ticks(value: str | int | float) -> int:
    """An ``@timestamp`` (ISO-8601 string, or epoch milliseconds) as FILETIME ticks (100 ns since 1601).

    A time without a zone is UTC, as Elasticsearch reads it; fractions finer than 100 ns are dropped.

    >>> filetime_ticks("1970-01-01T00:00:00Z") == FILETIME_UNIX_EPOCH
    True
    >>> filetime_ticks("2024-05-14T08:00:01.444Z") - filetime_ticks("2024-05-14T08:00:01Z")
    4440000
    >>> filetime_ticks("2024-05-14T10:00:00+02:00") == filetime_ticks("2024-05-14T08:00:00.000Z")
    True
    >>> filetime_ticks(1000) - FILETIME_UNIX_EPOCH, filetime_ticks("1000") - FILETIME_UNIX_EPOCH
    (10000000, 10000000)

    Raises:
        ValueError: when the value is not a date.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return FILETIME_UNIX_EPOCH + int(value * 10_000)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.isdigit():
        return FILETIME_UNIX_EPOCH + int(text) * 10_000
    zone = 0
    if text.endswith(("Z", "z")):
        text = text[:-1]
    else:
        time_start = text.find("T")
        sign = max(text.rfind("+"), text.rfind("-"))
        if 0 <= time_start < sign:
            zone = _zone_ticks(text[sign:])
            text = text[:sign]
    seconds, _, fraction = text.partition(".")
    ticks = _second_ticks(seconds)
    if fraction:
        if not fraction.isdigit():
            raise ValueError(f"not a timestamp: {value!r}")
        ticks += int(fraction[:7].ljust(7, "0"))
    return ticks - zone


def flatten_singletons(value: Any) -> Any:
    """A document with one-element arrays unwrapped and longer arrays made tuples, at every depth.

    >>> flatten_singletons({"event": {"type": ["start"], "category": ["process"]}, "ip": ["a", "b"], "n": 1})
    {'event': {'type': 'start', 'category': 'process'}, 'ip': ('a', 'b'), 'n': 1}
    """
    if isinstance(value, dict):
        return {key: flatten_singletons(item) for key, item in value.items()}
    if isinstance(value, list):
        return flatten_singletons(value[0]) if len(value) == 1 else tuple(flatten_singletons(v) for v in value)
    return value


def event_category(document: dict[str, Any]) -> str:
    """The package's event type: the first ``event.category`` (``generic`` when there is none).

    >>> event_category({"event": {"category": ["authentication", "session"]}}), event_category({})
    ('authentication', 'generic')
    """
    event = document.get("event")
    category = event.get("category") if isinstance(event, dict) else None
    if isinstance(category, list):
        category = category[0] if category else None
    return category if isinstance(category, str) and category else GENERIC_CATEGORY


def _events(paths: Sequence[str]) -> Iterator[Any]:
    from eql import Event

    loads = orjson.loads
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                document = loads(line)
                stamp = document.get("@timestamp")
                time = filetime_ticks(stamp) if stamp is not None else 0
                yield Event(event_category(document), time, flatten_singletons(document))


def _reason(stage: str, error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 and lines[0].startswith("Error at") else (lines[0] if lines else "")
    return f"{stage}: {type(error).__name__}: {detail}"


def parse_rule(query: str) -> Any:
    """Parse a rule query with the Elasticsearch syntax and the features rules use (sample, runs, missing events).

    Unknown functions are let through the parser (``ignore_missing_functions``) and rejected
    when the engine compiles the query, so each rejection names its stage.
    """
    from eql.parser import (
        allow_negation,
        allow_runs,
        allow_sample,
        elasticsearch_syntax,
        ignore_missing_functions,
        parse_query,
    )

    with ExitStack() as stack:
        for config in (elasticsearch_syntax, ignore_missing_functions, allow_sample, allow_runs, allow_negation):
            stack.enter_context(config)
        return parse_query(query)


class EqlEngine(Engine):
    """``eql.PythonEngine`` with one analytic per rule (its id is the rule id), fed one pass of events."""

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        from eql import PythonEngine
        from eql.ast import EqlAnalytic

        self.engine = PythonEngine()
        self.hits: Counter[str] = Counter()
        rejected: dict[str, str] = {}
        for rule in rules:
            try:
                query = parse_rule(rule.query or "")
            except Exception as error:  # a black box: any failure is a rejection, reported
                rejected[rule.rule_id] = _reason("parse", error)
                continue
            try:
                self.engine.add_analytic(EqlAnalytic(query, {"id": rule.rule_id}))
            except Exception as error:
                rejected[rule.rule_id] = _reason("compile", error)
        self.engine.add_output_hook(lambda output: self.hits.update((output.analytic_id,)))
        return rejected

    def run(self, paths: Sequence[str]) -> RunOutcome:
        stream = self.engine.stream_event
        events = errors = 0
        last_error = ""
        for event in _events(paths):
            events += 1
            try:
                stream(event)
            except Exception as error:  # one failing query skips the rest of this event's hooks
                errors += 1
                last_error = f"{type(error).__name__}: {error}"
        self.engine.finalize()
        return RunOutcome(events, dict(self.hits), {"event_errors": errors, "last_event_error": last_error})


class EqlPrepEngine(Engine):
    """The eql adapter's share of the eql run: read, ``orjson.loads``, ticks, category, arrays, ``Event``."""

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        import eql  # noqa: F401 - imported here, as EqlEngine does, not in the timed run

        return {}

    def run(self, paths: Sequence[str]) -> RunOutcome:
        return RunOutcome(sum(1 for _ in _events(paths)))
