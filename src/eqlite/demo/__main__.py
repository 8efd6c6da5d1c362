"""``python -m eqlite.demo OUT.ndjson``: write a generated dataset and its ground truth."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from eqlite.demo.config import DemoConfig
from eqlite.demo.generator import write_ndjson


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eqlite.demo",
        description="Generate Elastic-Endpoint-style events with planted MMC20 DCOM lateral-movement chains.",
    )
    parser.add_argument("output", help="NDJSON file to write")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=("small", "medium", "large"), default="small")
    size.add_argument("--events", type=int, help="scale hosts and chains to this many events instead of a preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--manifest", help="also write the ground truth (JSON) here")
    parser.add_argument("--envelopes", action="store_true", help="write {_index, _id, _source} hits")
    parser.add_argument("--out-of-order", type=float, default=0.0, help="share of background events delivered late")
    parser.add_argument("--include-uncertain", action="store_true", help="plant mapping-dependent variants too")
    args = parser.parse_args(argv)

    try:
        base = (
            DemoConfig.scalable(args.events, seed=args.seed)
            if args.events
            else DemoConfig.preset(args.preset, seed=args.seed)
        )
        config = replace(base, out_of_order=args.out_of_order, include_uncertain=args.include_uncertain)
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    truth = write_ndjson(config, args.output, envelopes=args.envelopes, manifest_path=args.manifest)
    elapsed = time.perf_counter() - started
    expected = len(truth.expected_sequences())
    print(
        f"{config.events} events in {elapsed:.2f} s ({config.events / elapsed:,.0f}/s) → {args.output}; "
        f"{len(truth.chains)} chains planted, {expected} expected sequences",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
