"""Rule-engine benchmark: eqlite against the eql package and the JSON-parsing floor, side by side.

Usage: .venv/bin/python bench/bench_engine.py [--events N] [--workloads seed,50,all]
           [--engines eqlite-fast,eql,floor] [--repeat K] [--json OUT] [--code REV] [--memory] [--profile]

Generates (once, cached in bench/data/) Elastic-Endpoint-shaped Windows telemetry with the demo
generator, then measures every engine on every workload, each measurement in its own subprocess
(best of K run times; peak RSS per process). See bench/README.md for the columns and the full runs.
"""

from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from enginebench.code import SOURCE, export_source, source_fingerprint
from enginebench.data import DATA_DIR, DataFile, ensure_data, split_data
from enginebench.engines import DEFAULT_ENGINES, ENGINES, EngineRef, parse_engines, uses_rules
from enginebench.measure import MeasurementError, Spec, measure
from enginebench.report import (
    MEASUREMENT_HEADERS,
    Measurement,
    disagreements,
    machine_info,
    measurement_rows,
    ratio,
    render_table,
    rule_cost,
    throughput_ratios,
    work_rows,
)
from enginebench.workloads import DEFAULT_RULES_ROOT, WORKLOAD_NAMES, Workload, active_eql_rules, build_workloads

from eqlite.rules import load_builtin_rules

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _scales(text: str) -> list[int]:
    try:
        scales = [int(item) for item in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--memory-scales {text!r}: give integers, e.g. 1,2,4") from None
    if not scales or min(scales) < 1:
        raise argparse.ArgumentTypeError("--memory-scales: give positive integers, e.g. 1,2,4")
    return scales


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in the generated file (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--workloads", default=",".join(WORKLOAD_NAMES),
                        help=f"comma-separated, from {', '.join(WORKLOAD_NAMES)} (default: all three)")
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                        help=f"comma-separated: {', '.join(ENGINES)}, or [label=]module:function "
                             f"(default {','.join(DEFAULT_ENGINES)})")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per measurement; the best is kept")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_ROOT, help="detection-rules checkout")
    parser.add_argument("--timeout", type=float, help="seconds before a measurement is abandoned")
    parser.add_argument("--regenerate", action="store_true", help="regenerate the data file even if cached")
    parser.add_argument("--files-of", type=int, default=None, metavar="MB",
                        help="run the engines over the data cut into files of about MB megabytes each (a folder "
                             "of small files, as Beats' file output writes them), not over the one file")
    parser.add_argument("--memory", action="store_true",
                        help="also run the memory check: one workload, files of 1x, 2x, 4x size")
    parser.add_argument("--memory-events", type=int, help="size of the 1x file for --memory (default --events)")
    parser.add_argument("--memory-scales", type=_scales, default=[1, 2, 4], help="default 1,2,4")
    parser.add_argument("--memory-engines", default="eqlite-fast",
                        help="comma-separated engines for --memory (default eqlite-fast)")
    parser.add_argument("--memory-workload", default="all", choices=WORKLOAD_NAMES,
                        help="workload for --memory (default all)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing, run each measurement once under cProfile and print the hotspots")
    parser.add_argument("--code", metavar="REV",
                        help="measure eqlite as committed at REV (git archive to a temporary folder), "
                             "not the working tree")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="print the report of a saved --json file, then exit")
    return parser


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    """One benchmark invocation: the plan, the measurements taken so far, and the failures."""

    def __init__(self, args: argparse.Namespace, engines: list[EngineRef], workloads: list[Workload],
                 code: Path | None = None) -> None:
        self.args = args
        self.engines = engines
        self.workloads = workloads
        self.code = code
        self.failures: list[str] = []

    def _spec(self, engine: EngineRef, workload: Workload | None, data: DataFile,
              profile: str | None = None) -> Spec:
        paths = (str(data.path),)
        if self.args.files_of is not None and data.events == self.args.events:  # (not the memory check's files)
            paths = tuple(str(path) for path in split_data(data, self.args.files_of, log=log))
        return Spec(engine, workload.name if workload else None, workload.source() if workload else None,
                    paths, profile)

    def plan(self) -> list[tuple[EngineRef, Workload | None]]:
        """Floors once, then every rule engine on every workload, workload by workload."""
        items: list[tuple[EngineRef, Workload | None]] = [(ref, None) for ref in self.engines if not uses_rules(ref)]
        for workload in self.workloads:
            items.extend((ref, workload) for ref in self.engines if uses_rules(ref))
        return items

    def run_main(self, data: DataFile) -> list[Measurement]:
        """Every planned measurement, K rounds; within a round all of them run back to back."""
        plan = self.plan()
        measurements = [Measurement(ref.label, workload.name if workload else None, data.events)
                        for ref, workload in plan]
        total = len(plan) * self.args.repeat
        step = 0
        for round_number in range(1, self.args.repeat + 1):
            for (ref, workload), measurement in zip(plan, measurements, strict=True):
                step += 1
                name = f"{ref.label}/{workload.name if workload else '-'}"
                try:
                    result = measure(self._spec(ref, workload, data), self.args.timeout, self.code)
                except MeasurementError as error:
                    self.failures.append(f"round {round_number}: {error}")
                    log(f"[{step}/{total}] {name}: FAILED: {str(error).splitlines()[0]}")
                    continue
                measurement.runs.append(result)
                child = result.get("child_peak_rss_kib") or 0
                log(f"[{step}/{total}] {name} round {round_number}: run {result['run_s']:.2f} s, "
                    f"setup {result['setup_s']:.2f} s, peak RSS {result['peak_rss_kib'] / 1024:.0f} MiB"
                    + (f" (largest worker process {child / 1024:.0f} MiB)" if child else ""))
        return [m for m in measurements if m.runs]

    def run_memory(self, done: Sequence[Measurement], data: DataFile) -> list[dict[str, Any]]:
        """Peak RSS of each memory engine on one workload over files of growing size.

        A main measurement of the same engine, workload and size is reused, not run again.
        """
        args = self.args
        workload = next((w for w in self.workloads if w.name == args.memory_workload), None)
        if workload is None:
            workload = build_workloads([args.memory_workload], args.rules)[0]
        base = args.memory_events or args.events
        rows = []
        for engine in parse_engines(args.memory_engines):
            for scale in args.memory_scales:
                events = base * scale
                reuse = next((m for m in done if m.engine == engine.label and m.workload == workload.name
                              and m.file_events == events), None)
                if reuse is not None:
                    result = reuse.best
                else:
                    file = data if events == data.events else ensure_data(events, args.seed,
                                                                          regenerate=args.regenerate, log=log)
                    log(f"memory: {engine.label}/{workload.name} on {events:,} events ...")
                    try:
                        result = measure(self._spec(engine, workload, file), args.timeout, self.code)
                    except MeasurementError as error:
                        self.failures.append(f"memory {engine.label} x{scale}: {error}")
                        log(f"memory {engine.label} x{scale}: FAILED: {str(error).splitlines()[0]}")
                        continue
                    log(f"memory: run {result['run_s']:.2f} s, peak RSS {result['peak_rss_kib'] / 1024:.0f} MiB")
                peak = result["peak_rss_kib"] * 1024 / 1e6
                ready = result["rss_ready_kib"] * 1024 / 1e6 if result.get("rss_ready_kib") else None
                child = result["child_peak_rss_kib"] * 1024 / 1e6 if result.get("child_peak_rss_kib") else None
                rows.append({"engine": engine.label, "workload": workload.name, "scale": scale, "events": events,
                             "mb": result["bytes"] / 1e6, "peak_rss_mb": peak, "ready_rss_mb": ready,
                             "worker_peak_rss_mb": child,
                             "growth_mb": peak - ready if ready is not None else None,
                             "events_per_s": events / result["run_s"], "results": sum(result["hits"].values())})
        return rows

    def run_profiles(self, data: DataFile) -> list[str]:
        """Each planned measurement once under cProfile; the .prof files land in bench/results/."""
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        written = []
        for ref, workload in self.plan():
            name = f"profile-{ref.label}-{workload.name if workload else 'none'}-{data.events}.prof"
            path = RESULTS_DIR / name
            log(f"profiling {ref.label}/{workload.name if workload else '-'} -> {path}")
            measure(self._spec(ref, workload, data, str(path)), self.args.timeout, self.code)
            written.append(str(path))
        return written


def _rejection_summary(measurements: Sequence[Measurement]) -> list[str]:
    lines = []
    for m in measurements:
        rejected = m.best.get("rejected") or {}
        if not rejected:
            continue
        reasons = Counter(reason.split(" at ")[0][:90] for reason in rejected.values())
        lines.append(f"- {m.engine} / {m.workload}: {len(rejected)} of {m.best.get('rules')} rules rejected")
        lines.extend(f"  - {count} × {reason}" for reason, count in reasons.most_common(8))
    return lines


def _throughput_table(measurements: Sequence[Measurement], basis: str) -> str:
    labels = list(dict.fromkeys(m.engine for m in measurements))
    ratios = throughput_ratios(measurements, basis)
    rows = []
    for m in measurements:
        if m.workload is None:
            continue
        cells = {r["versus"]: r["ratio"] for r in ratios if r["workload"] == m.workload and r["engine"] == m.engine}
        rows.append([m.workload, m.engine, *[cells.get(label) for label in labels]])
    return render_table(["workload", "engine", *[f"÷ {label}" for label in labels]], rows)


def _results_section(document: dict[str, Any], measurements: Sequence[Measurement]) -> list[str]:
    """Result counts per engine, and per other engine the rules whose counts differ from the first engine's."""
    names: dict[str, str] = document.get("rule_names") or {}
    labels = list(dict.fromkeys(m.engine for m in measurements if m.workload is not None))
    if not labels:
        return []
    first, others = labels[0], labels[1:]
    rows, notes = [], []
    for workload in document["workloads"]:
        found = {m.engine: m for m in measurements if m.workload == workload["name"]}
        row: list[Any] = [workload["name"], workload["rules"],
                          *[found[label].results if label in found else None for label in labels]]
        for other in others:
            if first not in found or other not in found:
                row.append(None)
                continue
            diff = disagreements(found[first], found[other])
            row.append(f"{len(diff['differing'])} of {diff['both_ran']}")
            for item in diff["differing"][:4]:
                notes.append(f"- {workload['name']}: {names.get(item['rule_id'], item['rule_id'])}: "
                             f"{first} {item[first]:,}, {other} {item[other]:,}")
        rows.append(row)
    headers = ["workload", "rules", *[f"results {label}" for label in labels],
               *[f"rules ≠ {first} ({other})" for other in others]]
    out = ["", "Results (events, sequences or samples found; seed rule ground truth: "
           f"{document['data']['expected_seed_hits']}); `rules ≠` counts the rules both engines ran whose "
           "result counts differ", "", render_table(headers, rows)]
    return out + (["", "Largest differences:", *notes] if notes else [])


def _describe_code(code: dict[str, Any], machine: dict[str, Any]) -> str:
    if code.get("source") == "commit":
        return f"eqlite at commit {code['commit'][:12]} ({code['rev']})"
    dirty = " with uncommitted changes" if machine.get("git_dirty") else ""
    return f"eqlite working tree at {str(machine.get('git_commit'))[:12]}{dirty}"


def render(document: dict[str, Any], measurements: list[Measurement]) -> str:
    """The report printed on standard output, from the JSON document and the measurements."""
    data, machine = document["data"], document["machine"]
    packages = machine["packages"]
    out = [
        f"data: {Path(data['path']).name}: {data['events']:,} events, {data['bytes'] / 1e6:,.1f} MB "
        f"(seed rule ground truth: {data['expected_seed_hits']} sequences)"
        + (f", cut into {data['files']} files of about {data['files_of_mb']} MB" if data.get("files_of_mb") else ""),
        f"machine: {machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}, "
        f"eqlite {packages['eqlite']}, eql {packages['eql']}, orjson {packages['orjson']}; "
        f"load average at start {machine['load_average']}, at end {machine.get('load_average_end')}",
        f"code: {_describe_code(machine.get('code') or {}, machine)}",
        f"timing: best of {document['options']['repeat']} (run time); peak RSS: largest over the repetitions; "
        "MB = 10^6 bytes",
        *[f"workload {w['name']}: {w['description']}; kinds {w['composition']}" for w in document["workloads"]],
        "",
        render_table(MEASUREMENT_HEADERS, measurement_rows(measurements)),
    ]
    if any(m.workload is not None for m in measurements):
        out += ["", "Relative throughput: events/s of the row's engine ÷ events/s of the column's engine "
                "(> 1: the row is faster)", "", _throughput_table(measurements, "wall"),
                "", "The same on CPU time (events per CPU second; less sensitive to other jobs on the machine)",
                "", _throughput_table(measurements, "cpu")]
    costs = rule_cost(measurements)
    if costs:
        out += ["", "Cost of more rules: events/s with the seed rule ÷ events/s with the workload", "",
                render_table(["engine", "workload", "× slower than 1 rule", "× slower, CPU time"],
                             [[c["engine"], c["workload"], c["slowdown"], c["slowdown_cpu"]] for c in costs])]
    work = work_rows(measurements)
    if work:
        out += ["", "Work of the fast path, from its counts (the same from run to run, whatever the machine's "
                "speed): shares of the lines, and stages tried per line", "",
                render_table(["engine", "workload", "lines", "parsed %", "noted unparsed %", "skipped unparsed %",
                              "stages tried per line"], work)]
    out += _results_section(document, measurements)
    rejections = _rejection_summary(measurements)
    if rejections:
        out += ["", "Rules an engine could not run (counted, never silently dropped):", *rejections]
    memory = document.get("memory") or []
    if memory:
        out += ["", f"Memory: workload {memory[0]['workload']} on files of growing size", "",
                render_table(["engine", "scale", "events", "file MB", "RSS after setup MB", "peak RSS MB",
                              "largest worker MB", "growth MB", "events/s", "results"],
                             [[r["engine"], f"{r['scale']}×", r["events"], r["mb"], r["ready_rss_mb"],
                               r["peak_rss_mb"], r.get("worker_peak_rss_mb"), r["growth_mb"], r["events_per_s"],
                               r["results"]] for r in memory])]
        for label in dict.fromkeys(r["engine"] for r in memory):
            rows = [r for r in memory if r["engine"] == label]
            first, last = rows[0], rows[-1]
            growth = ratio(last["peak_rss_mb"], first["peak_rss_mb"])
            if growth is not None and last["events"] != first["events"]:
                out.append(f"- {label}: peak RSS ×{growth:.2f} for ×{last['events'] / first['events']:.0f} events")
    out += [f"warning: {warning}" for warning in document.get("warnings") or []]
    failures = document.get("failures") or []
    if failures:
        out += ["", "Failures:", *[f"- {failure}" for failure in failures]]
    return "\n".join(out)


def build_document(args: argparse.Namespace, engines: Sequence[EngineRef], machine: dict[str, Any], data: DataFile,
                   workloads: Sequence[Workload], measurements: Sequence[Measurement], memory: list[dict[str, Any]],
                   failures: list[str]) -> dict[str, Any]:
    """Everything a run measured, as written by ``--json`` (and read back by ``--render``)."""
    return {
        "command": [Path(sys.executable).name, *sys.argv],
        "machine": machine,
        "options": {"events": args.events, "seed": args.seed, "repeat": args.repeat,
                    "engines": [ref.label + ("" if ref.label == ref.target else f"={ref.target}") for ref in engines],
                    "rules_root": str(args.rules)},
        "data": {"path": str(data.path), "events": data.events, "bytes": data.size,
                 "expected_seed_hits": data.expected_seed_hits,
                 "files": len(split_data(data, args.files_of, log=log)) if args.files_of is not None else 1,
                 "files_of_mb": args.files_of},
        "workloads": [{"name": w.name, "description": w.description, "rules": len(w.rules),
                       "composition": w.composition(), "rule_ids": list(w.rule_ids)} for w in workloads],
        "rule_names": {rule.rule_id: rule.name for w in workloads for rule in w.rules},
        "measurements": [m.to_dict() for m in measurements],
        "ratios": throughput_ratios(measurements) + throughput_ratios(measurements, "cpu"),
        "rule_cost": rule_cost(measurements),
        "memory": memory,
        "failures": failures,
    }


def rerender(path: Path, rules_root: Path) -> str:
    """The report of a saved ``--json`` file (rule names are looked up in the corpus if the file lacks them)."""
    document = orjson.loads(path.read_bytes())
    if "rule_names" not in document:
        try:
            rules = [*load_builtin_rules(), *active_eql_rules(rules_root)]
        except FileNotFoundError:
            rules = []
        document["rule_names"] = {rule.rule_id: rule.name for rule in rules}
    return render(document, [Measurement.from_dict(item) for item in document["measurements"]])


def _print_profiles(paths: Sequence[str], top: int = 25) -> None:
    for path in paths:
        print(f"\n## {Path(path).name}: top {top} by own time\n")
        stats = pstats.Stats(path, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.render is not None:
        print(rerender(args.render, args.rules))
        return 0
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be positive")
    try:
        engines = parse_engines(args.engines)
        names = _csv(args.workloads)
        needs_rules = any(uses_rules(ref) for ref in engines)
        workloads = build_workloads(names, args.rules) if needs_rules else []
        if args.memory:
            parse_engines(args.memory_engines)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    machine = machine_info()
    data = ensure_data(args.events, args.seed, DATA_DIR, regenerate=args.regenerate, log=log)
    with tempfile.TemporaryDirectory(prefix="eqlite-bench-code-") as scratch:
        code_path = None
        code: dict[str, Any] = {"source": "working tree", "path": str(SOURCE)}
        if args.code is not None:
            try:
                commit = export_source(args.code, Path(scratch))
            except ValueError as error:
                parser.error(f"--code {args.code}: {error}")
            code_path = Path(scratch) / "src"
            code = {"source": "commit", "rev": args.code, "commit": commit, "path": str(code_path)}
        package = (code_path or SOURCE) / "eqlite"
        code["fingerprint_start"] = source_fingerprint(package)
        bench = Bench(args, engines, workloads, code_path)
        if args.profile:
            _print_profiles(bench.run_profiles(data))
            return 0
        measurements = bench.run_main(data)
        memory = bench.run_memory(measurements, data) if args.memory else []
        code["fingerprint_end"] = source_fingerprint(package)
    machine["load_average_end"] = machine_info()["load_average"]
    machine["code"] = code
    warnings = []
    if code["fingerprint_start"] != code["fingerprint_end"]:
        warnings.append(f"eqlite's source under {code['path']} changed during the run, so the measurements may "
                        "mix versions; use --code HEAD to measure one commit")
    document = build_document(args, engines, machine, data, workloads, measurements, memory, bench.failures)
    document["warnings"] = warnings
    print(render(document, measurements))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        log(f"wrote {args.json}")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
