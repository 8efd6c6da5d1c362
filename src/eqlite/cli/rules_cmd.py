"""``eqlite rules``: list, show and check rules."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("rules", help="list, show and check detection rules")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return 0
