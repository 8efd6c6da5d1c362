"""Bare ``evtx`` parse rate vs eqlite's EVTX -> ECS convert rate, over a folder of EVTX files.

Run:  python bench/bench_evtx.py [FOLDER] [--profile winlogbeat|agent ...] [--repeat N]
(FOLDER defaults to shared/datasets/background beside the repo; both profiles unless ``--profile`` is given.)

Every row is the best of ``--repeat`` passes over every file, timed by wall clock and by CPU time:

* bare parse, 1 thread: iterate ``PyEvtxParser(path, number_of_threads=1).records_json()`` and touch
  nothing. This is the parser setting eqlite uses.
* bare parse, default threads: the same with ``number_of_threads=0``, the package default (a thread per
  core). Compare it by wall time only: its CPU time adds up all threads.
* bare parse + orjson.loads: what any consumer of the records' JSON pays at least.
* convert to ECS (<profile>): ``read_windows_file`` end to end: parse, decode, normalize, map to ECS,
  yield a ``SourceEvent`` per record. One process, one thread.

The ratios that matter are convert / bare parse: by CPU time with one thread each (the steadier number on
a shared machine), and by wall time against the faster of the two bare parse settings. The per-record
costs split a convert into parse, JSON decoding and the rest (normalizing and mapping in Python).
Zip/JSON-lines inputs are measured separately at the end (``orjson.loads`` per line vs convert).

With ``--match``, two more rows run rules over the converted events as ``eqlite run`` does (fast path,
winlogbeat profile, alerts not written): the seed rule, and every active EQL rule of
``../shared/datasets/detection-rules``. Rule compilation is outside the timing.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from evtx import PyEvtxParser

from eqlite.sources.base import SourceStats
from eqlite.sources.windows import read_windows_file

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "background"
PROFILE_NAMES = ("winlogbeat", "agent")


def _best(passes: int, run: Callable[[], int]) -> tuple[int, float, float]:
    """Records, best wall seconds and best CPU seconds of ``passes`` runs.

    CPU time is the fairer measure on a shared machine (other processes stretch wall time); for the
    multi-threaded parse it adds up all threads, so compare that one by wall time.
    """
    best_wall = best_cpu = float("inf")
    count = 0
    for _ in range(passes):
        if isinstance(run, _Match):
            run.prepare()
        wall, cpu = time.perf_counter(), time.process_time()
        count = run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return count, best_wall, best_cpu


def _bare(files: list[str], threads: int, decode: bool) -> int:
    count = 0
    for path in files:
        try:
            for record in PyEvtxParser(path, number_of_threads=threads).records_json():
                if decode:
                    orjson.loads(record["data"])
                count += 1
        except RuntimeError:
            continue
    return count


def _convert(files: list[str], profile: str) -> int:
    stats = SourceStats()
    count = 0
    for path in files:
        for _ in read_windows_file(path, profile, stats=stats):
            count += 1
    return count


class _Match:
    """Convert and match, as ``eqlite run`` does; each pass compiles its rules before its timing starts."""

    def __init__(self, files: list[str], rules: list[Any]) -> None:
        self.files, self.rules = files, rules
        self.execution: Any = None

    def prepare(self) -> None:
        from eqlite.scheduler.fast import FastExecution
        from eqlite.semantic.schema import Schema

        self.execution = FastExecution(self.rules, Schema.ecs())

    def __call__(self) -> int:
        from eqlite.scheduler.fast import run_paths

        stats = SourceStats()
        run_paths(self.execution, self.files, stats)
        self.execution.finish()
        return stats.events


def _rules(workload: str) -> list[Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from enginebench.workloads import DEFAULT_RULES_ROOT, build_workloads

    return list(build_workloads([workload], DEFAULT_RULES_ROOT)[0].rules)


def _json_bare(zips: list[str]) -> int:
    count = 0
    for path in zips:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                with archive.open(member) as handle:
                    for line in io.BufferedReader(handle, buffer_size=1 << 20):  # type: ignore[type-var]
                        orjson.loads(line)
                        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--profile", action="append", choices=PROFILE_NAMES,
                        help="profile to convert with (repeatable; default: both)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-zip", action="store_true", help="skip the zip/JSON-lines measurement")
    parser.add_argument("--match", action="store_true",
                        help="also convert and match: the seed rule, and every active EQL rule (winlogbeat)")
    args = parser.parse_args(argv)
    profiles: list[str] = args.profile or list(PROFILE_NAMES)
    files = sorted(glob.glob(os.path.join(args.folder, "**", "*.evtx"), recursive=True))
    zips = sorted(glob.glob(os.path.join(args.folder, "**", "*.zip"), recursive=True))
    if not files:
        print(f"no .evtx files under {args.folder}", file=sys.stderr)
        return 1
    size = sum(os.path.getsize(f) for f in files)
    chosen = "".join(f" --profile {p}" for p in profiles) + (" --match" if args.match else "")
    print(f"command: python bench/bench_evtx.py {args.folder}{chosen} --repeat {args.repeat}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {len(files)} EVTX files, {size / 1e6:.1f} MB")
    for profile in profiles:
        _convert(files, profile)  # compile every mapping function outside the timing
    rows: dict[str, tuple[int, float, float]] = {}
    print(f"  {'':<34} {'records':>8} {'wall s':>8} {'rec/s wall':>11} {'CPU s':>8} {'rec/s CPU':>11}")
    runs: list[tuple[str, Callable[[], int]]] = [
        ("bare parse, 1 thread", lambda: _bare(files, 1, False)),
        ("bare parse, default threads", lambda: _bare(files, 0, False)),
        ("bare parse + orjson.loads", lambda: _bare(files, 1, True)),
    ]
    runs += [(f"convert to ECS ({p})", lambda p=p: _convert(files, p)) for p in profiles]  # type: ignore[misc]
    if args.match:
        seed, every = _rules("seed"), _rules("all")
        runs += [("convert + match, seed rule", _Match(files, seed)),
                 (f"convert + match, {len(every)} rules", _Match(files, every))]
    for label, run in runs:
        count, wall, cpu = rows[label] = _best(args.repeat, run)
        print(f"  {label:<34} {count:>8} {wall:>8.3f} {count / wall:>11,.0f} {cpu:>8.3f} {count / cpu:>11,.0f}")
    bare_n, bare_wall, bare_cpu = rows["bare parse, 1 thread"]
    best_bare_wall = min(bare_wall, rows["bare parse, default threads"][1])
    decode_cpu = rows["bare parse + orjson.loads"][2]
    for profile in profiles:
        count, wall, cpu = rows[f"convert to ECS ({profile})"]
        print(f"  {profile}: convert / bare parse, CPU time, 1 thread each:   {bare_cpu / cpu * count / bare_n:.0%}")
        print(f"  {profile}: convert / best bare parse (of 1 and default threads), wall time: "
              f"{best_bare_wall / wall * count / bare_n:.0%}")
        print(f"  {profile}: convert / (bare parse + orjson.loads), CPU time: {decode_cpu / cpu * count / bare_n:.0%}")
        print(f"  {profile}: CPU per record: parse {bare_cpu / bare_n * 1e6:.1f} us, orjson.loads "
              f"{(decode_cpu - bare_cpu) / bare_n * 1e6:.1f} us, normalize + map + yield "
              f"{(cpu - decode_cpu) / count * 1e6:.1f} us")
    for label in [label for label in rows if label.startswith("convert + match")]:
        count, wall, cpu = rows[label]
        print(f"  {label}: / bare parse, CPU time: {bare_cpu / cpu * count / bare_n:.0%}; "
              f"/ best bare parse, wall time: {best_bare_wall / wall * count / bare_n:.0%}")
    if zips and not args.no_zip:
        count, wall, cpu = _best(2, lambda: _json_bare(zips))
        print(f"  JSON lines in {len(zips)} zips, orjson.loads only: {count} lines, {count / cpu:,.0f} lines/s CPU")
        for profile in profiles:
            count, wall, cpu = _best(2, lambda p=profile: _convert(zips, p))  # type: ignore[misc]
            print(f"  JSON lines in {len(zips)} zips, convert to ECS ({profile}): {count} events, "
                  f"{count / cpu:,.0f} events/s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
