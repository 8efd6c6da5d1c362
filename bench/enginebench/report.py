"""Best-of-K aggregation, ratios, the tables printed on standard output, and machine information."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FLOOR = "floor"


@dataclass(slots=True)
class Measurement:
    """The repetitions of one (engine, workload, file) measurement; the best run is the fastest.

    >>> m = Measurement("eqlite", "seed", 1000, [{"run_s": 2.0, "events": 1000, "bytes": 2_000_000,
    ...     "peak_rss_kib": 51_200, "setup_s": 0.1}, {"run_s": 1.0, "events": 1000, "bytes": 2_000_000,
    ...     "peak_rss_kib": 50_000, "setup_s": 0.2}])
    >>> m.run_s, m.events_per_s, m.mb_per_s, round(m.peak_rss_mb, 1)
    (1.0, 1000.0, 2.0, 52.4)
    """

    engine: str
    workload: str | None
    file_events: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any]:
        return min(self.runs, key=lambda run: run["run_s"])

    @property
    def run_s(self) -> float:
        return float(self.best["run_s"])

    @property
    def setup_s(self) -> float:
        return min(float(run["setup_s"]) for run in self.runs)

    @property
    def events(self) -> int:
        counted = self.best.get("events")
        return int(counted) if counted is not None else self.file_events

    @property
    def events_per_s(self) -> float:
        return self.events / self.run_s if self.run_s > 0 else float("inf")

    @property
    def cpu_s(self) -> float | None:
        """The least CPU time (user + system) of the repetitions."""
        times = [float(run["cpu_s"]) for run in self.runs if run.get("cpu_s") is not None]
        return min(times) if times else None

    @property
    def cpu_events_per_s(self) -> float | None:
        """Events per CPU second: steadier than wall time when other jobs share the cores."""
        cpu = self.cpu_s
        return self.events / cpu if cpu else None

    def throughput(self, basis: str) -> float | None:
        """Events/s on ``wall`` time or on ``cpu`` time."""
        return self.events_per_s if basis == "wall" else self.cpu_events_per_s

    @property
    def mb_per_s(self) -> float:
        return self.best["bytes"] / 1e6 / self.run_s if self.run_s > 0 else float("inf")

    @property
    def peak_rss_mb(self) -> float:
        """The largest peak resident set over the repetitions, in MB (10^6 bytes)."""
        return max(int(run["peak_rss_kib"]) for run in self.runs) * 1024 / 1e6

    @property
    def ready_rss_mb(self) -> float | None:
        """Resident set once set up, before reading events, in MB."""
        value = self.best.get("rss_ready_kib")
        return int(value) * 1024 / 1e6 if value is not None else None

    @property
    def hits(self) -> dict[str, int]:
        return dict(self.best.get("hits") or {})

    @property
    def results(self) -> int:
        return sum(self.hits.values())

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "engine": self.engine, "workload": self.workload, "file_events": self.file_events,
            "events": self.events, "bytes": best["bytes"], "rules": best.get("rules"),
            "rules_rejected": len(best.get("rejected") or {}), "rejected": best.get("rejected") or {},
            "setup_s": self.setup_s, "run_s": self.run_s, "cpu_s": self.cpu_s,
            "run_s_all": [run["run_s"] for run in self.runs],
            "events_per_s": self.events_per_s, "cpu_events_per_s": self.cpu_events_per_s, "mb_per_s": self.mb_per_s,
            "peak_rss_mb": self.peak_rss_mb, "ready_rss_mb": self.ready_rss_mb,
            "results": self.results, "hits": {rule: n for rule, n in sorted(self.hits.items()) if n},
            "notes": best.get("notes") or {},
            "runs": [{key: value for key, value in run.items() if key not in ("hits", "rejected")}
                     for run in self.runs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """Rebuild from :meth:`to_dict` output (older files without ``runs`` give one summary run)."""
        shared = {"hits": data.get("hits") or {}, "rejected": data.get("rejected") or {}}
        runs = [{**run, **shared} for run in data.get("runs") or []]
        if not runs:
            ready = data.get("ready_rss_mb")
            runs = [{**shared, "run_s": data["run_s"], "setup_s": data["setup_s"], "cpu_s": data.get("cpu_s"),
                     "events": data.get("events"), "bytes": data["bytes"], "rules": data.get("rules"),
                     "peak_rss_kib": round(data["peak_rss_mb"] * 1e6 / 1024),
                     "rss_ready_kib": round(ready * 1e6 / 1024) if ready is not None else None,
                     "notes": data.get("notes") or {}}]
        return cls(data["engine"], data["workload"], data["file_events"], runs)


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, None when the denominator is zero.

    >>> ratio(3.0, 2.0), ratio(1.0, 0.0)
    (1.5, None)
    """
    return numerator / denominator if denominator else None


def throughput_ratios(measurements: Sequence[Measurement], basis: str = "wall") -> list[dict[str, Any]]:
    """For each workload and pair of engines: events/s of one ÷ events/s of the other (floors included).

    ``basis`` is ``wall`` (events per second of run time) or ``cpu`` (per CPU second).

    >>> a = Measurement("eqlite", "seed", 10, [{"run_s": 2.0, "bytes": 1, "setup_s": 0}])
    >>> b = Measurement("eql", "seed", 10, [{"run_s": 1.0, "bytes": 1, "setup_s": 0}])
    >>> f = Measurement("floor", None, 10, [{"run_s": 0.5, "bytes": 1, "setup_s": 0}])
    >>> [(r["engine"], r["versus"], r["ratio"]) for r in throughput_ratios([a, b, f])]
    [('eqlite', 'eql', 0.5), ('eqlite', 'floor', 0.25), ('eql', 'eqlite', 2.0), ('eql', 'floor', 0.5)]
    """
    floors = [m for m in measurements if m.workload is None]
    workloads = list(dict.fromkeys(m.workload for m in measurements if m.workload is not None))
    rows = []
    for workload in workloads:
        engines = [m for m in measurements if m.workload == workload]
        for subject in engines:
            for other in [*engines, *floors]:
                if other is subject:
                    continue
                mine, theirs = subject.throughput(basis), other.throughput(basis)
                rows.append({"workload": workload, "engine": subject.engine, "versus": other.engine, "basis": basis,
                             "ratio": ratio(mine, theirs) if mine is not None and theirs is not None else None})
    return rows


def rule_cost(measurements: Sequence[Measurement], base: str = "seed") -> list[dict[str, Any]]:
    """Per engine: how many times slower each workload runs than the one-rule workload (events/s ratio).

    >>> s = Measurement("eqlite", "seed", 10, [{"run_s": 1.0, "bytes": 1, "setup_s": 0}])
    >>> a = Measurement("eqlite", "all", 10, [{"run_s": 40.0, "bytes": 1, "setup_s": 0}])
    >>> rule_cost([s, a])
    [{'engine': 'eqlite', 'workload': 'all', 'slowdown': 40.0, 'slowdown_cpu': None}]
    """
    rows = []
    for seed in (m for m in measurements if m.workload == base):
        for other in measurements:
            if other.engine == seed.engine and other.workload not in (None, base):
                mine, theirs = seed.cpu_events_per_s, other.cpu_events_per_s
                rows.append({"engine": seed.engine, "workload": other.workload,
                             "slowdown": ratio(seed.events_per_s, other.events_per_s),
                             "slowdown_cpu": ratio(mine, theirs) if mine and theirs else None})
    return rows


def work_rows(measurements: Sequence[Measurement]) -> list[list[Any]]:
    """Per fast-path measurement: what it did with the lines, from the counts its best run noted.

    Counts do not move with the machine's speed as times do, so they show a change's effect on the
    work even when timings cannot (shares of lines in %, stages tried per line).

    >>> notes = {"lines": 200, "parsed": 150, "noted_unparsed": 40, "skipped_unparsed": 10, "evaluated_stages": 300}
    >>> work_rows([Measurement("fast", "all", 200, [{"run_s": 1, "bytes": 1, "setup_s": 0, "notes": notes}])])
    [['fast', 'all', 200, 75.0, 20.0, 5.0, 1.5]]
    """
    rows = []
    for measurement in measurements:
        notes = measurement.best.get("notes") or {}
        lines = notes.get("lines")
        if lines:
            rows.append([measurement.engine, measurement.workload, lines,
                         *(_per_line(notes, key, lines, 100, 1) for key in ("parsed", "noted_unparsed",
                                                                            "skipped_unparsed")),
                         _per_line(notes, "evaluated_stages", lines, 1, 2)])
    return rows


def _per_line(notes: dict[str, Any], key: str, lines: int, scale: int, digits: int) -> float | None:
    """A count per line (times ``scale``); None when the run did not note it (older files lack some)."""
    return round(scale * notes[key] / lines, digits) if key in notes else None


def disagreements(first: Measurement, second: Measurement) -> dict[str, Any]:
    """Rules both engines ran whose result counts differ, largest differences first.

    >>> x = Measurement("a", "w", 1, [{"run_s": 1, "bytes": 1, "setup_s": 0, "hits": {"r1": 3, "r2": 1}}])
    >>> y = Measurement("b", "w", 1, [{"run_s": 1, "bytes": 1, "setup_s": 0, "hits": {"r1": 3}, "rejected": {}}])
    >>> disagreements(x, y)["differing"]
    [{'rule_id': 'r2', 'a': 1, 'b': 0}]
    """
    rejected = set(first.best.get("rejected") or {}) | set(second.best.get("rejected") or {})
    left, right = first.hits, second.hits
    differing: list[dict[str, Any]] = [
        {"rule_id": rule, first.engine: left.get(rule, 0), second.engine: right.get(rule, 0)}
        for rule in sorted((set(left) | set(right)) - rejected)
        if left.get(rule, 0) != right.get(rule, 0)
    ]
    differing.sort(key=lambda row: -abs(row[first.engine] - row[second.engine]))
    return {"workload": first.workload, "engines": [first.engine, second.engine],
            "both_ran": (first.best.get("rules") or 0) - len(rejected), "differing": differing}


# ------------------------------------------------------------------ text tables

def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with right-aligned numbers (pastes into docs/benchmarks.md as is).

    >>> print(render_table(["engine", "events/s"], [["eqlite", 1234.5]]))
    | engine | events/s |
    |---|---:|
    | eqlite | 1,234 |
    """
    cells = [[_format(value) for value in row] for row in rows]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
               for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in cells)
    return "\n".join(lines)


def measurement_rows(measurements: Sequence[Measurement]) -> list[list[Any]]:
    floor = next((m for m in measurements if m.engine == FLOOR and m.workload is None), None)
    rows = []
    for m in measurements:
        best = m.best
        rules = best.get("rules") or 0
        ran = rules - len(best.get("rejected") or {})
        rows.append([
            m.engine, m.workload or "(none)", f"{ran}/{rules}" if m.workload else "-",
            m.setup_s, m.run_s, m.cpu_s, m.events_per_s, m.mb_per_s, m.peak_rss_mb,
            m.results if m.workload else None,
            ratio(m.events_per_s, floor.events_per_s) if floor is not None else None,
        ])
    return rows


MEASUREMENT_HEADERS = ["engine", "workload", "rules run", "setup s", "run s", "cpu s", "events/s", "MB/s",
                       "peak RSS MB", "results", "× floor"]


# ------------------------------------------------------------------ machine

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    # Read-only queries; --no-optional-locks keeps `status` from rewriting the index.
    try:
        completed = subprocess.run(["git", "--no-optional-locks", *args], cwd=REPO, capture_output=True,
                                   text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, memory, Python and package versions, the commit measured, and the load now."""
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_total_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {name: _package_version(name) for name in ("eqlite", "eql", "orjson", "lark", "google-re2")},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(dirty) if dirty is not None else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
