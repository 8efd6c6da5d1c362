"""Bare ``evtx`` parse rate vs eqlite's EVTX -> ECS convert rate, over a folder of EVTX files.

Run:  python bench/bench_evtx.py [FOLDER] [--profile winlogbeat|agent] [--repeat N]
(FOLDER defaults to shared/datasets/background beside the repo.)

Three numbers per run, each the best of ``--repeat`` passes over every file:

* bare parse: iterate ``PyEvtxParser(path, number_of_threads=T).records_json()`` and touch nothing
  (T = 1, the setting eqlite uses, and T = 0, the package default);
* bare parse + ``orjson.loads``: what any consumer of the JSON pays at least;
* convert: ``read_windows_file`` end to end (parse, normalize, map to ECS, yield SourceEvents).

The ratio that matters is convert / bare parse (best of the two thread settings).
Zip/JSON-lines inputs are measured separately at the end (``orjson.loads`` per line vs convert).
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

import orjson
from evtx import PyEvtxParser

from eqlite.sources.base import SourceStats
from eqlite.sources.windows import read_windows_file

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "background"


def _best(passes: int, run: Callable[[], int]) -> tuple[int, float, float]:
    """Records, best wall seconds and best CPU seconds of ``passes`` runs.

    CPU time is the fairer measure on a shared machine (other processes stretch wall time); for the
    multi-threaded parse it adds up all threads, so compare that one by wall time.
    """
    best_wall = best_cpu = float("inf")
    count = 0
    for _ in range(passes):
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
    parser.add_argument("--profile", default="winlogbeat", choices=["winlogbeat", "agent"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-zip", action="store_true", help="skip the zip/JSON-lines measurement")
    args = parser.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.folder, "**", "*.evtx"), recursive=True))
    zips = sorted(glob.glob(os.path.join(args.folder, "**", "*.zip"), recursive=True))
    if not files:
        print(f"no .evtx files under {args.folder}", file=sys.stderr)
        return 1
    size = sum(os.path.getsize(f) for f in files)
    print(f"command: python bench/bench_evtx.py {args.folder} --profile {args.profile} --repeat {args.repeat}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {len(files)} EVTX files, {size / 1e6:.1f} MB")
    _convert(files[:50], args.profile)  # compile the common mapping functions outside the timing
    rows = {}
    print(f"  {'':<34} {'records':>8} {'wall s':>8} {'rec/s wall':>11} {'CPU s':>8} {'rec/s CPU':>11}")
    for label, run in (
        ("bare parse, 1 thread", lambda: _bare(files, 1, False)),
        ("bare parse, default threads", lambda: _bare(files, 0, False)),
        ("bare parse + orjson.loads", lambda: _bare(files, 1, True)),
        (f"convert to ECS ({args.profile})", lambda: _convert(files, args.profile)),
    ):
        count, wall, cpu = _best(args.repeat, run)
        rows[label] = (count / wall, count / cpu)
        print(f"  {label:<34} {count:>8} {wall:>8.3f} {count / wall:>11,.0f} {cpu:>8.3f} {count / cpu:>11,.0f}")
    convert_wall, convert_cpu = rows[f"convert to ECS ({args.profile})"]
    bare_cpu = rows["bare parse, 1 thread"][1]
    bare_wall = max(rows["bare parse, 1 thread"][0], rows["bare parse, default threads"][0])
    print(f"  convert / bare parse, CPU time, 1 thread each: {convert_cpu / bare_cpu:.0%}")
    print(f"  convert / best bare parse, wall time:          {convert_wall / bare_wall:.0%}")
    print(f"  convert / (bare parse + orjson.loads), CPU:    {convert_cpu / rows['bare parse + orjson.loads'][1]:.0%}")
    if zips and not args.no_zip:
        count, wall, cpu = _best(2, lambda: _json_bare(zips))
        print(f"  JSON lines in {len(zips)} zips, orjson.loads only: {count} lines, {count / cpu:,.0f} lines/s CPU")
        count, wall, cpu = _best(2, lambda: _convert(zips, args.profile))
        print(f"  JSON lines in {len(zips)} zips, convert to ECS:    {count} events, {count / cpu:,.0f} events/s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
