"""Instructions executed by the fast path's feed, for one or more versions of eqlite, side by side.

Usage: .venv/bin/python bench/bench_instructions.py [--events N] [--workload all] [--code REV]...
           [--jobs 2] [--json OUT]

Each ``--code`` is a commit (exported with ``git archive``) or ``WORK`` for the working tree; with
none, the working tree alone is counted. The first version is the baseline of the ratios. See
enginebench/instructions.py for what is counted and why, and bench/README.md for the output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from enginebench.code import SOURCE, export_source
from enginebench.data import DATA_DIR, ensure_data
from enginebench.instructions import WORK_COUNTS, Count, ToolMissing, count, tools
from enginebench.report import render_table
from enginebench.workloads import DEFAULT_RULES_ROOT, WORKLOAD_NAMES

WORKING_TREE = "WORK"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="generated events to feed (default 20,000)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--workload", choices=WORKLOAD_NAMES, default="all", help="the rules (default all)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_ROOT,
                        help="Elastic's detection-rules folder (default ../shared/datasets/detection-rules)")
    parser.add_argument("--code", action="append", metavar="REV",
                        help=f"a commit to count, or {WORKING_TREE} for the working tree; repeat to compare "
                             "(the first is the baseline)")
    parser.add_argument("--jobs", type=int, default=2, help="versions counted at once (default 2)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed for each count")
    parser.add_argument("--json", type=Path, help="also write the counts here as JSON")
    return parser


def rows(counts: list[Count]) -> list[list[Any]]:
    """Table rows: instructions a line, the ratio to the first version, and the work counts a line.

    >>> base = Count("a", 2_000_000, 10, {"lines": 10, "parsed": 5})
    >>> rows([base, Count("b", 1_500_000, 10, {"lines": 10, "parsed": 4})])[1]
    ['b', 1500000, 150000, '0.750', 'parsed 40.0%']
    """
    baseline = counts[0].per_line if counts else 0.0
    table = []
    for item in counts:
        work = ", ".join(f"{name} {item.work[name] / item.lines:.1%}" for name in ("parsed", "noted_only", "skipped")
                         if name in item.work and item.lines)
        if "evaluated_stages" in item.work and item.lines:
            work += f", stages tried a line {item.work['evaluated_stages'] / item.lines:.2f}"
        table.append([item.label, item.instructions, round(item.per_line),
                      f"{item.per_line / baseline:.3f}" if baseline else "-", work])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.events < 1 or args.jobs < 1:
        parser.error("--events and --jobs must be positive")
    try:
        tools()
    except ToolMissing as error:
        print(f"bench_instructions: {error}", file=sys.stderr)
        return 2
    data = ensure_data(args.events, args.seed, DATA_DIR, log=lambda text: print(text, file=sys.stderr))
    versions = args.code or [WORKING_TREE]
    with tempfile.TemporaryDirectory(prefix="eqlite-bench-code-") as scratch:
        sources: list[tuple[str, Path]] = []
        for number, rev in enumerate(versions):
            if rev == WORKING_TREE:
                sources.append(("working tree", SOURCE))
                continue
            try:
                commit = export_source(rev, Path(scratch) / str(number))
            except ValueError as error:
                parser.error(f"--code {rev}: {error}")
            sources.append((f"{rev} ({commit[:10]})", Path(scratch) / str(number) / "src"))
        print(f"counting {len(sources)} version(s) over {data.path.name} under callgrind "
              "(several minutes each) ...", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(count, label, source, data.path, args.workload, args.rules, args.timeout)
                       for label, source in sources]
            try:
                counts = [future.result() for future in futures]
            except RuntimeError as error:
                print(f"bench_instructions: {error}", file=sys.stderr)
                return 1
    headers = ["code", "instructions", "a line", "× first", "work, a line"]
    print(f"The fast path's feed over {data.path.name}, workload {args.workload!r} "
          f"(callgrind, PYTHONHASHSEED=0; building the rules not counted)\n")
    print(render_table(headers, rows(counts)))
    if args.json is not None:
        document: dict[str, Any] = {
            "events": args.events, "seed": args.seed, "workload": args.workload, "work_counts": list(WORK_COUNTS),
            "counts": [{"code": item.label, "instructions": item.instructions, "lines": item.lines,
                        "work": item.work} for item in counts]}
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
