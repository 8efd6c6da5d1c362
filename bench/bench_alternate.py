"""`eqlite run` end to end, for two or more versions of eqlite, run in turn round after round.

Usage: .venv/bin/python bench/bench_alternate.py --code REV --code WORK [--events N] [--workload all]
           [--workers 2] [--rounds 4] [--floor] [--json OUT]

This machine's speed moves by up to 2× within an hour, so one version measured after another can
win or lose by the machine alone. Here the versions take turns (A B A B ...), each run a fresh
``eqlite run`` subprocess over the same file and rule files, as ``bench_engine.py``'s
``eqlite-cli`` engines run it; the medians, and how many rounds each version won, are compared.
Every run's alerts must be the same lines as the first version's (sorted, as two versions may
write them in another order); a difference is reported and the exit code is 1.

With ``--floor``, each round first times the two-core floor (``bench_engine.py``'s ``floor-2w``:
as many forked processes as ``--workers``, each ``orjson.loads`` its share of the lines), and each
version's run is also given as a share of the floor of its round: how fast it is for the machine's
speed at that moment, which says what it reaches in a slow hour or a fast one.

Each ``--code`` is a commit (its ``src/`` exported with ``git archive`` and put first on
``PYTHONPATH``) or ``WORK`` for the working tree. The first version is the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from enginebench.code import SOURCE, export_source
from enginebench.data import DATA_DIR, ensure_data
from enginebench.engines import eqlite_run_command, events_reported, write_rule_files
from enginebench.report import machine_info, render_table
from enginebench.workloads import DEFAULT_RULES_ROOT, WORKLOAD_NAMES, build_workloads

WORKING_TREE = "WORK"


@dataclass
class Version:
    label: str
    source: Path
    seconds: list[float] = field(default_factory=list)
    wins: int = 0
    of_floor: list[float] = field(default_factory=list)  # the round's floor seconds ÷ this run's seconds

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", action="append", metavar="REV", required=True,
                        help=f"a commit, or {WORKING_TREE} for the working tree; two or more "
                             "(the first is the baseline)")
    parser.add_argument("--events", type=int, default=1_000_000, help="generated events (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--workload", choices=WORKLOAD_NAMES, default="all", help="the rules (default all)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_ROOT,
                        help="Elastic's detection-rules folder (default ../shared/datasets/detection-rules)")
    parser.add_argument("--workers", type=int, default=2, help="eqlite run --workers (default 2)")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each version (default 4)")
    parser.add_argument("--floor", action="store_true",
                        help="also time the two-core floor each round, and give each run as a share of it")
    parser.add_argument("--json", type=Path, help="also write the times here as JSON")
    return parser


def sorted_lines(path: Path) -> list[bytes]:
    with open(path, "rb") as handle:
        return sorted(handle)


def run_once(version: Version, data: Path, rules: Path, alerts: Path, workers: int) -> tuple[float, int]:
    """Seconds of one ``eqlite run`` (wall, the subprocess's whole life), and the events it reports."""
    environment = dict(os.environ, PYTHONPATH=str(version.source))
    alerts.unlink(missing_ok=True)
    started = time.perf_counter()
    completed = subprocess.run(eqlite_run_command([str(data)], rules, alerts, workers), capture_output=True,
                               check=False, env=environment)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{version.label}: eqlite run exited with {completed.returncode}: "
                           f"{completed.stderr.decode(errors='replace')[-2000:]}")
    return seconds, events_reported(completed.stderr) or 0


def summary_rows(versions: list[Version], events: int) -> list[list[Any]]:
    """One row a version: its times, median, events/s at the median, the ratio to the first, and
    (with ``--floor``) its median share of its rounds' floor.

    >>> a, b = Version("a", Path()), Version("b", Path())
    >>> a.seconds, b.seconds, b.wins = [20.0, 22.0], [16.0, 18.0], 2
    >>> summary_rows([a, b], 1_000_000)[1]
    ['b', '16.00, 18.00', '17.00', 58824, '0.810', '2 of 2']
    >>> a.of_floor, b.of_floor = [0.2, 0.18], [0.25, 0.22]
    >>> summary_rows([a, b], 1_000_000)[1][-1]
    '0.235 (0.220-0.250)'
    """
    base = versions[0].median
    rows: list[list[Any]] = []
    for number, version in enumerate(versions):
        row = [version.label, ", ".join(f"{second:.2f}" for second in version.seconds), f"{version.median:.2f}",
               round(events / version.median), f"{version.median / base:.3f}",
               "-" if number == 0 else f"{version.wins} of {len(version.seconds)}"]
        if version.of_floor:
            row.append(f"{statistics.median(version.of_floor):.3f} "
                       f"({min(version.of_floor):.3f}-{max(version.of_floor):.3f})")
        rows.append(row)
    return rows


def floor_seconds(data: Path, workers: int) -> float:
    """Seconds of the two-core floor over ``data`` (``bench_engine.py``'s ``floor-2w``), now."""
    from enginebench.engines import ParallelFloorEngine

    started = time.perf_counter()
    ParallelFloorEngine(workers).run([str(data)])
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.code) < 2 or args.rounds < 1 or args.events < 1 or args.workers < 1:
        parser.error("give two or more --code, and positive --rounds, --events and --workers")
    data = ensure_data(args.events, args.seed, DATA_DIR, log=lambda text: print(text, file=sys.stderr))
    (workload,) = build_workloads([args.workload], args.rules)
    with tempfile.TemporaryDirectory(prefix="eqlite-bench-alternate-") as scratch:
        folder = Path(scratch)
        rules = folder / "rules"
        rules.mkdir()
        write_rule_files(workload.rules, rules)
        versions: list[Version] = []
        for number, rev in enumerate(args.code):
            if rev == WORKING_TREE:
                versions.append(Version("working tree", SOURCE))
                continue
            try:
                commit = export_source(rev, folder / str(number))
            except ValueError as error:
                parser.error(f"--code {rev}: {error}")
            versions.append(Version(f"{rev} ({commit[:10]})", folder / str(number) / "src"))
        expected: list[bytes] | None = None
        differ: list[str] = []
        events = 0
        floors: list[float] = []
        for round_number in range(1, args.rounds + 1):
            times = []
            if args.floor:
                floors.append(floor_seconds(data.path, args.workers))
                print(f"round {round_number}: floor on {args.workers} cores {floors[-1]:.2f} s", file=sys.stderr)
            for version in versions:
                alerts = folder / "alerts.ndjson"
                seconds, events = run_once(version, data.path, rules, alerts, args.workers)
                version.seconds.append(seconds)
                if floors:
                    version.of_floor.append(floors[-1] / seconds)
                times.append(seconds)
                lines = sorted_lines(alerts)
                if expected is None:
                    expected = lines
                elif lines != expected and version.label not in differ:
                    differ.append(version.label)
                print(f"round {round_number}: {version.label} {seconds:.2f} s", file=sys.stderr)
            for version, seconds in zip(versions[1:], times[1:], strict=True):
                version.wins += seconds < times[0]
    print(f"`eqlite run --workers {args.workers}` over {data.path.name}, workload {args.workload!r} "
          f"({len(workload.rules)} rules), {args.rounds} alternating rounds (wall seconds of each run)\n")
    columns = ["code", "runs (s)", "median s", "events/s at the median", "× first", "faster than first"]
    if floors:
        print(f"the floor on {args.workers} cores, each round: {', '.join(f'{second:.2f}' for second in floors)} s\n")
        columns.append(f"÷ floor-{args.workers}w of its round: median (range)")
    print(render_table(columns, summary_rows(versions, events or args.events)))
    print(f"\nalerts: {'the same in every run' if not differ else 'DIFFERENT for ' + ', '.join(differ)} "
          f"({len(expected or [])} lines)")
    if args.json is not None:
        document = {"events": args.events, "seed": args.seed, "workload": args.workload, "workers": args.workers,
                    "machine": machine_info(), "alerts_lines": len(expected or []), "alerts_differ": differ,
                    "floor_seconds": floors,
                    "versions": [{"code": version.label, "seconds": version.seconds, "median": version.median,
                                  "wins": version.wins, "of_floor": version.of_floor} for version in versions]}
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
