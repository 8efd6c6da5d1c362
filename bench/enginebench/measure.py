"""One measurement per subprocess: its own interpreter, so its peak RSS is its own.

The parent sends a :class:`Spec` as JSON on the child's standard input. The child
(``python -m enginebench.measure``, which imports nothing it does not measure) loads the
rules, sets the engine up (timed as *setup*), runs it over the files (timed as *run*, wall
and CPU), reads its peak RSS (``VmHWM``) and prints one line ``BENCH-RESULT {json}``, which
:func:`parse_worker_output` finds among anything else the child may print.
"""

from __future__ import annotations

import cProfile
import gc
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from enginebench.engines import EngineRef, make_engine

if TYPE_CHECKING:
    from eqlite.rules import Rule

RESULT_MARK = "BENCH-RESULT "
BENCH_DIR = Path(__file__).resolve().parents[1]


class MeasurementError(RuntimeError):
    """A measurement subprocess failed; the message carries the end of its standard error."""


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Where a measurement subprocess finds a workload's rules: the built-in pack or rule files."""

    rule_ids: tuple[str, ...]
    builtin: bool = False
    paths: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"rule_ids": list(self.rule_ids), "builtin": self.builtin, "paths": list(self.paths)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleSource:
        return cls(tuple(data["rule_ids"]), bool(data["builtin"]), tuple(data["paths"]))

    def load(self) -> list[Rule]:
        """The rules, in ``rule_ids`` order.

        Raises:
            LookupError: when a rule id is not found in the named files.
        """
        from eqlite.rules import load_builtin_rules, load_rules

        loaded = load_builtin_rules() if self.builtin else load_rules(self.paths).rules
        by_id = {rule.rule_id: rule for rule in loaded}
        missing = [rule_id for rule_id in self.rule_ids if rule_id not in by_id]
        if missing:
            raise LookupError(f"rules not found in their files: {', '.join(missing[:5])}")
        return [by_id[rule_id] for rule_id in self.rule_ids]


@dataclass(frozen=True, slots=True)
class Spec:
    """What one subprocess measures: an engine, the rules of a workload (None for floors), the files."""

    engine: EngineRef
    workload: str | None
    rules: RuleSource | None
    paths: tuple[str, ...]
    profile: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps({
            "engine": {"label": self.engine.label, "target": self.engine.target},
            "workload": self.workload,
            "rules": self.rules.to_dict() if self.rules is not None else None,
            "paths": list(self.paths),
            "profile": self.profile,
        })

    @classmethod
    def from_json(cls, data: bytes | str) -> Spec:
        raw = orjson.loads(data)
        rules = RuleSource.from_dict(raw["rules"]) if raw["rules"] is not None else None
        engine = EngineRef(raw["engine"]["label"], raw["engine"]["target"])
        return cls(engine, raw["workload"], rules, tuple(raw["paths"]), raw["profile"])


def parse_status(text: str) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/<pid>/status``, in KiB.

    >>> parse_status("Name:\\tpython\\nVmHWM:\\t  123456 kB\\nVmRSS:\\t   2048 kB\\n")
    {'VmHWM': 123456, 'VmRSS': 2048}
    """
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name] = int(parts[0])
    return fields


def memory_kib() -> dict[str, int]:
    """This process's current (``VmRSS``) and peak (``VmHWM``) resident set, in KiB.

    Without ``/proc`` (not Linux), the peak is ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            status = parse_status(handle.read())
    except OSError:
        status = {}
    if "VmHWM" not in status:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        status["VmHWM"] = peak // 1024 if sys.platform == "darwin" else peak
    return status


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (an engine's worker processes)."""
    usage, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def run_spec(spec: Spec) -> dict[str, Any]:
    """Carry out a measurement in this process (the worker side) and return its result."""
    started = time.perf_counter()
    engine = make_engine(spec.engine)
    rules = spec.rules.load() if spec.rules is not None else []
    rejected = engine.setup(rules, spec.paths)
    setup_s = time.perf_counter() - started
    gc.collect()
    ready = memory_kib()
    profiler = cProfile.Profile() if spec.profile else None
    cpu_start, wall_start = _cpu_seconds(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    outcome = engine.run(spec.paths)
    if profiler is not None:
        profiler.disable()
    run_s = time.perf_counter() - wall_start
    cpu_s = _cpu_seconds() - cpu_start
    peak = memory_kib()
    late_hits = getattr(engine, "late_hits", None)  # results an engine counts after the timed run
    if late_hits is not None:
        outcome.hits = late_hits()
    if profiler is not None and spec.profile:
        profiler.dump_stats(spec.profile)
    return {
        "engine": spec.engine.label,
        "workload": spec.workload,
        "rules": len(rules),
        "rejected": rejected,
        "events": outcome.events,
        "bytes": sum(os.path.getsize(path) for path in spec.paths),
        "setup_s": setup_s,
        "run_s": run_s,
        "cpu_s": cpu_s,
        "rss_ready_kib": ready.get("VmRSS"),
        "peak_rss_kib": peak["VmHWM"],
        # The largest peak of any finished child process (worker processes), 0 without any.
        "child_peak_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "hits": outcome.hits,
        "notes": outcome.notes,
        "eqlite_file": getattr(sys.modules.get("eqlite"), "__file__", None),
    }


def worker_main() -> None:
    """The worker's entry point: a spec on standard input, one result line on standard output."""
    spec = Spec.from_json(sys.stdin.buffer.read())
    result = run_spec(spec)
    sys.stdout.write(RESULT_MARK + orjson.dumps(result).decode() + "\n")


def parse_worker_output(stdout: str) -> dict[str, Any]:
    """The result a worker printed: the last ``BENCH-RESULT`` line.

    >>> parse_worker_output('noise\\nBENCH-RESULT {"run_s": 1.5}\\n')
    {'run_s': 1.5}

    Raises:
        ValueError: when there is no result line.
    """
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = orjson.loads(line[len(RESULT_MARK):])
            return result
    raise ValueError("the worker printed no BENCH-RESULT line")


def measure(spec: Spec, timeout: float | None = None, code: Path | None = None) -> dict[str, Any]:
    """Run a spec in a fresh interpreter and return its result.

    ``PYTHONHASHSEED`` is fixed so that set and dict orders, hence timings, do not vary with
    hash randomisation between repetitions. ``code``, when given, is a folder holding an
    ``eqlite`` package that the child imports instead of the installed one (see
    :func:`enginebench.code.export_source`).

    Raises:
        MeasurementError: when the subprocess fails or prints no result.
    """
    path = os.pathsep.join(filter(None, [str(code) if code else None, str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}
    command = [sys.executable, "-m", "enginebench.measure"]
    try:
        completed = subprocess.run(command, input=spec.to_json(), capture_output=True, timeout=timeout,
                                   env=env, check=False)
    except subprocess.TimeoutExpired as error:
        raise MeasurementError(f"{spec.engine.label}/{spec.workload}: timed out after {timeout} s") from error
    stdout = completed.stdout.decode("utf-8", "replace")
    stderr = completed.stderr.decode("utf-8", "replace")
    if completed.returncode != 0:
        tail = "\n".join(stderr.splitlines()[-15:])
        raise MeasurementError(f"{spec.engine.label}/{spec.workload}: exit status {completed.returncode}\n{tail}")
    try:
        result = parse_worker_output(stdout)
    except ValueError as error:
        raise MeasurementError(f"{spec.engine.label}/{spec.workload}: {error}\n{stderr[-2000:]}") from error
    imported = result.get("eqlite_file")
    if code is not None and imported is not None and not Path(imported).resolve().is_relative_to(code.resolve()):
        raise MeasurementError(f"{spec.engine.label}/{spec.workload}: imported eqlite from {imported}, not from {code}")
    return result


if __name__ == "__main__":
    worker_main()
