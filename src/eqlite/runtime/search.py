"""Run an EQL query over events and return hits in Elasticsearch's order.

This is the reference engine: it compiles a query once (:class:`CompiledQuery`) and then
searches any iterable of documents. Events need not arrive sorted: the events a query can
use (those matching some stage) are sorted by ordinal before sequence matching, so the
answer is Elasticsearch's whatever the input order.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eqlite.errors import QueryError
from eqlite.plan.query import EventPlan, Key, QueryPlan, SamplePlan, SequencePlan, Stage, plan_query
from eqlite.runtime.access import FieldReaders
from eqlite.runtime.compile import Compiler, ScriptErrors
from eqlite.runtime.events import Event, Record, Timeline
from eqlite.runtime.sample import SampleMatcher
from eqlite.runtime.sequence import KeyValue, MatcherStats, SequenceMatcher, StageRuntime, key_combinations
from eqlite.semantic.analyzer import analyze
from eqlite.semantic.schema import FieldInfo, Schema
from eqlite.semantic.types import Family, format_ip
from eqlite.syntax import ast
from eqlite.syntax.parser import parse

ResultPosition = Literal["head", "tail"]
Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """The knobs of Elasticsearch's EQL search request that change results.

    ``size`` None returns every hit (Elasticsearch's default is 10, ``tail``).
    """

    schema: Schema | None = None
    timestamp_field: str = "@timestamp"
    tiebreaker_field: str | None = None
    event_category_field: str = "event.category"
    size: int | None = None
    result_position: ResultPosition = "tail"
    max_samples_per_key: int = 1
    max_partials: int = 1_000_000
    index_schemas: Mapping[str, Schema] | None = None


@dataclass(slots=True)
class EventHit:
    event: Event


@dataclass(slots=True)
class SequenceHit:
    """A sequence; ``events`` has None where a missing-event stage stands."""

    events: list[Event | None]
    join_keys: list[Any]


@dataclass(slots=True)
class SampleHit:
    events: list[Event]
    join_keys: list[Any]


Hit = EventHit | SequenceHit | SampleHit


def hit_events(hit: Hit) -> list[Event]:
    """The events of a hit, in order (a missing-event stage's place left out)."""
    if isinstance(hit, EventHit):
        return [hit.event]
    return [event for event in hit.events if event is not None]


@dataclass(slots=True)
class SearchStats:
    """Counts that explain a result: what was read, skipped, and why."""

    documents: int = 0
    without_timestamp: int = 0
    candidates: int = 0
    script_errors: int = 0
    last_script_error: str = ""
    matcher: MatcherStats | None = None


@dataclass(slots=True)
class SearchResult:
    kind: Literal["event", "sequence", "sample"]
    # A list, except where a caller asked for hits read lazily (see ``FastExecution.finish_each``).
    hits: Sequence[Hit]
    stats: SearchStats = field(default_factory=SearchStats)


def _render_key(info: FieldInfo | None, sample: bool) -> Callable[[Any], Any]:
    """How a join key value is shown, as Elasticsearch returns it.

    Sequence keys come from the fields API (dates formatted); sample keys come from a
    composite aggregation (dates as epoch milliseconds).
    """
    if info is None:
        return lambda value: value
    if info.family is Family.DATE and sample:
        return lambda value: value // 1_000_000 if isinstance(value, int) else value
    if info.family is Family.DATE:
        def render_date(value: Any) -> Any:
            if not isinstance(value, int):
                return value
            seconds, nanos = divmod(value, 1_000_000_000)
            moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
            fraction = f"{nanos // 1_000_000:03d}" if info.type == "date" else f"{nanos:09d}".rstrip("0") or "0"
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"
        return render_date
    if info.family is Family.IP:
        return lambda value: format_ip(value) if value is not None else None
    return lambda value: value


_first = operator.itemgetter(0)


class SchemaBound:
    """A query's stage filters and key functions compiled against one schema.

    Filters and key functions take whatever the field readers read: a ``_source`` dict for
    plain :class:`FieldReaders`, an :class:`~eqlite.runtime.access.EventView` for caching ones.
    """

    def __init__(self, plan: QueryPlan, stages: list[Stage], schema: Schema | None, errors: ScriptErrors,
                 sample: bool, readers: FieldReaders | None = None,
                 filter_compiler: Callable[[Any], Callable[[Any], bool]] | None = None) -> None:
        self.readers = readers if readers is not None else FieldReaders(schema)
        self._compiler = Compiler(self.readers, errors)
        compile_filter = filter_compiler or self._compiler.predicate
        self.filters = [compile_filter(stage.filter) for stage in stages]
        self.key_functions = [self._key_function(stage.keys) for stage in stages]
        first_keys = stages[0].keys if stages else ()
        self.key_renderers = [
            _render_key(self.readers.info(key.expr.name) if isinstance(key.expr, ast.Field) else None, sample)
            for key in first_keys
        ]

    def _key_function(self, keys: tuple[Key, ...]) -> Callable[[Any], list[KeyValue]]:
        readers: list[tuple[Callable[[Any], tuple[Any, ...]], bool]] = []
        for key in keys:
            if isinstance(key.expr, ast.Field):
                readers.append((self.readers(key.expr.name), key.optional))
            else:
                readers.append((self._expression_values(key.expr), key.optional))

        if len(readers) == 1:
            (read_one, optional_one), = readers

            def key_of(document: Any) -> list[KeyValue]:
                values = read_one(document)
                if len(values) == 1 and values[0] is not None:
                    return [values]  # the key is the one value, as a 1-tuple
                return key_combinations(((values, optional_one),))

            return key_of

        def keys_of(document: Any) -> list[KeyValue]:
            columns = [read(document) for read in plain]
            for values in columns:
                if len(values) != 1 or values[0] is None:
                    return key_combinations(zip(columns, optionals, strict=True))
            return [tuple(map(_first, columns))]  # one value per key, the usual case

        plain = [read for read, _ in readers]
        optionals = [optional for _, optional in readers]
        return keys_of

    def _expression_values(self, expr: ast.Expr) -> Callable[[Document], tuple[Any, ...]]:
        occurrences: list[ast.Field] = []
        evaluate = self._compiler.expression(expr, occurrences)
        field_readers = [self.readers(occurrence.name) for occurrence in occurrences]

        def values(document: Document) -> tuple[Any, ...]:
            columns = [read(document) or (None,) for read in field_readers]
            results = []
            for combination in itertools.product(*columns):
                try:
                    results.append(evaluate(list(combination)))
                except (ArithmeticError, ValueError, TypeError):
                    continue
            return tuple(results)

        return values


class CompiledQuery:
    """A query compiled against a schema, ready to search documents many times.

    When ``options.index_schemas`` maps index names to schemas, an event is evaluated with
    the schema of its index (indices may map a field differently), else with ``options.schema``.

    >>> compiled = CompiledQuery('process where process.name : "CMD.exe"')
    >>> docs = [{"@timestamp": 1, "event": {"category": ["process"]}, "process": {"name": "cmd.exe"}}]
    >>> [hit.event.position for hit in compiled.search(docs).hits]
    [0]
    """

    def __init__(self, query: str | ast.Query, options: SearchOptions | None = None, *, bind: bool = True) -> None:
        """``bind=False`` leaves the stage filters and key functions to be compiled when first used: for a
        caller that compiles its own from ``plan`` (the fast path), and reports the errors that raises."""
        self.options = options or SearchOptions()
        self._text = query if isinstance(query, str) else ""
        parsed = parse(query) if isinstance(query, str) else query
        analysis = analyze(parsed, self._analysis_schema())
        self.query = analysis.query
        self.plan: QueryPlan = plan_query(self.query, category_field=self.options.event_category_field)
        self.script_errors = ScriptErrors()
        body = self.plan.body
        self._stages: list[Stage] = []
        if isinstance(body, EventPlan):
            self._stages = [body.stage]
        elif isinstance(body, SequencePlan):
            self._stages = [*body.stages, *([body.until] if body.until else [])]
        else:
            self._stages = list(body.stages)
        self._bound: dict[int, SchemaBound] = {}
        self._default_bound: SchemaBound | None = None
        if bind:
            self._bind_all()

    def _bind_all(self) -> SchemaBound:
        try:
            self._default_bound = self._bind(self.options.schema)
            for schema in (self.options.index_schemas or {}).values():
                self._bind(schema)
        except QueryError as error:
            raise error.with_query(self._text) from None
        return self._default_bound

    @property
    def _default(self) -> SchemaBound:
        bound = self._default_bound
        return bound if bound is not None else self._bind_all()

    @property
    def readers(self) -> FieldReaders:
        """The field readers of the query's filters under ``options.schema``."""
        return self._default.readers

    def _analysis_schema(self) -> Schema | None:
        schemas = list((self.options.index_schemas or {}).values())
        if not schemas:
            return self.options.schema
        return Schema.merge(*schemas, *([self.options.schema] if self.options.schema is not None else []))

    def _bind(self, schema: Schema | None) -> SchemaBound:
        bound = self._bound.get(id(schema))
        if bound is None:
            bound = self._bound[id(schema)] = SchemaBound(self.plan, self._stages, schema, self.script_errors,
                                                           self.kind == "sample")
        return bound

    def _for(self, event: Event) -> SchemaBound:
        schemas = self.options.index_schemas
        if schemas and event.index is not None and event.index in schemas:
            return self._bind(schemas[event.index])
        return self._default

    @property
    def kind(self) -> Literal["event", "sequence", "sample"]:
        body = self.plan.body
        return "event" if isinstance(body, EventPlan) else "sequence" if isinstance(body, SequencePlan) else "sample"

    def matches_any_stage(self, event: Event) -> bool:
        """Evaluate every stage filter on the event, remembering which matched."""
        event.marks = tuple(test(event.source) for test in self._for(event).filters)
        return any(event.marks)

    def _stage_runtime(self, index: int, missing: bool) -> StageRuntime:
        def keys(event: Event) -> list[KeyValue]:
            # The fast path works out keys while it has the event parsed; the reference does it here.
            if event.stage_keys is not None:
                return event.stage_keys[index]
            return self._for(event).key_functions[index](event.source)

        return StageRuntime(lambda event: event.marks[index], keys, missing)

    def render_keys(self, key: KeyValue, event: Event | None = None) -> list[Any]:
        renderers = (self._for(event) if event is not None else self._default).key_renderers
        return [renderers[i](value) if i < len(renderers) else value for i, value in enumerate(key)]

    # ------------------------------------------------------------ searching

    def search(self, documents: Iterable[Document | Record | Event]) -> SearchResult:
        """Search documents (``_source`` dicts, source records or prepared events)."""
        run = self.start()
        for document in documents:
            run.feed(document)
        return run.finish()

    def start(self) -> QueryRun:
        """Begin a search fed one document at a time (several queries can share one pass over the input)."""
        return QueryRun(self)

    def _match(self, candidates: Iterable[Event], stats: SearchStats,
               missing: Mapping[int, Mapping[KeyValue, Iterable[int]]] | None = None) -> list[Hit]:
        """Match candidates (in ordinal order); ``missing`` gives missing-stage timestamps collected aside."""
        body = self.plan.body
        if isinstance(body, EventPlan):
            return [EventHit(event) for event in candidates]
        if isinstance(body, SequencePlan):
            stages = [self._stage_runtime(i, stage.missing) for i, stage in enumerate(body.stages)]
            until = self._stage_runtime(len(body.stages), False) if body.until else None
            maxspan = body.maxspan_ms * 1_000_000 if body.maxspan_ms is not None else None
            matcher = SequenceMatcher(stages, until, maxspan, self.options.max_partials)
            for stage_index, by_key in (missing or {}).items():
                for key, times in by_key.items():
                    matcher.add_missing_times(stage_index, key, times)
            for event in candidates:
                matcher.feed(event)
            stats.matcher = matcher.stats
            return [SequenceHit(match.events, self.render_keys(match.key, next(e for e in match.events if e)))
                    for match in matcher.results()]
        assert isinstance(body, SamplePlan)
        sampler = SampleMatcher([self._stage_runtime(i, False) for i in range(len(body.stages))],
                                self.options.max_samples_per_key)
        for event in candidates:
            sampler.feed(event)
        return [SampleHit(match.events, self.render_keys(match.key, match.events[0])) for match in sampler.results()]


class QueryRun:
    """One search in progress: documents go in with :meth:`feed`, hits come out of :meth:`finish`.

    Only the events that match some stage are kept (and sorted at the end), so memory grows
    with the candidates, not with the input.
    """

    def __init__(self, query: CompiledQuery) -> None:
        self.query = query
        self.stats = SearchStats()
        self.candidates: list[Event] = []
        options = query.options
        self.timeline = Timeline(options.schema, options.timestamp_field, options.tiebreaker_field,
                                 require_timestamp=query.kind != "sample")

    def feed(self, item: Document | Record | Event) -> bool:
        """Offer one document; True when it matched a stage of the query."""
        self.stats.documents += 1
        if isinstance(item, Event):
            event: Event | None = item
        elif isinstance(item, dict):
            event = self.timeline.event(item)
        else:
            event = self.timeline.event(item.source, item.index, item.id, item.path, item.position)
        if event is None:
            self.stats.without_timestamp += 1
            return False
        if self.query.matches_any_stage(event):
            self.candidates.append(event)
            return True
        return False

    def finish(self) -> SearchResult:
        """Order the candidates, run the sequence or sample matcher, apply pipes and size."""
        query, stats = self.query, self.stats
        self.candidates.sort(key=lambda event: event.ordinal)
        stats.candidates = len(self.candidates)
        hits = query._match(self.candidates, stats)
        stats.script_errors = query.script_errors.count
        stats.last_script_error = query.script_errors.last
        return SearchResult(query.kind, apply_limits(hits, query.plan, query.options), stats)


def apply_limits(hits: list[Hit], plan: QueryPlan, options: SearchOptions) -> list[Hit]:
    """Apply the pipes in order, then the request's ``size`` from ``result_position``."""
    for pipe in plan.pipes:
        hits = hits[: pipe.count] if pipe.kind == "head" else hits[len(hits) - pipe.count:] if pipe.count else []
    if options.size is not None:
        if options.size <= 0:
            return []
        # Samples come from paging a composite aggregation: always the first ones.
        from_head = options.result_position == "head" or isinstance(plan.body, SamplePlan)
        hits = hits[: options.size] if from_head else hits[-options.size:]
    return hits


def search(query: str | ast.Query, documents: Iterable[Document | Record | Event],
           options: SearchOptions | None = None) -> SearchResult:
    """Parse, check, plan and run a query over documents in one call.

    >>> docs = [{"@timestamp": t, "event": {"category": "process"}, "n": t} for t in (3, 1, 2)]
    >>> [hit.event.source["n"] for hit in search("process where n > 1", docs).hits]
    [2, 3]
    """
    return CompiledQuery(query, options).search(documents)
