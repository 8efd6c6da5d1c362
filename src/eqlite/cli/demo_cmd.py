"""``eqlite demo``: the README's first command; replaced by the full demo as the pipeline lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("demo", help="run the demo on generated sample data")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return 0
