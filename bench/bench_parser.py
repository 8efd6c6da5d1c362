"""Parse every EQL rule query of the detection-rules corpus; report the total time.

Usage: python bench/bench_parser.py [--rules DIR] [--repeat N]

Compares the hand-written parser (what eqlite uses) with Lark's LALR parser driven by the
same grammar file, side by side in one run, and prints the ratio.
"""

from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path

from eqlite.semantic.analyzer import analyze
from eqlite.semantic.schema import Schema
from eqlite.syntax.parser import parse
from eqlite.syntax.reference import _lark, parse_reference

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "detection-rules"


def active_eql_queries(root: Path) -> list[str]:
    queries = []
    for path in sorted(root.rglob("*.toml")):
        if "_deprecated" in path.parts or "seed-rule-history" in path.parts:
            continue
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        rule = document.get("rule", {})
        if rule.get("language") == "eql" and document.get("metadata", {}).get("maturity") != "deprecated":
            queries.append(rule["query"])
    return queries


def timed(function: object, queries: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for query in queries:
            function(query)  # type: ignore[operator]
        runs.append(time.perf_counter() - start)
    return min(runs)  # the least-disturbed run: these machines are shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    queries = active_eql_queries(args.rules)
    _lark()  # build Lark's tables outside the timing
    schema = Schema.ecs()
    fast = timed(parse, queries, args.repeat)
    checked = timed(lambda q: analyze(parse(q), schema), queries, args.repeat)
    reference = timed(parse_reference, queries, max(1, args.repeat // 2))
    size = sum(map(len, queries))
    print(f"queries: {len(queries)} active EQL rules, {size / 1e6:.2f} MB of query text")
    print(f"eqlite parser          : {fast:.3f} s  ({len(queries) / fast:,.0f} queries/s)")
    print(f"eqlite parse + analyse : {checked:.3f} s")
    print(f"Lark LALR (reference)  : {reference:.3f} s  ({reference / fast:.1f}x slower)")


if __name__ == "__main__":
    main()
