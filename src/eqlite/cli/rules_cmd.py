"""``eqlite rules``: list, show and check detection rules.

``check`` loads rule files (detection-rules TOML, Kibana NDJSON/JSON), parses and analyses
every EQL query as Elasticsearch would, and reports each rule's status: ``ok``, ``error``
(with ``file:line:col``) or ``unsupported`` (a rule type eqlite does not execute, with the
reason). A broken file never stops the others.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from eqlite.cli.output import dumps, table
from eqlite.errors import QueryError, RuleError
from eqlite.rules import Rule, load_builtin_rules, load_rules, rule_to_api, rule_to_toml
from eqlite.rules.loader import find_rules
from eqlite.semantic.analyzer import analyze
from eqlite.semantic.schema import Schema
from eqlite.syntax.parser import parse


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "rules", help="list, show and check detection rules",
        description="Work with detection rules: the built-in pack, detection-rules TOML files and Kibana "
                    "rule exports (NDJSON/JSON).")
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)

    check = actions.add_parser(
        "check", help="load rules and check their queries",
        description="Load rule files (directories are searched recursively) and check every EQL query as "
                    "Elasticsearch would. Exit code 0 when every EQL rule is ok, 1 otherwise.")
    check.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories")
    check.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    check.add_argument("--errors-only", action="store_true", help="show only rules that are not ok")
    check.set_defaults(run=run_check)

    listing = actions.add_parser("list", help="list rules (default: the built-in pack)",
                                 description="List rules: id, name, type, severity, risk score, status.")
    listing.add_argument("--rules", nargs="*", metavar="PATH", default=None,
                         help="rule files or directories instead of the built-in pack")
    listing.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", help="show one rule by id or name",
                              description="Show a rule, found by rule_id or by name (case-insensitive).")
    show.add_argument("key", metavar="ID|NAME", help="rule_id or name")
    show.add_argument("--rules", nargs="*", metavar="PATH", default=None,
                      help="rule files or directories instead of the built-in pack")
    show.add_argument("--format", choices=("text", "json", "toml"), default="text", help="output format")
    show.set_defaults(run=run_show)


@dataclass(frozen=True, slots=True)
class CheckResult:
    path: str
    rule_id: str | None
    name: str | None
    type: str | None
    language: str | None
    status: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rule_id": self.rule_id, "name": self.name, "type": self.type,
                "language": self.language, "status": self.status, "error": self.error}


def check_rule(rule: Rule, schema: Schema) -> CheckResult:
    """Check one loaded rule: its type is executable and its query is valid EQL for Elasticsearch."""
    path = rule.source.path if rule.source is not None else "builtin"
    support = rule.execution_support()
    base = (path, rule.rule_id, rule.name, rule.type, rule.language)
    if not support.supported:
        return CheckResult(*base, "unsupported", support.reason)
    try:
        analyze(parse(rule.query or ""), schema)
    except QueryError as error:
        located = rule.query_error(error.message, error.span.line, error.span.col)
        return CheckResult(*base, "error", f"{type(error).__name__} at {located}")
    return CheckResult(*base, "ok", None)


def check(paths: list[str]) -> list[CheckResult]:
    """Check every rule in ``paths``; files that do not load are ``error`` results of their own."""
    loaded = load_rules(paths)
    schema = Schema.ecs()
    results = [_load_error(error) for error in loaded.errors]
    results.extend(check_rule(rule, schema) for rule in loaded.rules)
    results.sort(key=lambda result: result.path)
    return results


def _load_error(error: RuleError) -> CheckResult:
    return CheckResult(error.path, None, None, None, None, "error", str(error))


def run_check(args: argparse.Namespace) -> int:
    results = check(args.paths)
    shown = [r for r in results if r.status != "ok"] if args.errors_only else results
    if args.format == "json":
        out = sys.stdout.buffer
        for result in shown:
            out.write(dumps(result.to_json()))
        out.flush()
    else:
        rows = [[r.status, r.type or "", r.name or "", r.error or ""] for r in shown]
        table(["status", "type", "rule", "detail"], rows)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    failing = [r for r in results if r.status == "error" and r.language in (None, "eql") and r.type in (None, "eql")]
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    print(f"eqlite rules check: {len(results)} rules: {summary}", file=sys.stderr)
    return 1 if failing else 0


def _rules(paths: list[str] | None) -> tuple[Rule, ...] | None:
    if paths is None:
        return load_builtin_rules()
    loaded = load_rules(paths)
    for error in loaded.errors:
        print(f"eqlite: {error}", file=sys.stderr)
    return loaded.rules


def run_list(args: argparse.Namespace) -> int:
    rules = _rules(args.rules) or ()
    if args.format == "json":
        for rule in rules:
            sys.stdout.buffer.write(dumps(_summary(rule)))
        sys.stdout.buffer.flush()
    else:
        rows = [[rule.rule_id, rule.name, rule.type, rule.severity, str(rule.risk_score),
                 "ok" if rule.execution_support().supported else "unsupported"] for rule in rules]
        table(["rule_id", "name", "type", "severity", "risk", "status"], rows)
    return 0


def _summary(rule: Rule) -> dict[str, Any]:
    return {"rule_id": rule.rule_id, "name": rule.name, "type": rule.type, "language": rule.language,
            "severity": rule.severity, "risk_score": rule.risk_score, "version": rule.version,
            "index": list(rule.index or ()), "supported": rule.execution_support().supported}


def run_show(args: argparse.Namespace) -> int:
    rules = _rules(args.rules) or ()
    found = find_rules(rules, args.key)
    if not found:
        print(f"eqlite rules show: no rule with id or name {args.key!r}", file=sys.stderr)
        return 1
    rule = found[0]
    if args.format == "json":
        sys.stdout.buffer.write(dumps(rule_to_api(rule)))
    elif args.format == "toml":
        sys.stdout.write(rule_to_toml(rule, drop_nulls=True))
    else:
        sys.stdout.write(describe_rule(rule))
    return 0


def describe_rule(rule: Rule) -> str:
    """A rule for people: its metadata, schedule, ATT&CK mapping and query."""
    lines = [
        f"{rule.name}",
        f"  rule_id      {rule.rule_id}",
        f"  version      {rule.version}",
        f"  type         {rule.type} ({rule.language})",
        f"  severity     {rule.severity}   risk score {rule.risk_score}",
        f"  indices      {', '.join(rule.index or ()) or '-'}",
        f"  schedule     every {rule.interval}, from {rule.from_} to {rule.to}, at most {rule.max_signals} alerts",
        f"  author       {', '.join(rule.author or ())}   license {rule.license or '-'}",
        f"  tags         {', '.join(rule.tags or ())}",
    ]
    for reference in rule.references or ():
        lines.append(f"  reference    {reference}")
    for threat in rule.threat or ():
        lines.append(f"  tactic       {threat.tactic.id} {threat.tactic.name}")
        for technique in threat.technique or ():
            lines.append(f"  technique    {technique.id} {technique.name}")
            for sub in technique.subtechnique or ():
                lines.append(f"  subtechnique {sub.id} {sub.name}")
    lines += ["", "  " + (rule.description or "").strip().replace("\n", "\n  "), "", "query:"]
    lines += ["  " + line for line in (rule.query or "").strip().splitlines()]
    return "\n".join(lines) + "\n"
