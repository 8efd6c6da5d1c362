"""Execute many rules over one pass of events.

Each supported rule is compiled once. Every event is offered to the rules whose index
patterns cover the event's index, as Kibana would search only those indices. An event's
index comes from its hit envelope or the ``--index`` option, else from its
``data_stream.type``, ``data_stream.dataset`` and ``data_stream.namespace``; an event with
no known index is visible to every rule (and counted, so the summary can say so).

A rule that cannot run (unsupported type, invalid query) is reported with its file and
position; the others go on.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from eqlite.errors import QueryError
from eqlite.rules import Rule
from eqlite.runtime.search import CompiledQuery, QueryRun, SearchOptions, SearchResult
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent

Status = Literal["ok", "error", "unsupported"]
OptionsFor = Callable[[Rule, Schema | None], SearchOptions]


def data_stream_index(source: dict[str, Any]) -> str | None:
    """The data stream an event belongs to, from its ``data_stream.*`` fields.

    >>> data_stream_index({"data_stream": {"type": "logs", "dataset": "endpoint.events.process",
    ...                                    "namespace": "default"}})
    'logs-endpoint.events.process-default'
    """
    stream = source.get("data_stream")
    if isinstance(stream, dict):
        kind, dataset, namespace = stream.get("type"), stream.get("dataset"), stream.get("namespace")
    else:
        kind, dataset, namespace = (source.get("data_stream.type"), source.get("data_stream.dataset"),
                                    source.get("data_stream.namespace"))
    # (once per event on the fast path: no generator)
    if (isinstance(kind, str) and isinstance(dataset, str) and isinstance(namespace, str)
            and kind and dataset and namespace):
        return f"{kind}-{dataset}-{namespace}"
    return None


@lru_cache(maxsize=65536)
def index_matches(patterns: tuple[str, ...], index: str) -> bool:
    """Whether an index is searched by Kibana index patterns (``*`` wildcards, ``-`` exclusions).

    >>> index_matches(("logs-endpoint.events.*", "winlogbeat-*"), "logs-endpoint.events.process-default")
    True
    >>> index_matches(("logs-*", "-logs-test-*"), "logs-test-x")
    False
    """
    included = False
    for pattern in patterns:
        for piece in pattern.split(","):
            part = piece.strip()
            if not part:
                continue
            if part.startswith("-"):
                if fnmatch.fnmatchcase(index, part[1:]):
                    return False
            elif fnmatch.fnmatchcase(index, part.split(":", 1)[-1]):
                included = True
    return included


@dataclass(slots=True)
class RuleRun:
    """One rule's part in an execution: its compiled query, status and result."""

    rule: Rule
    status: Status
    error: str | None = None
    compiled: CompiledQuery | None = None
    run: QueryRun | None = None
    result: SearchResult | None = None
    events_seen: int = 0
    patterns: tuple[str, ...] = ()


def options_for(rule: Rule, schema: Schema | None) -> SearchOptions:
    """The EQL search request Kibana would send for a rule (timestamp, tiebreaker, category fields)."""
    return SearchOptions(
        schema=schema,
        timestamp_field=rule.timestamp_override or "@timestamp",
        tiebreaker_field=rule.tiebreaker_field,
        event_category_field=rule.event_category_override or "event.category",
    )


def scheduled_options(rule: Rule, schema: Schema | None) -> SearchOptions:
    """The EQL search request of a scheduled run (detection-engine.md §3.3).

    ``timestamp_override`` only moves the time-range filter, which the scheduler applies
    before events reach the query; the query itself orders events and measures ``maxspan``
    on the rule's ``timestamp_field`` (``@timestamp`` by default). ``size`` is left open so the
    scheduler can count every match before it keeps the first ``max_signals``.

    >>> from eqlite.rules import Rule
    >>> rule = Rule.from_dict({"rule_id": "r", "name": "n", "description": "d", "type": "eql", "language": "eql",
    ...     "query": "any where true", "risk_score": 1, "severity": "low", "timestamp_override": "event.ingested"})
    >>> scheduled_options(rule, None).timestamp_field, options_for(rule, None).timestamp_field
    ('@timestamp', 'event.ingested')
    """
    return SearchOptions(
        schema=schema,
        timestamp_field=rule.timestamp_field or "@timestamp",
        tiebreaker_field=rule.tiebreaker_field,
        event_category_field=rule.event_category_override or "event.category",
        result_position="head",
    )


def prepare(rule: Rule, schema: Schema | None, options: OptionsFor = options_for, *, bind: bool = True) -> RuleRun:
    """Compile a rule, or say why it cannot run (with the query error located in the rule's file).

    ``options`` builds the search request (hunting mode by default; see :func:`scheduled_options`).
    ``bind=False`` is for a caller that compiles the stage filters itself (see :class:`CompiledQuery`)
    and reports what that raises with :func:`failed`.
    """
    support = rule.execution_support()
    if not support.supported:
        return RuleRun(rule, "unsupported", support.reason)
    try:
        compiled = CompiledQuery(rule.query or "", options(rule, schema), bind=bind)
    except QueryError as error:
        return failed(rule, error)
    return RuleRun(rule, "ok", compiled=compiled, run=compiled.start(), patterns=tuple(rule.index or ()))


def failed(rule: Rule, error: QueryError) -> RuleRun:
    """A rule that cannot run for ``error``, located in the rule's file."""
    located = rule.query_error(error.message, error.span.line, error.span.col)
    return RuleRun(rule, "error", f"{type(error).__name__} at {located}")


@dataclass(slots=True)
class Execution:
    """Rules run together over one pass of events (hunting mode: one window over all the data)."""

    runs: list[RuleRun]
    events: int = 0
    events_without_index: int = 0
    _visible: dict[str | None, list[RuleRun]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Sequence[Rule], schema: Schema | None, options: OptionsFor = options_for) -> Execution:
        return cls([prepare(rule, schema, options) for rule in rules])

    @property
    def active(self) -> list[RuleRun]:
        return [run for run in self.runs if run.status == "ok"]

    def _rules_for(self, index: str | None) -> list[RuleRun]:
        visible = self._visible.get(index)
        if visible is None:
            visible = self._visible[index] = [
                run for run in self.active
                if index is None or not run.patterns or index_matches(run.patterns, index)
            ]
        return visible

    def feed(self, record: SourceEvent) -> None:
        """Offer one event to every rule that searches its index."""
        self.events += 1
        if record.index is None:
            record.index = data_stream_index(record.source)
            if record.index is None:
                self.events_without_index += 1
        for rule_run in self._rules_for(record.index):
            rule_run.events_seen += 1
            assert rule_run.run is not None
            rule_run.run.feed(record)

    def finish(self) -> list[RuleRun]:
        """Complete every rule's search; results land in each :class:`RuleRun`."""
        for rule_run in self.active:
            assert rule_run.run is not None
            rule_run.result = rule_run.run.finish()
            rule_run.run = None
        return self.runs
