"""What the benchmark measures: engines that run a workload's rules over event files, and floors.

An engine is set up once with the rules (compilation, outside the timed run), then runs over
the files once and says how many results each rule produced. Engines are found by name in
:data:`ENGINES`; a name may also be ``label=module:function`` (or just ``module:function``)
for any function ``run_rules(paths, rules) -> {rule_id: hits}``, so a new execution path can
be measured without touching the harness:

    --engines eqlite,fast=eqlite.runtime.fast:run_rules,eql,floor

Floors (:class:`EngineEntry` with ``uses_rules`` False) do not depend on the rules; they are
measured once per file.
"""

from __future__ import annotations

import importlib
import itertools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from eqlite.rules import Rule

RunRules = Callable[[Sequence[str], Sequence["Rule"]], Mapping[str, Any]]


@dataclass(slots=True)
class RunOutcome:
    """What one run produced.

    Attributes:
        events: events the engine read (None when it does not say; the file's count is used).
        hits: results per rule id (events for event queries, sequences, samples).
        notes: engine-specific counts worth reporting (script errors, events without index, ...).
    """

    events: int | None
    hits: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


class Engine(ABC):
    """One way of running rules over files. Set up once, run once (each measurement is a new process)."""

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        """Prepare the rules; return the ones the engine cannot run, ``{rule_id: reason}``.

        ``paths`` are the files the run will read: an engine may sample them (untimed) to plan.
        """
        return {}

    @abstractmethod
    def run(self, paths: Sequence[str]) -> RunOutcome:
        """Read every file once and run the prepared rules."""


class EqliteEngine(Engine):
    """The reference engine: ``read_events`` feeding one :class:`Execution` of every rule."""

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        from eqlite.scheduler.executor import Execution
        from eqlite.semantic.schema import Schema
        from eqlite.sources.reader import read_events

        self.read_events = read_events
        self.execution = Execution.of(rules, Schema.ecs())
        return {run.rule.rule_id: f"{run.status}: {run.error}" for run in self.execution.runs if run.status != "ok"}

    def run(self, paths: Sequence[str]) -> RunOutcome:
        from eqlite.sources.base import SourceStats

        stats = SourceStats()
        feed = self.execution.feed
        # index_from_file_name=False: the index comes from data_stream.*, as `eqlite run` does.
        for record in self.read_events(paths, stats, index_from_file_name=False):
            feed(record)
        runs = self.execution.finish()
        hits = {run.rule.rule_id: len(run.result.hits) for run in runs if run.result is not None}
        script_errors = sum(run.result.stats.script_errors for run in runs if run.result is not None)
        return RunOutcome(self.execution.events, hits, {
            "events_without_index": self.execution.events_without_index,
            "source_problems": len(stats.problems),
            "script_errors": script_errors,
        })


class EqliteFastEngine(Engine):
    """eqlite's fast path (``eqlite run``'s default): ``FastExecution`` over ``run_paths``.

    Its input sample (the first lines of the files, to rank literals) is read during setup.
    ``workers`` > 1 reads large files with that many processes (``eqlite run --workers``).
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        from eqlite.scheduler import fast
        from eqlite.scheduler.fast import FastExecution, read_sample, run_paths
        from eqlite.semantic.schema import Schema

        self.run_paths = run_paths
        self.execution = FastExecution(rules, Schema.ecs(), read_sample(paths))
        settle = getattr(fast, "settle_for_run", None)  # as eqlite run does (absent in older commits)
        if settle is not None:
            settle()
        return {run.rule.rule_id: f"{run.status}: {run.error}" for run in self.execution.runs if run.status != "ok"}

    def run(self, paths: Sequence[str]) -> RunOutcome:
        from eqlite.sources.base import SourceStats

        stats = SourceStats()
        self.run_paths(self.execution, paths, stats, workers=self.workers)
        hits = self._finish()
        fast = self.execution.stats
        return RunOutcome(stats.events or None, hits, {
            "events_without_index": self.execution.events_without_index,
            "source_problems": len(stats.problems),
            "lines": fast.lines, "skipped_unparsed": fast.skipped, "parsed": fast.parsed, "scanner": fast.scanner,
            # (absent from older commits' statistics)
            "noted_unparsed": getattr(fast, "noted_only", 0), "evaluated_stages": getattr(fast, "evaluated_stages", 0),
            "deferred_notes": getattr(fast, "deferred", 0), "read_again": getattr(fast, "read_again", 0),
        })


    def _finish(self) -> dict[str, int]:
        """Match, and read the matched documents back, as ``eqlite run`` does before it writes alerts.

        One rule's results at a time, their documents a batch of hits at a time (``ALERT_BATCH``),
        each batch's documents dropped before the next: holding every rule's hydrated hits at once
        would measure the benchmark's memory, not eqlite's.
        """
        from eqlite.runtime.search import hit_events

        execution = self.execution
        hits: dict[str, int] = {}
        for run in execution.finish_each(hydrated=False):
            if run.result is None:
                continue
            matched = run.result.hits
            hits[run.rule.rule_id] = len(matched)
            for start in range(0, len(matched), 1000):
                batch = matched[start:start + 1000]
                execution.hydrate(batch)
                for hit in batch:
                    for event in hit_events(hit):
                        event.source = {}
            run.result = None
        return hits


def write_rule_files(rules: Sequence[Rule], folder: str | os.PathLike[str]) -> None:
    """Write ``rules`` into ``folder`` as TOML files, one a rule, in order (``00000.toml``, ...)."""
    from eqlite.rules.toml_format import rule_to_toml

    for number, rule in enumerate(rules):
        with open(os.path.join(folder, f"{number:05d}.toml"), "w", encoding="utf-8") as handle:
            handle.write(rule_to_toml(rule))


def eqlite_run_command(paths: Sequence[str], rules: str | os.PathLike[str], alerts: str | os.PathLike[str],
                       workers: int) -> list[str]:
    """``eqlite run`` as the benchmarks run it: the rule files of ``rules``, every alert to the NDJSON
    file ``alerts`` (no store), a fixed ``--now``, ``workers`` worker processes.

    >>> " ".join(eqlite_run_command(["a.ndjson"], "r", "out.ndjson", 2)[3:])
    'run a.ndjson --rules r --alerts out.ndjson --no-store --now 2030-01-01T00:00:00Z --workers 2'
    """
    import sys

    return [sys.executable, "-c", "import sys; from eqlite.cli.main import main; sys.exit(main())",
            "run", *paths, "--rules", str(rules), "--alerts", str(alerts), "--no-store",
            "--now", "2030-01-01T00:00:00Z", "--workers", str(workers)]


def events_reported(stderr: bytes) -> int | None:
    """The events ``eqlite run`` says it read: its summary on standard error begins
    "eqlite run: N events in ...".

    >>> events_reported(b"x\\neqlite run: 1000 events in 0.1 s"), events_reported(b"")
    (1000, None)
    """
    read = re.search(rb"eqlite run: (\d+) events", stderr)
    return int(read.group(1)) if read is not None else None


class EqliteCliEngine(Engine):
    """``eqlite run`` end to end, as a user runs it: a subprocess that loads the rule files, builds
    the rules, reads the events, and writes every alert to an NDJSON file (``--no-store``).

    Setup (untimed) writes the workload's rules as TOML files into a temporary folder. The timed
    run is the whole command: rule loading and building, the feed, sequence matching and the
    alerts. Results are counted from the alerts file after the timer stops (:meth:`late_hits`):
    one per event alert or sequence shell, building blocks not counted, so they compare with
    the other engines' hits.
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        import tempfile

        self.folder = tempfile.mkdtemp(prefix="eqlite-bench-cli-")
        write_rule_files(rules, self.folder)
        self.alerts = os.path.join(self.folder, "alerts.ndjson")
        return {}

    def run(self, paths: Sequence[str]) -> RunOutcome:
        import subprocess

        completed = subprocess.run(eqlite_run_command(paths, self.folder, self.alerts, self.workers),
                                   capture_output=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"eqlite run exited with {completed.returncode}: "
                               f"{completed.stderr.decode(errors='replace')[-2000:]}")
        return RunOutcome(events_reported(completed.stderr))

    def late_hits(self) -> dict[str, int]:
        """Results per rule id, read from the alerts file (untimed)."""
        import shutil

        rule_id = re.compile(rb'"kibana\.alert\.rule\.rule_id":"([^"]*)"')
        hits: dict[str, int] = {}
        with open(self.alerts, "rb") as handle:
            for line in handle:
                if b'"kibana.alert.group.index":' in line:
                    continue
                found = rule_id.search(line)
                if found is not None:
                    key = found.group(1).decode()
                    hits[key] = hits.get(key, 0) + 1
        shutil.rmtree(self.folder, ignore_errors=True)
        return hits


class FloorEngine(Engine):
    """The JSON-parsing floor: read every line and ``orjson.loads`` it, nothing else."""

    def run(self, paths: Sequence[str]) -> RunOutcome:
        loads = orjson.loads
        events = 0
        for path in paths:
            with open(path, "rb") as handle:
                for line in handle:
                    loads(line)
                    events += 1
        return RunOutcome(events)


class ParallelFloorEngine(Engine):
    """The floor on ``workers`` cores: each of as many forked processes ``orjson.loads`` the lines of its
    share of each file (cut at line ends). On a machine whose cores are not all as fast (shared
    with other work), it says what the engines' runs with workers could reach at that moment."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers

    def run(self, paths: Sequence[str]) -> RunOutcome:
        import multiprocessing

        shares = []
        for path in paths:
            size = os.path.getsize(path)
            cuts = [0]
            with open(path, "rb") as handle:
                for number in range(1, self.workers):
                    handle.seek(max(size * number // self.workers - 1, cuts[-1]))
                    handle.readline()
                    cuts.append(max(handle.tell(), cuts[-1]))
            cuts.append(size)
            shares += [(path, start, end) for start, end in itertools.pairwise(cuts) if end > start]
        with multiprocessing.get_context("fork").Pool(self.workers) as pool:
            return RunOutcome(sum(pool.map(_parse_share, shares)))


def _parse_share(share: tuple[str, int, int]) -> int:
    path, start, end = share
    loads, events = orjson.loads, 0
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        for line in handle:
            if position >= end:
                break
            position += len(line)
            loads(line)
            events += 1
    return events


class EqliteReadEngine(Engine):
    """eqlite's reader alone: ``read_events`` (JSON, envelopes, stable ids) without any rule."""

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        from eqlite.sources.reader import read_events

        self.read_events = read_events
        return {}

    def run(self, paths: Sequence[str]) -> RunOutcome:
        from eqlite.sources.base import SourceStats

        events = sum(1 for _ in self.read_events(paths, SourceStats(), index_from_file_name=False))
        return RunOutcome(events)


class FunctionEngine(Engine):
    """Any ``run_rules(paths, rules) -> {rule_id: hits or hit count}``; compiling happens inside the run."""

    def __init__(self, function: RunRules) -> None:
        self.function = function
        self.rules: Sequence[Rule] = ()

    def setup(self, rules: Sequence[Rule], paths: Sequence[str]) -> dict[str, str]:
        self.rules = rules
        return {}

    def run(self, paths: Sequence[str]) -> RunOutcome:
        results = self.function(paths, self.rules)
        hits = {rule_id: value if isinstance(value, int) else len(value) for rule_id, value in results.items()}
        return RunOutcome(None, hits)


def _lazy(module: str, name: str) -> Callable[[], Engine]:
    """A factory importing its engine only when used, so that no other measurement loads that module."""
    def factory() -> Engine:
        engine_class: type[Engine] = getattr(importlib.import_module(module), name)
        return engine_class()

    return factory


@dataclass(frozen=True, slots=True)
class EngineEntry:
    """A registered engine: how to make it, whether its runs depend on the rules, and what it is."""

    factory: Callable[[], Engine]
    uses_rules: bool
    description: str


ENGINES: Mapping[str, EngineEntry] = {
    "eqlite": EngineEntry(EqliteEngine, True, "eqlite reference engine: read_events -> Execution.feed/finish"),
    "eqlite-fast": EngineEntry(EqliteFastEngine, True, "eqlite fast path: FastExecution + run_paths"),
    "eqlite-fast-2w": EngineEntry(lambda: EqliteFastEngine(workers=2), True,
                                  "eqlite fast path with 2 worker processes (eqlite run --workers 2)"),
    "eqlite-cli": EngineEntry(EqliteCliEngine, True,
                              "eqlite run end to end: rule files loaded and built, alerts written (subprocess)"),
    "eqlite-cli-2w": EngineEntry(lambda: EqliteCliEngine(workers=2), True,
                                 "eqlite run --workers 2 end to end (subprocess)"),
    "eql": EngineEntry(_lazy("enginebench.eqlpkg", "EqlEngine"), True,
                       "eql 1.0.1 PythonEngine (Python package, black box)"),
    "floor": EngineEntry(FloorEngine, False, "floor: read lines + orjson.loads"),
    "floor-2w": EngineEntry(ParallelFloorEngine, False,
                            "floor on 2 cores: 2 forked processes, each reading half the file + orjson.loads"),
    "eqlite-read": EngineEntry(EqliteReadEngine, False, "floor: eqlite read_events, no rules"),
    "eql-prep": EngineEntry(_lazy("enginebench.eqlpkg", "EqlPrepEngine"), False,
                            "floor: the eql adapter's event preparation, no engine"),
}
"""Engines by name. To add an execution path for good, add one entry here, e.g.
``"name": EngineEntry(lambda: FunctionEngine(import_function("module:run_rules")), True, "...")``."""

DEFAULT_ENGINES = ("eqlite-fast", "eql", "floor")


@dataclass(frozen=True, slots=True)
class EngineRef:
    """An engine as named on the command line: a label and what it refers to."""

    label: str
    target: str

    @property
    def is_function(self) -> bool:
        return ":" in self.target


def parse_engines(text: str) -> list[EngineRef]:
    """Parse ``--engines``: registered names, ``module:function`` or ``label=module:function``.

    >>> parse_engines("eqlite, fast=pkg.mod:run_rules ,floor")
    [EngineRef(label='eqlite', target='eqlite'), EngineRef(label='fast', target='pkg.mod:run_rules'), \
EngineRef(label='floor', target='floor')]

    Raises:
        ValueError: for an unknown name, a malformed reference, or a label used twice.
    """
    refs: list[EngineRef] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        label, _, target = item.partition("=") if "=" in item else (item, "", item)
        label, target = label.strip(), target.strip()
        if ":" in target:
            module, _, function = target.partition(":")
            if not (module and function.isidentifier()):
                raise ValueError(f"engine {item!r}: write module:function, e.g. eqlite.runtime.fast:run_rules")
        elif target not in ENGINES:
            raise ValueError(f"unknown engine {target!r}; choose from {', '.join(ENGINES)} or give module:function")
        if any(ref.label == label for ref in refs):
            raise ValueError(f"engine label {label!r} is used twice")
        refs.append(EngineRef(label, target))
    if not refs:
        raise ValueError("no engine given")
    return refs


def import_function(target: str) -> RunRules:
    """The function a ``module:function`` reference names."""
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function  # type: ignore[no-any-return]


def make_engine(ref: EngineRef) -> Engine:
    """A fresh engine for a reference (called in the measurement subprocess)."""
    if ref.is_function:
        return FunctionEngine(import_function(ref.target))
    return ENGINES[ref.target].factory()


def uses_rules(ref: EngineRef) -> bool:
    """Whether the engine's runs depend on the workload (floors do not)."""
    return ref.is_function or ENGINES[ref.target].uses_rules
