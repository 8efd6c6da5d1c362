"""The ``eqlite`` command: argument parsing and dispatch to one module per sub-command.

Exit codes: 0 success; 1 the command ran but found failures (e.g. a rule that does not
check, an I/O error); 2 bad usage or an invalid query.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eqlite.cli import (
    alerts_cmd,
    convert_cmd,
    demo_cmd,
    executions_cmd,
    parse_cmd,
    query_cmd,
    rules_cmd,
    run_cmd,
    status_cmd,
    watch_cmd,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_COMMANDS = (run_cmd, watch_cmd, executions_cmd, status_cmd, query_cmd, parse_cmd, rules_cmd, alerts_cmd, convert_cmd,
             demo_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eqlite",
        description="Run Elastic's EQL detection rules, unmodified, over security telemetry.",
        epilog="Run 'eqlite <command> --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    for command in _COMMANDS:
        command.register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eqlite")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("eqlite: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `eqlite ... | head`); that is not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
