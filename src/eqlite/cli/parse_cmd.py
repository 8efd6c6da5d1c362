"""``eqlite parse``: check one query and print it in canonical form (or its tree as JSON)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from eqlite.errors import QueryError
from eqlite.semantic.analyzer import analyze
from eqlite.syntax.parser import parse
from eqlite.syntax.printer import to_eql
from eqlite.syntax.tree_json import to_data


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "parse",
        help="check an EQL query and print it in canonical form",
        description="Parse and check an EQL query (Elasticsearch dialect) and print it in canonical form. "
                    "Exits with 2 and prints the error, with a caret under it, on an invalid query.",
    )
    parser.add_argument("query", help="the EQL query; '-' reads it from standard input")
    parser.add_argument("--json", action="store_true", help="print the syntax tree as JSON instead")
    parser.add_argument("--syntax-only", action="store_true",
                        help="check the grammar only, not types, functions and fields")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.query == "-" else args.query
    try:
        query = parse(text)
        if not args.syntax_only:
            analyze(query)
    except QueryError as error:
        print(error.describe(), file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(to_data(query), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(to_eql(query))
    return 0
