"""The fast path: many rules over NDJSON lines, skipping what no rule can match before parsing it.

For every stage of every rule, :mod:`eqlite.plan.prefilter` gives literals that an
event's JSON text must contain for the stage to match. From a sample of the input the
rarest of them become the stage's *trigger*; one scan of each raw line (Hyperscan, or
Aho–Corasick) finds the triggered stages, and a line that triggers none is never parsed.
Stages without a selective trigger are *free*: they are evaluated on every parsed event
of their category.

Parsed events are evaluated only for the triggered and free stages of the rules that can
see their index, with each field read once per event (:class:`EventView`); the free stages of
an event's categories run in one generated function (:class:`StageRunner`). Candidates keep
their raw line, their stage marks and their join keys; at the end each rule's candidates
go through the reference engine's sequence and sample matchers, so results are identical
to the reference engine's, which the differential tests check.

A sequence rule's broad stages wait for its most selective one (:class:`Backlog`): until that
stage matches, the lines they would be tried on are only noted, and read again if it ever does.
A line on which every stage that could apply waits this way is noted without being parsed: its
literals, and the category values the same scan finds in it, say which stages could apply.
"""

from __future__ import annotations

import gc
import itertools
import os
import re
import shutil
import tempfile
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, overload

import orjson

from eqlite.errors import QueryError
from eqlite.plan import ir
from eqlite.plan.prefilter import Requirement, candidate_literals, key_literals, quoted_value, requirement
from eqlite.plan.query import EventPlan, SequencePlan
from eqlite.rules import Rule
from eqlite.runtime.access import CachingReaders, EventView
from eqlite.runtime.codegen import SourceCompiler
from eqlite.runtime.compile import Compiler, ScriptErrors
from eqlite.runtime.events import Ordinal, Timeline
from eqlite.runtime.literals import LiteralScanner, hyperscan_installed
from eqlite.runtime.search import (
    CompiledQuery,
    EventHit,
    Hit,
    SchemaBound,
    SearchResult,
    SearchStats,
    apply_limits,
    hit_events,
)
from eqlite.scheduler.candidates import (
    Budget,
    CandidateStore,
    SpillFile,
    Written,
    close_readers,
    hydrate,
    line_id,
    read_line,
    to_event,
)
from eqlite.scheduler.executor import RuleRun, data_stream_index, failed, index_matches, prepare
from eqlite.semantic.schema import Schema
from eqlite.semantic.types import INTEGER_TYPES, Family, coerce_number
from eqlite.sources.base import FileStats, Problem, SourceEvent, SourceStats
from eqlite.sources.ndjson import is_gzip, unwrap
from eqlite.syntax import ast

if TYPE_CHECKING:
    from eqlite.scheduler.parallel import Presplit

TRIGGER_MAX = 0.5  # past this share of sampled lines, a stage is tried on every event of its category
SAMPLE_LINES = 2000
FREE_COMBINATIONS_KEPT = 4096  # (index, category values) pairs whose free stages are kept ready
FREE_COMBINATIONS_COMPILED = 256  # of which the first get one generated function for all their free stages
# Runners of triggered stages, by (set of literals found, index), kept at once; the first may get a generated
# function, once used GENERATE_AFTER times (see StageRunner)
TRIGGERED_RUNNERS_KEPT = 4096
TRIGGERED_RUNNERS_COMPILED = 1024
GENERATE_AFTER = 64
# A stage tried on at least this share of sampled events gets its and/or operands in the order the
# sample says settles it soonest (see _order_by_sample), measured on at most ORDER_EVENTS of the sampled
# events it would be tried on (at least ORDER_MIN_EVENTS), ORDER_BUDGET operand tests in all.
ORDER_MIN_SHARE = 0.005
ORDER_EVENTS = 200
ORDER_MIN_EVENTS = 20
ORDER_BUDGET = 200_000
# A triggered stage that needs an integer field to equal given numbers gets a number check when, of the
# sampled lines it would be tried on (at least NUMBER_MIN_LINES), the lines without any of the numbers
# written in them are at least NUMBER_MIN_SPARED of them (see _number_checks).
NUMBER_MIN_LINES = 20
NUMBER_MIN_SPARED = 0.25
# A number is looked for as its digits with no other digit next to them but leading zeros: a JSON
# number or a numeric string holding 445 shows "445" so ("445.7", "+0445", "[80, 445]"), and 1445,
# 4450 and the 445 of a longer run of digits (an id, a time) do not count.
_NUMBER_BOUNDS = (rb"[^0-9]0*", rb"[^0-9]")
# Written otherwise, a number need not show its digits: a JSON escape in a string ("\u0034" is "4"), an
# exponent (4.45e2 is 445), or a fraction long enough to round to it (444.99999999999999 is 445.0).
# A line with any of these passes every number check. An exponent is looked for in a whole number
# token: from what opens a JSON value (or a string) to what ends one, so that hexadecimal text such as
# an IPv6 address (":30e7:") or a hash is not taken for one.
_NUMBER_ESCAPE = rb"\\u"
_NUMBER_EXPONENT = rb'[:\[,"]\s*[+-]?[0-9.]+[eE][+-]?[0-9]+\s*[,\]}"]'
# A category gets its own scanner (see FastExecution._plan_category_scanners) when at least this share of
# the sampled lines name it first, and the scanner would look for at most this share of the literals.
CATEGORY_SCAN_MIN_SHARE = 0.02
CATEGORY_SCAN_MAX_SHARE = 0.8
CATEGORY_SCAN_ALSO = 0.01  # a category value found in this share of a category's sampled lines is covered too
_CATEGORY_OPENING = b'"category":["'


def _sniffed_category(line: bytes) -> bytes | None:
    """The first value of the first ``"category":[...]`` of a line (as compact JSON writes it); None
    when there is none. Only a guess at the event's category: see FastExecution._plan_category_scanners.

    >>> _sniffed_category(b'{"event":{"category":["process","x"]}}'), _sniffed_category(b'{"category": "x"}')
    (b'process', None)
    """
    start = line.find(_CATEGORY_OPENING)
    if start < 0:
        return None
    start += len(_CATEGORY_OPENING)
    end = line.find(b'"', start)
    return line[start:end] if end >= 0 else None


def _number_pattern(digits: str) -> bytes:
    """The expression a line that holds the number ``digits`` (in a way that shows them) matches.

    >>> pattern = re.compile(_number_pattern("445"))
    >>> [bool(pattern.search(text)) for text in (b'"port": 445}', b'"+0445"', b':445.7,', b':1445,', b':4450,')]
    [True, True, True, False, False]
    """
    before, after = _NUMBER_BOUNDS
    return before + digits.encode() + after


def _written_otherwise(longest: int) -> list[bytes]:
    """The expressions of a line that may hold a number of up to ``longest`` digits without showing them:
    a JSON escape, an exponent, a fraction long enough to round to it (16 significant digits).

    >>> exponent = re.compile(_written_otherwise(3)[1])
    >>> [bool(exponent.search(text)) for text in (b'"a": 4.45e2}', b'["44.5E+1"]', b'"fe80::8fe4:30e7:44de"')]
    [True, True, False]
    """
    return [_NUMBER_ESCAPE, _NUMBER_EXPONENT, rb"[0-9]\.[0-9]{%d}" % max(1, 16 - longest)]


# gc.set_threshold for a run (see settle_for_run): a young collection per 50,000 net allocations
GC_THRESHOLDS = (50_000, 20, 20)

# Deferred notes held in memory at once, over all rules and note groups (16 bytes each): past this, the
# largest backlog is written to a temporary file (in a worker: evaluated; see Backlog and NoteGroup).
DEFER_LIMIT = 2_000_000

StageRef = tuple[int, int]  # (rule number, stage number)
STAGES_FOUND_KEPT = 8_192  # sets of literals found in lines whose triggered stages are kept (about 2 KB each)


class _Stages(dict[int, frozenset[int]]):
    """The stages a set of literals triggers, by rule; with their runners, by index (see _triggered_runner),
    and the notes of a line that holds them and needs nothing else (see FastExecution._notes_only).

    ``numbered`` are those of its stages that also need one of a few numbers in the line (see
    FastExecution._numbers_in), with the ids of those numbers; ``narrowed``, the stages left when
    some of them are not there, by the stages dropped; ``categories``, the category values found.
    """

    __slots__ = ("categories", "narrowed", "notes", "numbered", "runners")

    def __init__(self, stages: Mapping[int, frozenset[int]], notes: _Notes | None = None,
                 numbered: tuple[tuple[StageRef, frozenset[int]], ...] = (),
                 categories: frozenset[str] = frozenset()) -> None:
        super().__init__(stages)
        self.runners: dict[str | None, StageRunner] = {}
        self.notes = notes
        self.numbered = numbered
        self.categories = categories
        self.narrowed: dict[frozenset[StageRef], _Stages] = {}


_NO_STAGES = _Stages({})
_OBJECT_ENDS = (b"}\n", b"}\r\n", b"}")  # how a line shaped like a JSON object ends (see feed_line)


def _without(stages: Mapping[int, AbstractSet[int]], dropped: AbstractSet[StageRef]) -> dict[int, frozenset[int]]:
    """``stages`` (by rule) without the ``dropped`` ones; a rule left with none is left out."""
    left: dict[int, frozenset[int]] = {}
    for rule_number, numbers in stages.items():
        kept = frozenset(number for number in numbers if (rule_number, number) not in dropped)
        if kept:
            left[rule_number] = kept
    return left


def clauses(pred: ir.Pred, frequency: Any, textual: Any, keys: Any) -> list[Requirement]:
    """Literal requirements of each conjunct of ``pred`` (all must hold)."""
    if isinstance(pred, ir.And):
        found: list[Requirement] = []
        for operand in pred.operands:
            found.extend(clauses(operand, frequency, textual, keys))
        return found
    single = requirement(pred, frequency, textual, keys)
    return [] if single is None else [single]


def _bits(mask: int) -> Iterator[int]:
    """The numbers of the bits set in ``mask``, lowest first.

    >>> list(_bits(0b10110))
    [1, 2, 4]
    """
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _ordered_operands(pred: ir.Pred) -> list[ir.Pred]:
    """The operands of the ``and``s and ``or``s of ``pred`` that :func:`~eqlite.runtime.codegen.by_cost`
    orders, outside any ``not``: those of ``pred`` and of the ``and``s and ``or``s among them.

    >>> a, b, c = (ir.Term(name, ("x",)) for name in "abc")
    >>> _ordered_operands(ir.And((a, ir.Or((b, c))))) == [a, ir.Or((b, c)), b, c]
    True
    >>> _ordered_operands(ir.Not(ir.And((a, b))))
    []
    """
    found: list[ir.Pred] = []
    waiting = [pred]
    while waiting:
        node = waiting.pop(0)
        if isinstance(node, (ir.And, ir.Or)):
            found.extend(node.operands)
            waiting.extend(node.operands)
    return found


def _category_values(pred: ir.Pred, category_field: str) -> frozenset[str] | None:
    """The categories a stage requires (its top-level category term), if any."""
    operands = pred.operands if isinstance(pred, ir.And) else (pred,)
    for operand in operands:
        if isinstance(operand, ir.Term) and operand.field == category_field and not operand.insensitive:
            values = [value.value for value in operand.values if isinstance(value.value, str)]  # type: ignore[attr-defined]
            if len(values) == len(operand.values):
                return frozenset(values)
    return None


_STAGE_SHIFT = 40  # a deferred entry is position | stage bits << 40 (positions below 2**40)
_POSITIONS = (1 << _STAGE_SHIFT) - 1
# A line a check spares a stage is worth this many literals found by the scan (see _build_index). Counted
# in instructions over 25,000 generated events with every rule (bench_instructions.py): 1 and 2.5 keep
# too few checks (+0.8%, -1.4% against keeping every check that narrows by 10%), 4 gives -3.9%, 8 and
# 16 keep too many (-3.3%, -3.0%).
CHECK_WORTH = 4.0
NOTED_POSITIONS = 1 << _STAGE_SHIFT  # lines at later positions (past a terabyte of input) are never deferred
DEFERRABLE_STAGES = 23  # stage bits must fit in the 63 bits left of a signed 64-bit entry


@dataclass(slots=True)
class Backlog:
    """Lines where deferred stages of one sequence rule would be tried, kept to be evaluated if ever needed
    (or of several rules: see NoteGroup).

    A sequence matches only if each of its stages (other than missing-event and ``until`` stages)
    matches some event. Until a rule's most selective stage has matched, its broader stages (a
    network connection of any process, say) and its missing-event stages are not evaluated: the
    line's place is noted here instead, 16 bytes. The first time the selective stage matches, the
    noted lines are read again and evaluated, and the rule goes on as any other; if it never
    matches, the rule has no results and the notes are dropped. The input's order plays no part.
    Notes past the execution's memory limit for them are written to a temporary file (:meth:`spill`).
    """

    entries_: array[int] = field(default_factory=lambda: array("q"))  # position | stage bits << 40
    offsets: array[int] = field(default_factory=lambda: array("q"))
    # (first entry, path, index, position - line number) from that entry on
    segments: list[tuple[int, str, str | None, int]] = field(default_factory=list)
    # notes written out, in order: (file, where, how many, their segments)
    spilled: list[tuple[IO[bytes], int, int, list[tuple[int, str, str | None, int]]]] = field(default_factory=list)
    # the (path, index, position - line number) that :meth:`note` last started a segment for
    noted_in: tuple[str, str | None, int] | None = None

    def __len__(self) -> int:
        """The notes held in memory."""
        return len(self.entries_)

    def spill(self, file: IO[bytes]) -> None:
        """Write the notes held in memory to the end of ``file``, and forget them here."""
        if not self.entries_:
            return
        where = file.seek(0, os.SEEK_END)
        file.write(self.entries_.tobytes())
        file.write(self.offsets.tobytes())
        self.spilled.append((file, where, len(self.entries_), self.segments))
        self.entries_, self.offsets, self.segments = array("q"), array("q"), []
        self.noted_in = None

    def add(self, position: int, line: int, offset: int, path: str, index: str | None, stages: int) -> None:
        """Note the line at ``position`` (line number ``line``, byte ``offset`` of ``path``) for ``stages``."""
        self.note(position | stages << _STAGE_SHIFT, offset, (path, index, position - line))

    def note(self, entry: int, offset: int, where: tuple[str, str | None, int]) -> None:
        """:meth:`add` for the feed's hot path: ``entry`` is ``position | stages << 40``, and ``where``
        is (path, index, position - line), best the same object for as long as it does not change."""
        if where is not self.noted_in:
            path, index, delta = where
            segments = self.segments
            if not segments or segments[-1][1:] != where:
                segments.append((len(self.entries_), path, index, delta))
            self.noted_in = where
        self.entries_.append(entry)
        self.offsets.append(offset)

    def extend(self, other: Backlog) -> None:
        """Add the notes of ``other`` (held in memory: a worker's) after these."""
        self.noted_in = None
        start = len(self.entries_)
        self.segments.extend((first + start, path, index, delta) for first, path, index, delta in other.segments)
        self.entries_.extend(other.entries_)
        self.offsets.extend(other.offsets)

    def entries(self) -> Iterator[tuple[int, int, int, str, str | None, int]]:
        """(position, line, offset, path, index, stage bits) of each noted line, in the order noted."""
        for file, where, count, segments in self.spilled:
            file.seek(where)
            packed, offsets = array("q"), array("q")
            packed.frombytes(file.read(8 * count))
            offsets.frombytes(file.read(8 * count))
            yield from self._entries(packed, offsets, segments)
        yield from self._entries(self.entries_, self.offsets, self.segments)

    @staticmethod
    def _entries(packed: array[int], offsets: array[int], segments: list[tuple[int, str, str | None, int]],
                 ) -> Iterator[tuple[int, int, int, str, str | None, int]]:
        bounds = [first for first, _, _, _ in segments[1:]] + [len(packed)] if segments else []
        for (first, path, index, delta), end in zip(segments, bounds, strict=True):
            for entry in range(first, end):
                position = packed[entry] & _POSITIONS
                yield position, position - delta, offsets[entry], path, index, packed[entry] >> _STAGE_SHIFT


@dataclass(slots=True, eq=False)
class NoteGroup:
    """The lines noted for the same deferred stages of the same rules: one note a line for all of them.

    Most lines noted are noted for several rules at once (4.4 on average over the generated data),
    always the same rules for lines alike. Each rule keeps the groups it is in, with its stage bits
    (``_FastRule.shared``); reading a rule's notes reads its own backlog and its groups'. A group's
    notes are dropped when the last of its rules has read them (``holders``) or the run ends.
    """

    members: tuple[tuple[int, int], ...]  # (rule number, stage bits)
    backlog: Backlog = field(default_factory=Backlog)  # entries: positions (no stage bits)
    holders: int = 0  # member rules that have not read it yet


class _Notes:
    """What a line is noted for when noted as a whole (see FastExecution._note): (rule, stage bits) pairs,
    and the group they are noted in (made when first used, and again in each worker range)."""

    __slots__ = ("generation", "group", "key", "members")

    def __init__(self, members: Sequence[tuple[_FastRule, int]]) -> None:
        self.members = list(members)
        self.key = tuple((rule.number, bits) for rule, bits in members)
        self.group: NoteGroup | None = None
        self.generation = -1

    def __len__(self) -> int:
        return len(self.members)


@dataclass(slots=True)
class _FastRule:
    number: int
    run: RuleRun
    compiled: CompiledQuery
    bound: SchemaBound
    timeline: Timeline
    category_field: str
    never: set[int] = field(default_factory=set)
    missing_stages: frozenset[int] = frozenset()
    candidates: CandidateStore = field(default_factory=CandidateStore)  # (given the execution's budget)
    missing: dict[int, dict[Any, array[int]]] = field(default_factory=dict)
    stats: SearchStats = field(default_factory=SearchStats)
    # what makes an event's time and order for this rule: events share them across rules
    time_config: tuple[str, str | None, bool] = ("@timestamp", None, False)
    generator: SourceCompiler | None = None
    # A sequence's most selective stage, while its other triggered stages are deferred (see Backlog).
    eager_stage: int = -1
    deferred_stages: frozenset[int] = frozenset()
    deferring: bool = False
    backlog: Backlog = field(default_factory=Backlog)
    shared: list[tuple[NoteGroup, int]] = field(default_factory=list)  # groups of its notes, and its stage bits
    settled: bool = False  # its deferred lines were read again once: this process no longer defers them


@dataclass(slots=True)
class WorkerResult:
    """What a worker process found in its byte range (see :mod:`eqlite.scheduler.parallel`)."""

    candidates: list[tuple[list[Written], int]]  # per rule: sorted runs in the worker's spill file, count
    missing: list[dict[int, dict[Any, array[int]]]]
    without_timestamp: list[int]
    script_errors: list[tuple[int, str]]
    stats: FastStats
    events_without_index: int
    problems: list[Problem]
    # per rule: the lines it still defers, its own and in groups; None when it defers none
    backlogs: list[tuple[Backlog, list[tuple[NoteGroup, int]]] | None]
    files: list[FileStats]  # the counts of the files it read (records, events, errors and warnings)


@dataclass(slots=True)
class FastStats:
    lines: int = 0
    skipped: int = 0
    parsed: int = 0
    evaluated_stages: int = 0
    scanner: str = ""
    triggered_stages: int = 0
    free_stages: int = 0
    deferring_rules: int = 0  # sequence rules whose broad stages wait for their selective one (see Backlog)
    deferred: int = 0  # (rule, line) pairs noted rather than evaluated
    ordered_stages: int = 0  # stages whose operands are tried in the order the sample says (see _order_by_sample)
    number_checks: int = 0  # triggered stages that also need a number in the line (see _number_checks)
    category_scanners: int = 0  # categories whose lines are scanned for fewer literals (see _plan_category_scanners)
    noted_only: int = 0  # lines noted without being parsed: every stage that could apply to them deferred
    read_again: int = 0  # of which, read again and evaluated


_RUNNER_NUMBERS = itertools.count()
MERGED_KEPT = 16  # free runners whose notes a triggered runner keeps put together with its own


@dataclass(frozen=True, slots=True)
class Noting:
    """The deferred stages of an event, by rule, ready to be noted (see Backlog)."""

    deferred: list[tuple[int, int]]  # (rule number, stage bits)
    notes: _Notes
    rules: frozenset[int]

    @staticmethod
    def of(deferred: Mapping[int, int], rules: Sequence[_FastRule]) -> Noting:
        return Noting(list(deferred.items()),
                      _Notes([(rules[rule_number], bits) for rule_number, bits in deferred.items()]),
                      frozenset(deferred))


class StageRunner:
    """Tries a fixed list of stages on an event view: ``run(view)`` gives the (rule, stage) pairs that hold.

    Used for the free stages of an event's categories, and for the stages a set of literals triggers.

    The stages are first tried one by one. A runner used GENERATE_AFTER times (and allowed to, by
    ``generate``) then puts their generated expressions together in one generated function: one call
    per event rather than one per stage, for the runners that most events meet, without the cost of
    compiling one (about a millisecond) for the many that few events meet.
    """

    __slots__ = ("_namespace", "_pairs", "_rules", "_uses", "merged", "noting", "run", "size")

    def __init__(self, refs: Sequence[StageRef], rules: Sequence[_FastRule], namespace: dict[str, Any],
                 generate: bool = True) -> None:
        # The stages of rules that defer them (see Backlog) are not tried: (rule, stage bits) instead.
        deferred: dict[int, int] = {}
        tried: list[StageRef] = []
        for rule_number, stage in refs:
            rule = rules[rule_number]
            if rule.deferring and stage in rule.deferred_stages:
                deferred[rule_number] = deferred.get(rule_number, 0) | 1 << stage
            else:
                tried.append((rule_number, stage))
        self.noting = Noting.of(deferred, rules) if deferred else None
        # a triggered runner's notes put together with those of free runners (see FastExecution._noting)
        self.merged: dict[StageRunner, Noting] = {}
        self.size = len(tried)
        self._pairs = [(ref, rules[ref[0]].bound.filters[ref[1]]) for ref in tried]
        self._rules, self._namespace = rules, namespace
        self._uses = 0
        self.run: Callable[[EventView], list[StageRef]] = self._counted if generate else self._one_by_one

    def _one_by_one(self, view: EventView) -> list[StageRef]:
        return [ref for ref, test in self._pairs if test(view)]

    def _counted(self, view: EventView) -> list[StageRef]:
        self._uses += 1
        if self._uses >= GENERATE_AFTER:
            self.run = self._generated()
        return self._one_by_one(view)

    def _generated(self) -> Callable[[EventView], list[StageRef]]:
        # The function reads the stages' constants from the shared namespace; its own (the refs, and
        # the tests without an expression) are closure variables, so nothing is left in the namespace
        # when the runner is dropped.
        name = f"_stages_{next(_RUNNER_NUMBERS)}"
        lines = [f"def {name}_make(_refs, _tests):", f"    def {name}(view):", "        _c = view.cache",
                 "        found = []"]
        for number, (ref, test) in enumerate(self._pairs):
            generator = self._rules[ref[0]].generator
            expression = generator.expression_of(test) if generator is not None else None
            if expression is None:
                expression = f"_tests[{number}](view)"
            lines.append(f"        if {expression}:\n            found.append(_refs[{number}])")
        lines += ["        return found", f"    return {name}"]
        exec(compile("\n".join(lines) + "\n", f"<eqlite stages {name}>", "exec"), self._namespace)
        made: Callable[[EventView], list[StageRef]] = self._namespace.pop(f"{name}_make")(
            tuple(ref for ref, _ in self._pairs), tuple(test for _, test in self._pairs))
        return made


class FastExecution:
    """Rules over NDJSON lines (and parsed events), with a literal prefilter and shared field reads.

    Args:
        rules: the rules; unsupported or invalid ones are reported as in :class:`Execution`.
        schema: field types.
        sample: raw lines from the start of the input, to estimate how common each literal is.
    """

    def __init__(self, rules: Sequence[Rule], schema: Schema | None, sample: Sequence[bytes] = ()) -> None:
        with collector_paused():
            self._build(rules, schema, sample)

    def _build(self, rules: Sequence[Rule], schema: Schema | None, sample: Sequence[bytes]) -> None:
        # The reference filters of each query are compiled only if used (the fast path compiles its own).
        self.runs = [prepare(rule, schema, bind=False) for rule in rules]
        self.schema = schema
        self.stats = FastStats()
        self.problems = SourceStats()
        self.events_without_index = 0
        self.budget = Budget()
        self.spill_folders: list[str] = []  # worker spill files (see eqlite.scheduler.parallel)
        self._readers: dict[str, IO[bytes]] = {}
        self._rules: list[_FastRule] = []
        self._namespace: dict[str, Any] = {}  # of every generated predicate, so that they can be combined
        for run_number, rule_run in enumerate(self.runs):
            if rule_run.status != "ok" or rule_run.compiled is None:
                continue
            compiled = rule_run.compiled
            readers = CachingReaders(schema)
            generator = SourceCompiler(readers, compiled.script_errors, self._namespace, f"r{len(self._rules)}_")
            try:
                bound = SchemaBound(compiled.plan, compiled._stages, schema, compiled.script_errors,
                                    compiled.kind == "sample", readers, generator.predicate)
            except QueryError as error:  # what compiling the reference filters would have raised
                self.runs[run_number] = failed(rule_run.rule, error)
                continue
            rule_run.run = None  # the fast path keeps its own candidates
            options = compiled.options
            timeline = Timeline(schema, options.timestamp_field, options.tiebreaker_field,
                                require_timestamp=compiled.kind != "sample")
            missing = frozenset(number for number, stage in enumerate(compiled._stages) if stage.missing)
            self._rules.append(_FastRule(len(self._rules), rule_run, compiled, bound, timeline,
                                         options.event_category_field, missing_stages=missing,
                                         candidates=CandidateStore(self.budget),
                                         missing={number: {} for number in missing},
                                         time_config=(options.timestamp_field, options.tiebreaker_field,
                                                      compiled.kind == "sample"),
                                         generator=generator))
        self._visible: dict[str | None, frozenset[int]] = {}
        # by index and the event's categories (one field's values, or each category field's)
        self._free_runners: dict[tuple[str | None, tuple[Any, ...]], StageRunner] = {}
        self._every: dict[int, set[int]] | None = None
        # the stages each set of literals found in a line triggers (see _triggered)
        self._stages_found: dict[frozenset[int], _Stages] = {}
        self._triggered_runners = 0  # runners kept in the values of _stages_found
        self._position = 0
        self._deferred_total = 0  # notes held in memory
        self._noted_in: tuple[str, str | None, int] | None = None  # where the last note was (see Backlog.note)
        self._backlog_readers: dict[str, IO[bytes]] = {}
        self._backlog_file: IO[bytes] | None = None  # notes written out (not in workers: see start_worker)
        self._spills_backlogs = True
        # note groups (see NoteGroup): by (rule, stage bits) pairs, those still held, and the worker range
        # they were made in (the groups of _Notes made before are made again)
        self._groups: dict[tuple[tuple[int, int], ...], NoteGroup] = {}
        self._live_groups: set[NoteGroup] = set()
        self._generation = 0
        self._build_index(sample)

    # ------------------------------------------------------------ the rule index

    def _textual(self, name: str) -> bool:
        info = self.schema.field(name) if self.schema is not None else None
        # (a constant_keyword has its value on events that do not hold it)
        return info is None or (info.family in (Family.KEYWORD, Family.TEXT) and info.null_value is None
                                and info.constant_value is None)

    def _keys(self, name: str) -> tuple[str, ...]:
        """The key literals a line holds when field ``name`` has a value in it (see :func:`key_literals`)."""
        if self.schema is None:
            return key_literals(name)
        info = self.schema.field(name)
        if info is not None and (info.constant_value is not None or info.parent is not None):
            return ()  # a constant_keyword has its value everywhere; a multi-field is not in _source
        # (an object's last part may start a dotted key, "parent.name", rather than end one)
        return key_literals(self.schema.resolve(name), container=info is not None and info.is_container)

    def _checked_categories(self, categories: frozenset[str] | None, category_field: str) -> frozenset[str] | None:
        """The ``categories`` of a stage's category term that a triggered stage also needs one of in the line,
        as whole values (see _build_index); None when it needs none: no term, or one the scan cannot tell."""
        if not categories or not self._textual(category_field) or any(
                quoted_value(value) is None for value in categories):
            return None
        return categories

    def _build_index(self, sample: Sequence[bytes]) -> None:
        stage_refs = [(rule.number, number) for rule in self._rules for number in range(len(rule.compiled._stages))]
        filters = {ref: self._rules[ref[0]].compiled._stages[ref[1]].filter for ref in stage_refs}
        # Which sampled lines hold each candidate literal, as bit sets: clause frequencies, and
        # how often clauses hold together, come out exact for the sample.
        candidates = sorted({literal for pred in filters.values() for literal in candidate_literals(pred, self._keys)})
        masks = dict.fromkeys(candidates, 0)
        if sample and candidates:
            scanner = LiteralScanner(candidates)
            for line_number, line in enumerate(sample):
                bit = 1 << line_number
                for number in scanner.scan(line):
                    masks[candidates[number]] |= bit
        lines = len(sample)
        frequency = (lambda literal: (masks.get(literal, 0).bit_count() + 0.5) / lines) if lines else None
        everything = (1 << lines) - 1
        category_share, category_lines, sources = self._category_shares(sample)

        def clause_mask(clause: Requirement) -> int:
            mask = 0
            for literal in clause.literals:
                mask |= masks.get(literal, everything)
            return mask if lines else everything

        self._free: dict[tuple[str, str] | None, list[StageRef]] = defaultdict(list)
        chosen: dict[str, int] = {}

        def literal_id(literal: str) -> int:
            return chosen.setdefault(literal, len(chosen))

        planned_checks: list[tuple[StageRef, Requirement, list[tuple[Requirement, float]]]] = []
        shares: dict[StageRef, float] = {}  # the share of sampled events each stage is tried on
        tried_on: dict[StageRef, int] = {}  # and which sampled lines, as a bit set
        # A triggered stage of known categories also needs one of their values in the line, whole (see
        # quoted_value): a trigger such as a process name is found in lines of every category, and those
        # of other categories are then neither parsed nor tried for the stage.
        stage_categories: dict[StageRef, frozenset[str]] = {}
        for ref, pred in filters.items():
            rule = self._rules[ref[0]]
            if isinstance(pred, ir.MatchNone):
                rule.never.add(ref[1])
                continue
            found = clauses(pred, frequency, self._textual, self._keys)
            if any(not clause.literals for clause in found):
                rule.never.add(ref[1])  # a clause that can never hold
                continue
            ordered = sorted(found, key=lambda clause: (clause_mask(clause).bit_count(), clause.cost(
                frequency or (lambda literal: 1.0 / len(literal)))))
            # How often the stage would be tried: when its clauses all hold and the line has one of its
            # categories (triggered: see _checked_categories), or on every event of its categories
            # (free). Take the cheaper.
            categories = _category_values(pred, rule.category_field)
            free_lines = everything  # the sampled lines of the stage's categories
            if categories is not None:
                free_lines = 0
                for value in categories:
                    free_lines |= category_lines.get((rule.category_field, value), 0)
            checked = self._checked_categories(categories, rule.category_field)
            together = free_lines if checked is not None else everything
            for clause in ordered:
                together &= clause_mask(clause)
            triggered_share = together.bit_count() / lines if lines else 0.0
            free_share = (sum(category_share.get((rule.category_field, c), 0.0) for c in categories)
                          if categories is not None and lines else 1.0)
            shares[ref] = min(triggered_share, free_share) if ordered else free_share
            if ordered and triggered_share <= TRIGGER_MAX and (triggered_share <= free_share or not lines):
                tried_on[ref] = together
                # Keep only the checks that cut the candidates noticeably: every literal costs scan time.
                current, kept = clause_mask(ordered[0]), []
                for clause in ordered[1:]:
                    narrowed = current & clause_mask(clause)
                    if not lines or narrowed.bit_count() < 0.9 * current.bit_count():
                        kept.append((clause, (current.bit_count() - narrowed.bit_count()) / lines if lines else 1.0))
                        current = narrowed
                planned_checks.append((ref, ordered[0], kept))
                if checked is not None:
                    stage_categories[ref] = checked
                self.stats.triggered_stages += 1
            else:
                tried_on[ref] = free_lines
                for category in categories or (None,):
                    self._free[(rule.category_field, category) if category else None].append(ref)
                self.stats.free_stages += 1
        # Each literal found in a line costs the scan a Python callback. A check is kept when the share
        # of lines it spares a stage, times CHECK_WORTH, outweighs the share of lines its literals (those
        # not scanned for anyway) are found in.
        looked_for = {text for _, trigger, _ in planned_checks for text in trigger.literals}
        planned: list[tuple[StageRef, Requirement, list[Requirement]]] = []
        for ref, trigger, possible in planned_checks:
            kept_checks = []
            for clause, spared in possible:
                cost = sum(frequency(text) for text in clause.literals if text not in looked_for) if frequency else 0.0
                if spared * CHECK_WORTH >= cost:
                    kept_checks.append(clause)
                    looked_for.update(clause.literals)
            planned.append((ref, trigger, kept_checks))
        # Trigger literals take the low ids: their bits are the ones most often set. Ids follow the order
        # of the rules and of each set's sorted literals, never a set's (hash-seeded) order: the same
        # rules and sample give the same scanners in every process, which the cache then finds.
        for _, trigger, _ in planned:
            for text in sorted(trigger.literals):
                literal_id(text)
        trigger_count = len(chosen)
        checks_of = {ref: tuple(frozenset(literal_id(text) for text in sorted(clause.literals)) for clause in rest)
                     for ref, _, rest in planned}
        self._literals = sorted(chosen, key=chosen.__getitem__)
        # The category values the scan tells a line holds or not, each by its own pattern (ids past the
        # literals'; a literal written the same way is found in keys too): those of triggered stages, and
        # those of free stages (see _notes_only).
        wanted = {key[1] for key in self._free if key is not None}
        wanted.update(value for categories in stage_categories.values() for value in categories)
        scanned = sorted((value, written) for value in wanted if (written := quoted_value(value)) is not None)
        patterns = [written for _, written in scanned]
        value_id = {value: len(self._literals) + number for number, (value, _) in enumerate(scanned)}
        self._value_ids: dict[int, str] = {number: value for value, number in value_id.items()}
        # By trigger literal id: the stages it triggers, as (rule, stage, further clauses: each the ids
        # of literals, or of category values, one of which the line must hold).
        triggers: list[list[tuple[int, int, tuple[frozenset[int], ...]]]] = [[] for _ in range(trigger_count)]
        for ref, trigger, _ in planned:
            checks = checks_of[ref]
            if ref in stage_categories:
                checks += (frozenset(value_id[value] for value in stage_categories[ref]),)
            for text in sorted(trigger.literals):
                triggers[chosen[text]].append((ref[0], ref[1], checks))
        self._values = frozenset(self._value_ids.values())  # the values the scan tells
        # check literals (ids past the triggers') and values trigger nothing
        self._triggers = [tuple(stages) for stages in triggers] + [()] * (
            len(self._literals) - trigger_count + len(patterns))
        self._number_checks([ref for ref, _, _ in planned], filters, shares, tried_on, sample)
        if lines:
            self._plan_deferral(shares)
            self._order_by_sample(shares, tried_on, sources)
        self._scanner = LiteralScanner(self._literals, patterns)
        self._plan_category_scanners(
            [(frozenset(chosen[text] for text in trigger.literals).union(*checks_of[ref]), stage_categories.get(ref))
             for ref, trigger, _ in planned], patterns, sample)
        self._trigger_count = trigger_count
        self._trigger_scanner: LiteralScanner | None = None  # for block scans (see trigger_ends), when first needed
        self.stats.scanner = self._scanner.engine
        self._category_readers: dict[str, Callable[[Any], tuple[Any, ...]]] = {
            category_field: CachingReaders(self.schema)(category_field)
            for category_field, _ in (key for key in self._free if key is not None)
        }
        self._category_reader = (next(iter(self._category_readers.values()))
                                 if len(self._category_readers) == 1 else None)

    def _plan_category_scanners(self, needs: Sequence[tuple[frozenset[int], frozenset[str] | None]],
                                patterns: Sequence[str], sample: Sequence[bytes]) -> None:
        """Scanners for the lines of one category, each looking only for the literals of the stages that
        may apply to such a line: those that need one of a few category values (see _checked_categories)
        and those that need none. ``needs`` gives each triggered stage's literal ids (its trigger's and
        its checks') and its checked categories.

        A line is given the scanner of the category its first ``"category":["...`` names (a guess,
        :func:`_sniffed_category`), which also looks for every category value; when it finds a value
        the scanner does not cover, the line is scanned again for every literal. So a stage left out of
        a scanner is never missed: it needs one of its categories' values in the line, and none is
        there. A scanner covers its category's value and those found in at least CATEGORY_SCAN_ALSO of
        the sampled lines of the category (a DNS event is a network event whose protocol is ``"dns"``),
        so that few lines are scanned twice. A network line is then not scanned for the process names,
        paths and arguments of the process rules, and their callbacks are spared.
        """
        # by the category's value as a line writes it: the scanner, and the ids of the values it does not cover
        self._category_scanners: dict[bytes | None, tuple[LiteralScanner, frozenset[int]]] = {}
        name_of = self._value_ids  # the category values the scan tells, by id
        if not hyperscan_installed() or not sample or not name_of:
            return
        by_category: dict[bytes | None, list[bytes]] = defaultdict(list)
        for line in sample:
            by_category[_sniffed_category(line)].append(line)
        value_ids = sorted(name_of)
        for value in sorted(name_of.values()):
            lines = by_category.get(value.encode(), [])
            if len(lines) < CATEGORY_SCAN_MIN_SHARE * len(sample):
                continue
            seen = Counter(found for line in lines for found in self._scanner.scan(line) if found in name_of)
            covered = {value} | {name_of[found] for found, count in seen.items()
                                 if count >= CATEGORY_SCAN_ALSO * len(lines)}
            ids: set[int] = set()
            for literal_ids, categories in needs:
                if categories is None or not covered.isdisjoint(categories):
                    ids.update(literal_ids)
            if len(ids) > CATEGORY_SCAN_MAX_SHARE * len(self._literals):
                continue
            scanner = LiteralScanner(self._literals, patterns, only=sorted(ids) + value_ids)
            self._category_scanners[value.encode()] = (
                scanner, frozenset(found for found in name_of if name_of[found] not in covered))
        self.stats.category_scanners = len(self._category_scanners)

    def _plan_deferral(self, shares: Mapping[StageRef, float]) -> None:
        """Choose, for each sequence rule, the stage to evaluate first and the stages to defer (see Backlog)."""
        for rule in self._rules:
            body = rule.compiled.plan.body
            if not isinstance(body, SequencePlan) or len(body.stages) > DEFERRABLE_STAGES:
                continue
            if any(number in rule.never for number, stage in enumerate(body.stages) if not stage.missing):
                continue  # no event can match one of its stages: it defers nothing, it never matches
            needed = [number for number, stage in enumerate(body.stages) if not stage.missing]
            if not needed:
                continue
            eager = min(needed, key=lambda number: shares.get((rule.number, number), 1.0))
            least = shares.get((rule.number, eager), 1.0)
            deferred = frozenset(
                number for number, stage in enumerate(body.stages)
                if number != eager and (stage.missing or shares.get((rule.number, number), 0.0) > least))
            if deferred:
                rule.eager_stage, rule.deferred_stages, rule.deferring = eager, deferred, True
                self.stats.deferring_rules += 1

    def _order_by_sample(self, shares: Mapping[StageRef, float], tried_on: Mapping[StageRef, int],
                         sources: Sequence[dict[str, Any] | None]) -> None:
        """Generate again the stages tried on many events, with the operands of their ``and``s and ``or``s
        (those not under a ``not``) in the order that settles them soonest on the sampled events each
        would be tried on.

        The static guess (:func:`~eqlite.runtime.codegen.chance`) has ``not process.name : ("*.exe",
        ...)`` usually true and ``host.os.type == "windows"`` usually false; Windows process events say
        otherwise. Each operand is tried on those events (the reference compiler's closure, its script
        errors counted apart from the rule's), and its share of them stands for its chance. The order
        changes how soon a test short-circuits, never its answer (see
        :func:`~eqlite.runtime.codegen.by_cost`).
        """
        budget = ORDER_BUDGET
        for ref in sorted(shares, key=lambda ref: (-shares[ref], ref)):
            if shares[ref] < ORDER_MIN_SHARE or budget <= 0:
                break
            rule = self._rules[ref[0]]
            if rule.generator is None or ref[1] in rule.never:
                continue
            views = list[EventView]()
            for line_number in _bits(tried_on.get(ref, 0)):
                source = sources[line_number]
                if source is not None:
                    views.append(EventView(source))
                    if len(views) >= ORDER_EVENTS:
                        break
            pred = rule.compiled._stages[ref[1]].filter
            operands = _ordered_operands(pred)
            if len(views) < ORDER_MIN_EVENTS or len(operands) < 2:
                continue
            compiler = Compiler(rule.generator.readers, ScriptErrors())
            measured: dict[int, float] = {}
            try:
                tests = [compiler.predicate(operand) for operand in operands]
            except QueryError:  # (the stage compiled whole: not expected of its parts, but never fatal)
                continue
            for operand, test in zip(operands, tests, strict=True):
                held = sum(1 for view in views if test(view))
                measured[id(operand)] = (held + 0.5) / (len(views) + 1)
            budget -= len(operands) * len(views)
            rule.bound.filters[ref[1]] = rule.generator.predicate(pred, measured)
            self.stats.ordered_stages += 1

    def _category_shares(self, sample: Sequence[bytes]) -> tuple[
            dict[tuple[str, str], float], dict[tuple[str, str], int], list[dict[str, Any] | None]]:
        """Share of sampled events in each category, for each category field the rules use; which
        sampled lines are in it, as a bit set (bit n: line n); and each sampled line's ``_source``
        (None for a line that is not a JSON object)."""
        fields = {rule.category_field for rule in self._rules}
        readers: dict[str, Callable[[Any], tuple[Any, ...]]] = {
            name: CachingReaders(self.schema)(name) for name in fields}
        counts: dict[tuple[str, str], int] = defaultdict(int)
        lines: dict[tuple[str, str], int] = defaultdict(int)
        parsed = 0
        sources: list[dict[str, Any] | None] = []
        for line_number, line in enumerate(sample):
            sources.append(None)
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(document, dict):
                continue
            parsed += 1
            source = sources[-1] = unwrap(document, None)[0]
            view = EventView(source)
            for name, read in readers.items():
                for value in set(read(view)):
                    if isinstance(value, str):
                        counts[(name, value)] += 1
                        lines[(name, value)] |= 1 << line_number
        return ({key: count / parsed for key, count in counts.items()} if parsed else {}), lines, sources

    # ------------------------------------------------------------ feeding

    def _visible_rules(self, index: str | None) -> frozenset[int]:
        visible = self._visible.get(index)
        if visible is None:
            visible = self._visible[index] = frozenset(
                rule.number for rule in self._rules
                if index is None or not rule.run.patterns or index_matches(rule.run.patterns, index))
        return visible

    def _triggered(self, line: bytes) -> _Stages:
        """The stages, by rule, whose literals the line holds (shared: never to be changed by the caller)."""
        if not self._literals and not self._values:
            return _NO_STAGES
        chosen = self._category_scanners.get(_sniffed_category(line)) if self._category_scanners else None
        if chosen is None:
            found = self._scanner.scan(line)
        else:
            found = chosen[0].scan(line)
            if not found.isdisjoint(chosen[1]):
                found = self._scanner.scan(line)  # another category's value is there (see _plan_category_scanners)
        # Lines hold few distinct sets of literals (390 over 30,000 generated lines): each set's stages
        # are worked out once.
        cached = self._stages_found.get(found)
        if cached is not None:
            return cached
        stages: dict[int, set[int]] = {}
        triggers = self._triggers
        for literal in found:
            for rule_number, stage_number, checks in triggers[literal]:
                for check in checks:
                    if check.isdisjoint(found):
                        break
                else:
                    stages.setdefault(rule_number, set()).add(stage_number)
        if len(self._stages_found) >= STAGES_FOUND_KEPT:
            self._stages_found.clear()
            self._triggered_runners = 0
        triggered = {rule: frozenset(numbers) for rule, numbers in stages.items()}
        value_ids = self._value_ids
        values = frozenset(value_ids[number] for number in found if number in value_ids)
        number_ids = self._number_ids
        numbered = tuple(((rule, number), number_ids[(rule, number)]) for rule, numbers in triggered.items()
                         for number in numbers if (rule, number) in number_ids) if number_ids else ()
        notes = self._notes_only(triggered, values)
        if numbered and (notes is not None or self._notes_only(_without(triggered, {ref for ref, _ in numbered}),
                                                               values) is None):
            # The numbers cannot spare the line its parsing (it is noted anyway, or parsed even without
            # the numbered stages): not worth their scan, which costs more than a note.
            numbered = ()
        result = self._stages_found[found] = _Stages(triggered, notes, numbered, values)
        return result

    def _numbers_in(self, raw: bytes, stages: _Stages) -> _Stages:
        """``stages`` without those whose number check ``raw`` fails (see _number_checks)."""
        assert self._number_scanner is not None
        found = self._number_scanner.scan(raw)
        if not found.isdisjoint(self._number_anyhow):
            return stages  # a number written so that its digits may not show
        dropped = frozenset(ref for ref, ids in stages.numbered if ids.isdisjoint(found))
        if not dropped:
            return stages
        narrowed = stages.narrowed.get(dropped)
        if narrowed is None:
            left = _without(stages, dropped)
            narrowed = stages.narrowed[dropped] = _Stages(left, self._notes_only(left, stages.categories), (),
                                                          stages.categories)
        return narrowed

    def _number_checks(self, triggered: Sequence[StageRef], filters: Mapping[StageRef, ir.Pred],
                       shares: dict[StageRef, float], tried_on: dict[StageRef, int], sample: Sequence[bytes]) -> None:
        """Give a triggered stage that needs an integer field to equal one of some numbers (a term among
        its top-level conjuncts: ``destination.port == 445``) a check that the line holds one of them.

        A number is looked for by its digits (see _NUMBER_BOUNDS); and a line that may hold one written
        otherwise (see _written_otherwise) passes. Integer fields index a string's number and a fraction's integer part
        (``"445"``, ``445.9``, ``"+0445"`` are 445), all of which show the digits. Only for fields whose
        value is what the line holds (no ``null_value``, not a runtime field). A literal prefilter cannot
        do this: short numbers are found in most lines (times, ids), so a scan for them would cost every
        line a callback; this scan runs only on the lines that trigger such a stage, and only when the
        sample says it spares enough of them (NUMBER_MIN_SPARED). A stage given a check is then tried on
        fewer of the sampled lines: its ``shares`` and ``tried_on`` say so (which stage of a sequence to
        evaluate first depends on them).
        """
        self._number_ids: dict[StageRef, frozenset[int]] = {}
        self._number_scanner: LiteralScanner | None = None
        self._number_anyhow: frozenset[int] = frozenset()
        if self.schema is None or not hyperscan_installed() or not sample:
            return
        digits_of: dict[str, int] = {}
        chosen: dict[StageRef, tuple[str, ...]] = {}
        for ref in triggered:
            lines = [(number, sample[number]) for number in _bits(tried_on.get(ref, 0))]
            if len(lines) < NUMBER_MIN_LINES:
                continue
            best: tuple[int, tuple[str, ...], int] | None = None
            for numbers in self._needed_numbers(filters[ref]):
                shown = re.compile(b"|".join([_number_pattern(text) for text in numbers]
                                             + _written_otherwise(max(map(len, numbers)))))
                holding = 0  # the lines that pass, as a bit set
                for number, line in lines:
                    if shown.search(line) is not None:
                        holding |= 1 << number
                if best is None or holding.bit_count() < best[0]:
                    best = (holding.bit_count(), numbers, holding)
            if best is not None and len(lines) - best[0] >= NUMBER_MIN_SPARED * len(lines):
                chosen[ref] = best[1]
                tried_on[ref] = best[2]
                shares[ref] = best[0] / len(sample)
                for text in best[1]:
                    digits_of.setdefault(text, len(digits_of))
        if not chosen:
            return
        digits = sorted(digits_of, key=digits_of.__getitem__)
        otherwise = _written_otherwise(max(map(len, digits)))
        self._number_scanner = LiteralScanner((), (), [_number_pattern(text) for text in digits] + otherwise)
        self._number_anyhow = frozenset(range(len(digits), len(digits) + len(otherwise)))
        self._number_ids = {ref: frozenset(digits_of[text] for text in numbers) for ref, numbers in chosen.items()}
        self.stats.number_checks = len(chosen)

    def _needed_numbers(self, pred: ir.Pred) -> list[tuple[str, ...]]:
        """For each term among ``pred``'s top-level conjuncts that holds only where an integer field
        equals one of some numbers: the digits of those numbers (without a sign)."""
        operands = [pred]
        found: list[tuple[str, ...]] = []
        while operands:
            operand = operands.pop()
            if isinstance(operand, ir.And):
                operands.extend(operand.operands)
                continue
            if not isinstance(operand, ir.Term) or operand.insensitive:
                continue
            info = self.schema.field(operand.field) if self.schema is not None else None
            if (info is None or info.type not in INTEGER_TYPES or info.null_value is not None or info.runtime
                    or not operand.values):
                continue
            numbers: set[str] = set()
            for value in operand.values:
                if not isinstance(value, ast.Literal) or value.value is None or isinstance(value.value, bool):
                    break
                number = coerce_number(info.type, value.value)
                if isinstance(number, int):  # (None: no value of the field can equal it)
                    numbers.add(str(abs(number)))
            else:
                if numbers:
                    found.append(tuple(sorted(numbers)))
        return found

    def _notes_only(self, triggered: Mapping[int, AbstractSet[int]],
                    values: AbstractSet[str]) -> _Notes | None:
        """The notes of a line that triggers ``triggered`` and may hold the category ``values`` (of those
        the scan tells), when every stage that could apply to it is deferred: then the line is noted
        without being parsed (see feed_line). None when some stage must be tried now.

        The stages that could apply are those triggered, and the free stages of any category the line
        may have (it holds the value in quotes, or the scan cannot tell), of every rule: which rules see
        the line depends on its data stream, unknown unparsed. So this notes lines for rules that may
        not see them, and deferred lines are checked for that when read again (see _read_notes).
        """
        refs = list(self._free.get(None, ()))
        for key, free in self._free.items():
            if key is not None and (key[1] in values or key[1] not in self._values):
                refs.extend(free)
        refs.extend((rule_number, number) for rule_number, numbers in triggered.items() for number in numbers)
        bits: dict[int, int] = {}
        rules = self._rules
        for rule_number, number in refs:
            rule = rules[rule_number]
            if not rule.deferring or number not in rule.deferred_stages:
                return None
            bits[rule_number] = bits.get(rule_number, 0) | 1 << number
        return _Notes([(rules[rule_number], stage_bits) for rule_number, stage_bits in bits.items()])

    @property
    def scans_blocks(self) -> bool:
        """Whether a line can be skipped unread when no trigger literal occurs in it (no free stage)."""
        return not self._free

    def trigger_ends(self, block: bytes) -> tuple[list[int], bool]:
        """End offsets of the trigger literals in a block of lines, and whether every line of it is shaped
        like a JSON object (see :meth:`LiteralScanner.ends_and_shape`)."""
        if self._trigger_scanner is None:
            self._trigger_scanner = LiteralScanner(self._literals[:self._trigger_count])
        return self._trigger_scanner.ends_and_shape(block)

    @property
    def position(self) -> int:
        """The number the next event gets; events are ordered by it (after time and tiebreaker)."""
        return self._position

    @position.setter
    def position(self, value: int) -> None:
        self._position = value

    def skip_lines(self, count: int) -> None:
        """Account for ``count`` lines that hold no trigger literal, which no rule can match."""
        self.stats.lines += count
        self.stats.skipped += count
        self._position += count

    def check_line(self, raw: bytes, path: str, line: int) -> None:
        """Report a skipped line that is not a JSON object (it is counted as skipped all the same)."""
        self._parse_object(raw, path, line)

    def _parse_object(self, raw: bytes, path: str, line: int) -> dict[str, Any] | None:
        """The line's JSON object; None, reported as a problem of ``path:line``, when it is not one."""
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            self.problems.problem(path, line, f"not valid JSON: {error}")
            return None
        if not isinstance(document, dict):
            self.problems.problem(path, line, f"expected a JSON object, found {type(document).__name__}")
            return None
        return document

    def feed_line(self, raw: bytes, path: str, line: int, index: str | None = None,
                  offset: int | None = None) -> None:
        """Offer one NDJSON line (a document or a hit envelope).

        ``offset`` is the line's byte offset in a plain file that can be read again; without it
        the line itself is kept for the events that end up in results.
        """
        self.stats.lines += 1
        position = self._position
        self._position += 1
        stages = self._triggered(raw)
        if stages.numbered:
            stages = self._numbers_in(raw, stages)
        if not stages and not self._free:
            self.stats.skipped += 1
            return
        if offset is not None and position < NOTED_POSITIONS and raw[:1] == b"{" and raw.endswith(_OBJECT_ENDS):
            notes = stages.notes
            if notes is not None:
                # Every stage that could apply is deferred: the line is noted, not parsed (a line shaped
                # like a JSON object, as lines skipped unread are; it is parsed if it is read again).
                if not notes:
                    self.stats.skipped += 1
                    return
                self._note(notes, position, line, path, index, offset)
                self.stats.noted_only += 1
                if self._deferred_total > DEFER_LIMIT:
                    self._keep_backlogs_within_limit()
                return
        document = self._parse_object(raw, path, line)
        if document is None:
            return
        self.stats.parsed += 1
        source, index, doc_id = unwrap(document, index)
        locator: Any = (path, offset) if offset is not None else raw
        self._evaluate(source, stages, position, index, doc_id, path, line, locator, raw)

    def feed(self, record: SourceEvent) -> None:
        """Offer an event that is already parsed (EVTX, Windows-event JSON).

        Its document is written as JSON (orjson, which writes strings as the literal prefilter
        expects) and scanned like a line, so it meets only the stages it can match.
        """
        self.stats.lines += 1
        position = self._position
        self._position += 1
        stages: Mapping[int, AbstractSet[int]]
        try:
            stages = self._triggered(orjson.dumps(record.source))
        except TypeError:  # not JSON-serializable as it is: try every stage
            if self._every is None:
                self._every = {rule.number: set(range(len(rule.compiled._stages))) - rule.never
                               for rule in self._rules}
            stages = self._every
        if not stages and not self._free:
            self.stats.skipped += 1
            return
        self.stats.parsed += 1
        self._evaluate(record.source, stages, position, record.index, record.id, record.path,
                       record.position, record.source, None, all_stages=stages is self._every)

    def _evaluate(self, source: dict[str, Any], stages: Mapping[int, AbstractSet[int]], position: int,
                  index: str | None, doc_id: str | None, path: str, line: int, locator: Any, raw: bytes | None = None,
                  all_stages: bool = False) -> None:
        given_index = index
        id_index = index or ""  # the id hashes the index the line was read under, before any data stream guess
        if index is None:
            index = data_stream_index(source)
            if index is None:
                self.events_without_index += 1
        visible = self._visible_rules(index)
        view = EventView(source)
        rules = self._rules
        # Which stages hold, by rule: the free stages of the event's categories, all in one call,
        # then the triggered ones (a stage is one or the other).
        matched: dict[int, list[int]] = {}
        deferred_by_rule: dict[int, int] = {}  # stage bits not tried now (see Backlog)
        evaluated = 0
        free: StageRunner | None = None
        if not all_stages and self._free:
            free = self._free_runner(view, index, visible)
            evaluated += free.size
            for rule_number, stage_number in free.run(view):
                matched.setdefault(rule_number, []).append(stage_number)
        runner = None if all_stages or not stages else self._triggered_runner(stages, index, visible)
        if runner is not None:
            evaluated += runner.size
            for rule_number, stage_number in runner.run(view):
                matched.setdefault(rule_number, []).append(stage_number)
        for rule_number, numbers in stages.items() if runner is None else ():
            if rule_number not in visible:
                continue
            rule = rules[rule_number]
            tried: AbstractSet[int] = numbers
            if rule.deferring and not all_stages:
                deferred = rule.deferred_stages & numbers
                if deferred:
                    bits = deferred_by_rule.get(rule_number, 0)
                    for number in deferred:
                        bits |= 1 << number
                    deferred_by_rule[rule_number] = bits
                    tried = numbers - deferred
            filters = rule.bound.filters
            evaluated += len(tried)
            for number in tried:
                if filters[number](view):
                    matched.setdefault(rule_number, []).append(number)
        noting = self._noting(free, runner)
        if noting is not None:
            if (not deferred_by_rule and type(locator) is tuple and position < NOTED_POSITIONS
                    and (not matched or noting.rules.isdisjoint(matched))):
                # The usual case, each rule's notes written straight away: none of the rules that defer
                # stages here has a stage that holds here (see below).
                self._note(noting.notes, position, line, path, given_index, locator[1])
            else:
                for rule_number, bits in noting.deferred:
                    deferred_by_rule[rule_number] = deferred_by_rule.get(rule_number, 0) | bits
        if deferred_by_rule:
            # a line that can be read again, at a position a note can hold
            can_defer = type(locator) is tuple and position < NOTED_POSITIONS
            for rule_number, bits in deferred_by_rule.items():
                rule = rules[rule_number]
                if can_defer and rule_number not in matched:
                    rule.backlog.add(position, line, locator[1], path, given_index, bits)
                    self._deferred_total += 1
                    self.stats.deferred += 1
                    continue
                # Other stages of the rule hold here (or the line cannot be read again): the event's
                # stages are all tried now, to be kept as one candidate.
                filters = rule.bound.filters
                for number in rule.deferred_stages:
                    if bits >> number & 1:
                        evaluated += 1
                        if filters[number](view):
                            matched.setdefault(rule_number, []).append(number)
        self.stats.evaluated_stages += evaluated
        if matched:
            times: dict[tuple[str, str | None, bool], Ordinal | None] = {}
            # A line without _id gets its stable id when it is read back for a result: hashing every
            # kept line is not free, and most are never results.
            record_id = doc_id if doc_id is not None or raw is None else line_id(id_index)
            waiting: list[_FastRule] = []
            for rule_number, numbers_matched in matched.items():
                rule = rules[rule_number]
                bits = self._record(rule, numbers_matched, view, source, position, times,
                                    (index, record_id, path, line, locator))
                if rule.deferring and bits >> rule.eager_stage & 1:
                    waiting.append(rule)
            for rule in waiting:  # their selective stage has matched: their deferred lines count now
                self._read_backlog(rule)
        if self._deferred_total > DEFER_LIMIT:
            self._keep_backlogs_within_limit()

    def _note(self, notes: _Notes, position: int, line: int, path: str, index: str | None, offset: int) -> None:
        """Note a line, once, for the deferred stages of the rules of ``notes`` (in their group)."""
        group = notes.group
        if group is None or notes.generation != self._generation:
            group = notes.group = self._group(notes)
            notes.generation = self._generation
        where = self._noted_in
        delta = position - line
        if where is None or where[2] != delta or where[0] is not path or where[1] != index:
            where = self._noted_in = (path, index, delta)  # the same object while it holds (see Backlog.note)
        backlog = group.backlog
        if backlog.noted_in is where:  # Backlog.note, when the last note was in the same place
            backlog.entries_.append(position)
            backlog.offsets.append(offset)
        else:
            backlog.note(position, offset, where)
        self._deferred_total += 1
        self.stats.deferred += len(notes.members)

    def _group(self, notes: _Notes) -> NoteGroup:
        """The group of the rules of ``notes`` with their stage bits; a new one (joined by each rule) when
        there is none yet, or one of them has read it already."""
        group = self._groups.get(notes.key)
        if group is None or group.holders != len(notes.key):
            group = self._groups[notes.key] = NoteGroup(notes.key, holders=len(notes.key))
            self._live_groups.add(group)
            for rule, bits in notes.members:
                rule.shared.append((group, bits))
        return group

    def _release(self, group: NoteGroup) -> None:
        """One rule of the group has read it, or will not: the last one drops its notes."""
        group.holders -= 1
        if group.holders <= 0:
            self._deferred_total -= len(group.backlog)
            group.backlog = Backlog()
            self._live_groups.discard(group)

    def _record(self, rule: _FastRule, numbers: Sequence[int], view: EventView, source: dict[str, Any], position: int,
                times: dict[tuple[str, str | None, bool], Ordinal | None], where: tuple[Any, ...]) -> int:
        """Keep what a rule needs of an event whose stages ``numbers`` hold; the bits of the stages kept."""
        config = rule.time_config
        if config not in times:
            times[config] = rule.timeline.ordinal_at(source, position)
        ordinal = times[config]
        if ordinal is None:
            rule.stats.without_timestamp += 1
            return 0
        key_functions = rule.bound.key_functions
        bits = 0
        keys: list[Any] = [()] * len(key_functions)
        for number in numbers:
            stage_keys = key_functions[number](view)
            if number in rule.missing_stages:
                # A missing-event stage only needs when, and under which key, it matched.
                # 8 bytes per event (an array of int64), and nothing for a repeated time.
                bucket = rule.missing[number]
                moment = ordinal[0] // 1_000_000  # ms
                for key in stage_keys:
                    times_of_key = bucket.get(key)
                    if times_of_key is None:
                        bucket[key] = array("q", (moment,))
                    elif times_of_key[-1] != moment:
                        times_of_key.append(moment)
                continue
            bits |= 1 << number
            keys[number] = stage_keys
        if bits:
            rule.candidates.append((ordinal, bits, tuple(keys), where))
        return bits

    def _keep_backlogs_within_limit(self) -> None:
        """Past DEFER_LIMIT notes in memory, write out the largest backlog, a rule's own or a group's (a
        worker, which hands its notes over in memory, evaluates them instead, for the rules that hold them)."""
        while self._deferred_total > DEFER_LIMIT:
            held: list[tuple[Backlog, _FastRule | NoteGroup]] = [
                (rule.backlog, rule) for rule in self._rules if rule.deferring]
            held.extend((group.backlog, group) for group in self._live_groups)
            backlog, holder = max(held, key=lambda item: len(item[0]))
            if not self._spills_backlogs:
                if isinstance(holder, NoteGroup):
                    for rule_number, _ in holder.members:
                        if self._rules[rule_number].deferring:
                            self._read_backlog(self._rules[rule_number])
                else:
                    self._read_backlog(holder)
                continue
            if self._backlog_file is None:
                self._backlog_file = tempfile.TemporaryFile(prefix="eqlite-deferred-")  # noqa: SIM115 - finish
            self._deferred_total -= len(backlog)
            backlog.spill(self._backlog_file)

    def _read_backlog(self, rule: _FastRule, backlog: Backlog | None = None,
                      shared: Sequence[tuple[NoteGroup, int]] = ()) -> None:
        """Stop deferring the rule's stages; evaluate those noted in its backlog and groups (or in ``backlog``
        and ``shared``, a worker's), reading their lines again."""
        held = backlog is None
        if backlog is None:
            backlog, rule.backlog = rule.backlog, Backlog()
            self._deferred_total -= len(backlog)
            shared, rule.shared = rule.shared, []
        rule.deferring = False
        rule.settled = True
        self._forget_runners()  # made while the rule deferred some of its stages
        for group, bits in shared:
            self._read_notes(rule, group.backlog.entries(), bits)
            if held:
                self._release(group)
        self._read_notes(rule, backlog.entries())

    def _read_notes(self, rule: _FastRule, entries: Iterable[tuple[int, int, int, str, str | None, int]],
                    group_bits: int = 0) -> None:
        """Evaluate the deferred stages noted in ``entries`` (their bits, or ``group_bits`` for a group's)."""
        filters = rule.bound.filters
        for position, line, offset, path, given_index, noted_bits in entries:
            bits = noted_bits or group_bits
            document = self._parse_object(read_line(self._backlog_readers, path, offset), path, line)
            if document is None:  # it parsed when first read: the file changed under the run
                continue
            source, index, doc_id = unwrap(document, given_index)
            self.stats.read_again += 1
            event_index = index if index is not None else data_stream_index(source)
            if rule.number not in self._visible_rules(event_index):
                continue  # noted unparsed, for every rule whose stages it may meet (see _notes_only)
            view = EventView(source)
            numbers = [number for number in rule.deferred_stages if bits >> number & 1 and filters[number](view)]
            self.stats.evaluated_stages += bits.bit_count()
            if numbers:
                record_id = doc_id if doc_id is not None else line_id(index or "")
                self._record(rule, numbers, view, source, position, {},
                             (event_index, record_id, path, line, (path, offset)))

    def _noting(self, free: StageRunner | None, runner: StageRunner | None) -> Noting | None:
        """The stages the free and triggered runners of an event defer, by rule (None: none)."""
        if runner is None or runner.noting is None:
            return None if free is None else free.noting
        if free is None or free.noting is None:
            return runner.noting
        merged = runner.merged.get(free)
        if merged is None:
            bits = dict(free.noting.deferred)
            for rule_number, more in runner.noting.deferred:
                bits[rule_number] = bits.get(rule_number, 0) | more
            merged = Noting.of(bits, self._rules)
            if len(runner.merged) < MERGED_KEPT:
                runner.merged[free] = merged
        return merged

    def _triggered_runner(self, stages: Mapping[int, AbstractSet[int]], index: str | None,
                          visible: frozenset[int]) -> StageRunner | None:
        """What tries the stages a line's literals trigger, of the rules that see its index (None: try them
        one by one, when the kept runners are at their limit)."""
        if not isinstance(stages, _Stages):  # (the mapping of feed()'s all-stages case has none)
            return None
        runners = stages.runners
        runner = runners.get(index)
        if runner is not None:
            return runner
        if self._triggered_runners >= TRIGGERED_RUNNERS_KEPT:
            return None
        refs = sorted((rule_number, number) for rule_number, numbers in stages.items() if rule_number in visible
                      for number in numbers)
        runner = runners[index] = StageRunner(refs, self._rules, self._namespace,
                                             self._triggered_runners < TRIGGERED_RUNNERS_COMPILED)
        self._triggered_runners += 1
        return runner

    def _forget_runners(self) -> None:
        """Drop the runners and notes, made while rules deferred some of their stages (which they try changes)."""
        self._free_runners.clear()
        self._stages_found.clear()
        self._triggered_runners = 0

    def _free_runner(self, view: EventView, index: str | None, visible: frozenset[int]) -> StageRunner:
        """What tries the free stages an event meets: those of its categories, of the rules that see its index."""
        read_one = self._category_reader
        categories = read_one(view) if read_one is not None else tuple(
            read(view) for read in self._category_readers.values())
        runner = self._free_runners.get((index, categories))
        if runner is not None:
            return runner
        per_field: tuple[tuple[Any, ...], ...] = (categories,) if read_one is not None else categories
        keys: list[tuple[str, str] | None] = [None]
        for category_field, values in zip(self._category_readers, per_field, strict=True):
            keys.extend((category_field, value) for value in values)
        refs = sorted({ref for key in keys for ref in self._free.get(key, ()) if ref[0] in visible})
        # The first combinations met get a generated function; past that, stages are tried one by one.
        runner = StageRunner(refs, self._rules, self._namespace, len(self._free_runners) < FREE_COMBINATIONS_COMPILED)
        if len(self._free_runners) < FREE_COMBINATIONS_KEPT:
            self._free_runners[(index, categories)] = runner
        return runner

    # ------------------------------------------------------------ worker processes

    def start_worker(self, spill_path: str, position: int, budget_limit: int) -> None:
        """In a forked worker: forget the parent's findings; spill to ``spill_path``; number from ``position``."""
        self.budget = Budget(budget_limit, spill_path)
        deferring_before = [rule.deferring for rule in self._rules]
        for rule in self._rules:
            rule.candidates = CandidateStore(self.budget)
            rule.missing = {number: {} for number in rule.missing_stages}
            rule.stats = SearchStats()
            rule.compiled.script_errors.count = 0  # the object generated predicates hold: reset in place
            rule.compiled.script_errors.last = ""
            # Each range defers on its own (the parent decides with what every range found), unless
            # this worker already met the rule's selective stage in an earlier range.
            rule.deferring = rule.eager_stage >= 0 and not rule.settled
            rule.backlog = Backlog()
            rule.shared = []
        self._deferred_total = 0
        self._groups.clear()
        self._live_groups.clear()
        self._generation += 1
        self._spills_backlogs = False
        if [rule.deferring for rule in self._rules] != deferring_before:
            # Runners hold which stages their rules defer. A worker's next range defers what the end of
            # its last one did (rules that settled stay settled), so they are kept from range to range.
            self._forget_runners()
        self.stats = FastStats(scanner=self.stats.scanner, triggered_stages=self.stats.triggered_stages,
                               free_stages=self.stats.free_stages, deferring_rules=self.stats.deferring_rules)
        self.events_without_index = 0
        self.problems = SourceStats()
        self._position = position

    def worker_result(self) -> WorkerResult:
        """In a worker, after its range: everything it found, its candidates written to its spill file."""
        exported = [rule.candidates.export() for rule in self._rules]
        self.budget.file.close(delete=False)
        files = self.problems.files.values()
        return WorkerResult(
            candidates=exported,
            missing=[rule.missing for rule in self._rules],
            without_timestamp=[rule.stats.without_timestamp for rule in self._rules],
            script_errors=[(rule.compiled.script_errors.count, rule.compiled.script_errors.last)
                           for rule in self._rules],
            stats=self.stats, events_without_index=self.events_without_index,
            problems=self.problems.problems,
            backlogs=[(rule.backlog, rule.shared) if rule.deferring else None for rule in self._rules],
            files=list(files))

    def merge_worker(self, result: WorkerResult, spill_path: str) -> None:
        """In the parent: take the findings of a worker's task (part of the input), in input order."""
        spill_file = SpillFile.open(spill_path)
        self.budget.adopted.append(spill_file)
        for rule, (runs, count), missing, without_timestamp, (errors, last) in zip(
                self._rules, result.candidates, result.missing, result.without_timestamp, result.script_errors,
                strict=True):
            rule.candidates.adopt(spill_file, runs, count)
            for stage, by_key in missing.items():
                bucket = rule.missing[stage]
                for key, moments in by_key.items():
                    known = bucket.get(key)
                    if known is None:
                        bucket[key] = moments
                    else:
                        known.extend(moments)
            rule.stats.without_timestamp += without_timestamp
            rule.compiled.script_errors.count += errors
            if last:
                rule.compiled.script_errors.last = last
        # The worker's note groups that rules still deferring here take over: held by those rules.
        adopted: dict[NoteGroup, int] = {}
        for rule, notes in zip(self._rules, result.backlogs, strict=True):
            if notes is not None and rule.eager_stage >= 0 and rule.deferring:
                for group, _ in notes[1]:
                    adopted[group] = adopted.get(group, 0) + 1
        for group, holders in adopted.items():
            group.holders = holders
            self._live_groups.add(group)
            self._deferred_total += len(group.backlog)
        for rule, notes in zip(self._rules, result.backlogs, strict=True):
            if rule.eager_stage < 0:
                continue
            if notes is None:  # its selective stage matched in the worker's range
                if rule.deferring:
                    self._read_backlog(rule)
                continue
            backlog, shared = notes
            if rule.deferring:
                rule.backlog.extend(backlog)
                rule.shared.extend(shared)
                self._deferred_total += len(backlog)
            elif len(backlog) or shared:
                self._read_backlog(rule, backlog, shared)
        self._keep_backlogs_within_limit()
        for name in ("lines", "skipped", "parsed", "evaluated_stages", "deferred", "noted_only", "read_again"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(result.stats, name))
        self.events_without_index += result.events_without_index
        listed: dict[tuple[str, bool], int] = defaultdict(int)  # problems listed, by file and whether errors
        for problem in result.problems:
            self.problems.problem(problem.path, problem.position, problem.message, problem.severity)
            listed[(problem.path, problem.severity == "error")] += 1
        for counted in result.files:  # each file's counts (its problems past the worker's list cap too)
            file_stats = self.problems.file(counted.path)
            if counted.format != "unknown":
                file_stats.format = counted.format
            file_stats.records += counted.records
            file_stats.events += counted.events
            file_stats.errors += counted.errors - listed[(counted.path, True)]
            file_stats.warnings += counted.warnings - listed[(counted.path, False)]
            file_stats.unmapped.update(counted.unmapped)

    # ------------------------------------------------------------ results

    def finish(self) -> list[RuleRun]:
        """Run each rule's matcher over its candidates, in order; results land in each :class:`RuleRun`."""
        for _ in self.finish_each():
            pass
        return self.runs

    def finish_each(self, hydrated: bool = True) -> Iterator[RuleRun]:
        """Like :meth:`finish`, one rule at a time, so that a caller that writes a rule's alerts and
        then drops its result (``run.result = None``) holds one rule's results at a time.

        With ``hydrated=False`` the matched events come without their documents: the caller
        reads them back with :meth:`hydrate`, a batch of hits at a time, before taking the next rule.
        """
        self._readers = {}
        close_readers(self._backlog_readers)
        if self._backlog_file is not None:
            self._backlog_file.close()
            self._backlog_file = None
        for deferring in self._rules:
            # Its selective stage matched nothing: no sequence can match, whatever the deferred lines hold.
            self._deferred_total -= len(deferring.backlog)
            deferring.backlog = Backlog()
            for group, _ in deferring.shared:
                self._release(group)
            deferring.shared = []
        try:
            fast_runs = {id(rule.run): rule for rule in self._rules}
            for rule_run in self.runs:
                rule = fast_runs.get(id(rule_run))
                if rule is not None:
                    self._finish_rule(rule, streamed=not hydrated)
                    if hydrated and rule_run.result is not None:
                        self.hydrate(rule_run.result.hits)
                yield rule_run
                if rule is not None:
                    rule.candidates.close()  # streamed hits read it until now
        finally:
            close_readers(self._readers)
            self.budget.close()
            for folder in self.spill_folders:
                shutil.rmtree(folder, ignore_errors=True)
            self.spill_folders.clear()

    def hydrate(self, hits: Sequence[Hit]) -> None:
        """Give the events of ``hits`` their documents back (from their kept line or their file)."""
        for hit in hits:
            for event in hit_events(hit):
                hydrate(event, self._readers, source_of)

    def reopen_readers(self) -> None:
        """In a forked process: read lines back through files of its own, not the parent's open ones
        (whose position they share). Candidates are read with ``os.pread``, which needs no such care."""
        self._readers = {}

    def _finish_rule(self, rule: _FastRule, streamed: bool = False) -> None:
        rule.stats.candidates = len(rule.candidates)
        rule.stats.documents = self.stats.lines
        plan, options = rule.compiled.plan, rule.compiled.options
        hits: Sequence[Hit]
        if streamed and isinstance(plan.body, EventPlan) and not plan.pipes and options.size is None:
            # Every candidate of an event query is a hit, in candidate order: read them when asked.
            hits = StreamedHits(rule.candidates)
        else:
            events = (to_event(record) for record in rule.candidates.sorted())
            hits = apply_limits(rule.compiled._match(events, rule.stats, rule.missing), plan, options)
            rule.candidates.close()
        rule.stats.script_errors = rule.compiled.script_errors.count
        rule.stats.last_script_error = rule.compiled.script_errors.last
        rule.run.result = SearchResult(rule.compiled.kind, hits, rule.stats)
        rule.run.events_seen = self.stats.lines
        rule.missing = {}


class StreamedHits(Sequence[Hit]):
    """The hits of an event query, made from its candidate store as they are read, in order.

    A rule that matches millions of events would otherwise hold a hit object per match. Reading
    slices in increasing order (as alerts are written, a batch at a time) passes over the store
    once; reading backwards starts over. Valid until the store is closed.
    """

    def __init__(self, store: CandidateStore) -> None:
        self._store = store
        self._count = len(store)
        self._records: Iterator[Any] = iter(())
        self._next = self._count  # forces a fresh pass on first use

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Hit]:
        for record in self._store.sorted():
            yield EventHit(to_event(record))

    def _take(self, start: int, stop: int) -> list[Hit]:
        if start < self._next:
            self._records, self._next = iter(self._store.sorted()), 0
        for _ in range(start - self._next):
            next(self._records)
        taken: list[Hit] = [EventHit(to_event(record)) for record in itertools.islice(self._records, stop - start)]
        self._next = start + len(taken)
        return taken

    @overload
    def __getitem__(self, index: int) -> Hit: ...

    @overload
    def __getitem__(self, index: slice) -> list[Hit]: ...

    def __getitem__(self, index: int | slice) -> Hit | list[Hit]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step != 1:
                return list(self)[index]
            return self._take(start, max(start, stop))
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError(index)
        return self._take(position, position + 1)[0]


def source_of(raw: bytes) -> dict[str, Any]:
    """The ``_source`` of an NDJSON line (a document, or a hit envelope)."""
    return unwrap(orjson.loads(raw), None)[0]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection within: for building the rules, which makes hundreds of thousands of
    long-lived objects and no garbage to speak of (the collections the build would trigger cost about
    a fifth of its time, for nothing freed; what cycles it leaves are collected later)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def settle_for_run() -> None:
    """Move every object alive now out of the garbage collector's sight, for a process about to feed events.

    A process that compiled a thousand rules holds hundreds of thousands of long-lived objects; every
    full collection during the run would walk them all again (several percent of the run time), and
    in forked worker processes it would also write to, and so copy, their memory pages. Meant for a
    process that runs one execution and exits (``eqlite run``): what is frozen is never collected.

    Young objects are collected less often too: each event makes dozens of containers, nearly all
    freed by reference counting as soon as the event is done, so the default threshold (700) ran a
    collection every few events for almost nothing to find (about 5% of the run time).

    Nothing is collected first: the rules are built with the collector paused (:func:`collector_paused`)
    and leave no garbage to speak of. A full collection here found none after building the 1,024 rules,
    and walked 433,000 objects to find it (0.2 s); a young one walks them too when they were made with
    the collector paused, as they all stay young (0.12 s). Called with the collector still paused
    after the build, no collection walks them before they are frozen.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def read_sample(paths: Iterable[str], lines: int = SAMPLE_LINES) -> list[bytes]:
    """Lines from the start of the NDJSON inputs (directories walked), to estimate literal frequencies.

    Several files share the sample, so that one file's kind of events does not decide alone.
    """
    from eqlite.sources.ndjson import open_binary
    from eqlite.sources.reader import detect, expand_paths

    def is_ndjson(path: str) -> bool:
        try:
            return detect(path) == "ndjson"
        except OSError:
            return False  # (reported when the file is read)

    files = [path for path, _ in expand_paths(paths, SourceStats()) if path != "-" and is_ndjson(path)]
    sample: list[bytes] = []
    for number, path in enumerate(files):
        share = (lines - len(sample)) // (len(files) - number)
        try:
            with open_binary(path) as handle:
                for raw in handle:
                    if len(sample) >= lines or share <= 0:
                        break
                    if raw.strip():
                        sample.append(raw)
                        share -= 1
        except (OSError, EOFError):
            continue
    return sample


BLOCK_BYTES = 1 << 20
_WHITESPACE_AFTER_NEWLINE = re.compile(rb"\n\s")


def _events_in(block: bytes, lines: int) -> int:
    """Lines of ``block`` (``lines`` of them; the last may lack its newline) that are not blank."""
    if block[:1].isspace() or _WHITESPACE_AFTER_NEWLINE.search(block) is not None:
        parts = block.split(b"\n")
        if parts[-1] == b"":
            parts.pop()
        lines -= sum(1 for part in parts if not part.strip())
    return lines


Progress = Callable[[int], object]


def _all_objects(block: bytes, events: int) -> bool:
    """Whether every line of the block looks like a JSON object: starts with ``{``, ends with ``}``.

    Skipped lines are not parsed; this check, a few byte counts per block, still finds the
    usual damage (truncated or merged-into-one lines, stray text) without parsing.
    """
    opening = block.count(b"\n{") + (1 if block.startswith(b"{") else 0)
    closing = block.count(b"}\n") + block.count(b"}\r\n") + (1 if block.endswith(b"}") else 0)
    return opening == events == closing


def _report_misshapen(execution: FastExecution, block: bytes, lines_before: int, fed: frozenset[int],
                      path: str) -> None:
    for number, raw in enumerate(block.split(b"\n"), start=lines_before + 1):
        text = raw.strip()
        if text and not (text.startswith(b"{") and text.endswith(b"}")) and number not in fed:
            execution.check_line(raw, path, number)


def _feed_blocks(execution: FastExecution, handle: Any, path: str, index: str | None, seekable: bool,
                 progress: Progress | None, base: int = 0, lines_before: int = 0, limit: int | None = None) -> None:
    """Feed a file a block at a time: one scan finds the lines with a trigger literal; only those are fed.

    Line numbers and offsets are exactly those of reading line by line, so ids and results do not change.
    ``base`` and ``lines_before`` say where the handle stands (byte offset, lines before it);
    ``limit`` stops after that many bytes (a range that ends at a line end).
    """
    carry = b""
    left = limit
    while True:
        chunk = handle.read(BLOCK_BYTES if left is None else min(BLOCK_BYTES, left))
        if left is not None:
            left -= len(chunk)
        if chunk:
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            block, carry = (data[:cut], data[cut:]) if cut < len(data) else (data, b"")
        else:
            block, carry = carry, b""  # the last line, without a newline
            if not block:
                break
        done = 0  # bytes of the block accounted for: always a line start
        number = lines_before
        fed: list[int] = []
        ends, shaped = execution.trigger_ends(block)
        for end in sorted(ends):
            if end <= done:
                continue  # in a line already fed
            start = block.rfind(b"\n", 0, end) + 1
            stop = block.find(b"\n", end - 1) + 1 or len(block)
            number += block.count(b"\n", done, start) + 1
            raw = block[start:stop]
            if raw.strip():
                execution.feed_line(raw, path, number, index, base + start if seekable else None)
                fed.append(number)
            done = stop
        lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if shaped and block.startswith(b"{") and (block.endswith((b"}\n", b"}"))):
            events = lines  # the scan saw every line begin with "{" and end with "}"
        else:
            events = _events_in(block, lines)
            if not _all_objects(block, events):
                _report_misshapen(execution, block, lines_before, frozenset(fed), path)
        execution.skip_lines(events - len(fed))
        lines_before += lines
        base += len(block)
        if progress is not None:
            progress(lines)
        if not chunk:
            break


def _feed_lines(execution: FastExecution, handle: Any, path: str, index: str | None, seekable: bool,
                progress: Progress | None, base: int = 0, lines_before: int = 0, limit: int | None = None) -> None:
    """Feed a file line by line (when some stage must see every event of its category)."""
    offset, number, end = base, lines_before, None if limit is None else base + limit
    for raw in handle:
        number += 1
        if not raw.isspace():  # (a line from a file is never empty; strip() would copy it)
            execution.feed_line(raw, path, number, index, offset if seekable else None)
        offset += len(raw)
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
        if end is not None and offset >= end:
            break
    if progress is not None:
        progress(number % PROGRESS_EVERY)


def feed_ndjson(execution: FastExecution, handle: Any, path: str, index: str | None, seekable: bool,
                progress: Progress | None, base: int = 0, lines_before: int = 0, limit: int | None = None) -> None:
    """Feed NDJSON from ``handle`` (standing at byte ``base``, after ``lines_before`` lines), up to ``limit`` bytes."""
    feed = _feed_blocks if execution.scans_blocks else _feed_lines
    feed(execution, handle, path, index, seekable, progress, base, lines_before, limit)


PROGRESS_EVERY = 4096


def run_paths(execution: FastExecution, paths: Iterable[str], stats: SourceStats, *, index: str | None = None,
              profile: str = "winlogbeat", host_id: str | None = None, progress: Progress | None = None,
              workers: int = 1, presplit: Presplit | None = None) -> None:
    """Feed every input to a fast execution: NDJSON prefiltered (a block or a line at a time), other formats parsed.

    ``progress``, when given, is called now and then with the number of records read since its last call.
    With ``workers`` > 1, plain NDJSON files (a large one in ranges, cut by ``presplit`` when it was
    started for them) and Windows event files are read by that many forked processes, when there is
    enough of them (:mod:`eqlite.scheduler.parallel`); results do not change. ``presplit`` is closed
    on return.
    """
    from eqlite.scheduler.parallel import Workers

    pool = Workers(execution, workers, presplit) if workers > 1 else None
    try:
        _run_paths(execution, paths, stats, index, profile, host_id, progress, pool)
        if pool is not None:
            pool.close()
    finally:
        if pool is not None:
            pool.__exit__(None, None, None)
        if presplit is not None:
            presplit.close()


WINDOWS_KINDS = ("evtx", "winevent-json", "zip")  # the formats read_events maps from raw Windows logs


def _run_paths(execution: FastExecution, paths: Iterable[str], stats: SourceStats, index: str | None, profile: str,
               host_id: str | None, progress: Progress | None, pool: Any) -> None:
    from eqlite.sources.reader import detect, expand_paths, holds_no_events

    def kind_of(path: str) -> str | None:
        try:
            return detect(path)
        except OSError:
            return None  # (reported when its turn comes)

    def feed(path: str, windows: bool) -> None:
        if windows:
            feed_events(execution, path, stats, index, profile, host_id, progress)
        else:
            feed_ndjson_file(execution, path, stats, index, progress)

    execution.problems = stats  # lines that are not JSON objects are reported where they are read
    entries = list(expand_paths(paths, stats))
    number = 0
    while number < len(entries):
        path, named = entries[number]
        number += 1
        try:
            kind = detect(path)
        except OSError as error:  # gone, or unreadable, since the folder was listed: the others go on
            stats.problem(path, None, f"cannot read: {error.strerror or error}")
            continue
        if holds_no_events(path, kind, named, stats):
            continue
        windows = kind in WINDOWS_KINDS
        if pool is None or not plain_file(path):
            feed(path, windows)
            continue
        # This file and the plain files of its kind right after it: the workers read them together (a
        # large NDJSON file in ranges, the others whole), unless together they are too small for it.
        kinds = WINDOWS_KINDS if windows else ("ndjson",)
        group = [path]
        while number < len(entries) and plain_file(entries[number][0]) and kind_of(entries[number][0]) in kinds:
            group.append(entries[number][0])
            number += 1
        if not pool.feed_files(group, index, progress, reader=(profile, host_id) if windows else None):
            for member in group:
                feed(member, windows)


def feed_events(execution: FastExecution, path: str, stats: SourceStats, index: str | None, profile: str,
                host_id: str | None, progress: Progress | None) -> None:
    """Feed the events of a Windows event file (EVTX, Windows-event JSON, zip of them), mapped to ECS."""
    from eqlite.sources.reader import read_events

    count = 0
    for count, record in enumerate(read_events([path], stats, index=index, profile=profile, host_id=host_id,
                                               index_from_file_name=False), start=1):
        execution.feed(record)
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress(count % PROGRESS_EVERY)


def plain_file(path: str) -> bool:
    """Whether ``path`` is a plain file that can be read again at any offset (not stdin, not gzip)."""
    try:
        return path != "-" and os.path.isfile(path) and not is_gzip(path)
    except OSError:
        return False  # (reported when it is read)


def feed_ndjson_file(execution: FastExecution, path: str, stats: SourceStats, index: str | None,
                     progress: Progress | None, start: int = 0, lines_before: int = 0,
                     limit: int | None = None) -> None:
    """Feed an NDJSON file, or ``limit`` bytes of a plain one from ``start`` (after ``lines_before`` lines), and
    count its records, events and errors in ``stats``; a file that cannot be read is a problem there."""
    from eqlite.sources.ndjson import open_binary

    file_stats = stats.file(path)
    file_stats.format = "ndjson"
    try:
        seekable = path != "-" and not is_gzip(path)
        handle = open_binary(path)
        if start:
            handle.seek(start)
    except OSError as error:
        stats.problem(path, None, f"cannot read: {error.strerror or error}")
        return
    before, errors_before = execution.stats.lines, file_stats.errors
    try:
        feed_ndjson(execution, handle, path, index, seekable, progress, start, lines_before, limit)
    except (OSError, EOFError) as error:
        stats.problem(path, None, f"read failed: {error}")
        errors_before += 1  # not a line's
    finally:
        if path != "-":
            handle.close()
    file_stats.records += execution.stats.lines - before
    file_stats.events += execution.stats.lines - before - (file_stats.errors - errors_before)
