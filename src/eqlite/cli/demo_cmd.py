"""``eqlite demo``: the README's first command, end to end on generated data, no input needed.

It generates a deterministic sample of Elastic-Endpoint-style events with planted MMC20
DCOM lateral movement and near misses, shows the built-in seed rule, runs it, and prints
what it found next to the ground truth. If Elastic's rule corpus is found beside the
project, it is checked too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eqlite.alerts import Alert, AlertStore
from eqlite.cli.alerts_cmd import write_alert_table
from eqlite.cli.run_cmd import build_outcome, parse_now
from eqlite.demo import DemoConfig, write_ndjson
from eqlite.rules import load_builtin_rules
from eqlite.scheduler.executor import Execution
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceStats
from eqlite.sources.reader import read_events
from eqlite.syntax.parser import parse
from eqlite.syntax.printer import to_eql

_CORPUS = Path("shared") / "datasets" / "detection-rules"
# The project's checkout sits beside ../shared; look there, from the source tree and from the working directory.
DEFAULT_CORPORA = (Path(__file__).resolve().parents[3].parent / _CORPUS, Path.cwd().parent / _CORPUS)


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo", help="run the built-in rules on generated sample data",
        description="Generate a deterministic sample of endpoint telemetry with planted MMC20 DCOM lateral "
                    "movement and near misses, run the built-in rules over it and show the results.")
    parser.add_argument("--events", type=int, default=4000, help="events to generate (default 4000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the generated files")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="detection-rules corpus to check (default: ../shared/datasets/detection-rules "
                             "when present)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = args.out or Path(tempfile.mkdtemp(prefix="eqlite-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    events_path = out / "events.ndjson"
    started = time.perf_counter()
    truth = write_ndjson(DemoConfig.scalable(args.events, seed=args.seed) if args.events >= 4000
                         else DemoConfig(seed=args.seed, events=args.events), events_path,
                         manifest_path=out / "ground-truth.json")
    print(f"Generated {truth.events} events in {time.perf_counter() - started:.1f} s: {events_path}")
    print(f"Planted {len(truth.chains)} chains: {len(truth.expected_sequences())} true MMC20 lateral movements, "
          f"the rest near misses.\n")

    rules = load_builtin_rules()
    for rule in rules:
        print(f"Rule: {rule.name} (version {rule.version}, severity {rule.severity}, risk {rule.risk_score}, "
              f"every {rule.interval} over {rule.from_}..{rule.to})")
        print("\n".join("  " + line for line in to_eql(parse(rule.query or "")).splitlines()))
    execution = Execution.of(rules, Schema.ecs())
    stats = SourceStats()
    started = time.perf_counter()
    for record in read_events([str(events_path)], stats, index_from_file_name=False):
        execution.feed(record)
    outcome = build_outcome(execution.finish(), parse_now(None))
    elapsed = time.perf_counter() - started
    store_path = out / "alerts.db"
    with AlertStore(str(store_path)) as store:
        written = store.write(outcome.alerts)
    shells = [alert for alert in outcome.alerts if alert.get("kibana.alert.group.index") is None]
    print(f"\n{len(shells)} alerts ({len(outcome.alerts)} documents with building blocks) from "
          f"{execution.events} events in {elapsed:.2f} s, stored in {store_path} ({written.written} new):\n")
    by_group: dict[str, list[Alert]] = {}
    for alert in outcome.alerts:
        if alert.get("kibana.alert.group.index") is not None:
            by_group.setdefault(str(alert.get("kibana.alert.group.id")), []).append(alert)
    write_alert_table(shells, lambda uuid: by_group.get(uuid, []))
    found = {(blocks[0]["event"]["id"], blocks[1]["event"]["id"]) for blocks in by_group.values()}
    expected = set(truth.expected_sequences())
    verdict = "every true chain alerted, no near miss" if found == expected else "MISMATCH"
    print(f"\nGround truth: {len(expected)} true chains, {len(found & expected)} alerted, "
          f"{len(found - expected)} false positives: {verdict}")
    print(f"Try: eqlite alerts list --store {store_path}    eqlite alerts show <ID> --store {store_path}\n")
    status = 0 if found == expected else 1
    corpus = args.corpus or next((path for path in DEFAULT_CORPORA if path.exists()), None)
    if corpus is not None and corpus.exists():
        from eqlite.cli.rules_cmd import check

        results = check([str(corpus / "rules"), str(corpus / "rules_building_block")])
        eql = [r for r in results if r.language == "eql"]
        ok = sum(1 for r in eql if r.status == "ok")
        unsupported = sum(1 for r in results if r.status == "unsupported")
        print(f"Rule corpus {corpus}: {len(results)} rules; {ok} of {len(eql)} EQL rules check ok; "
              f"{unsupported} other rules are unsupported types.")
        if ok != len(eql):
            status = 1
    else:
        print("Rule corpus not found beside the project; skipped the corpus check.", file=sys.stderr)
    return status
