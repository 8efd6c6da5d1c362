"""``eqlite alerts``: list and show the alerts in the SQLite alert store.

``list`` prints a table for people (sequence alerts followed by their building blocks, so a
chain reads top to bottom) or JSON lines for machines; ``show`` prints one alert.
Output goes to stdout, diagnostics to stderr. Exit codes: 0 success, 1 the store cannot be
read or the alert is not found, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from eqlite.alerts.base import Alert, AlertStoreError, dumps_alert
from eqlite.alerts.store import DEFAULT_STORE, AlertQuery, AlertStore
from eqlite.cli.output import format_time, table
from eqlite.runtime.access import raw_values
from eqlite.semantic.types import parse_date

SEVERITIES: Final = ("low", "medium", "high", "critical")
DEFAULT_LIMIT: Final = 100
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_EPILOG: Final = "Exit codes: 0 success, 1 the store cannot be read or the alert is not found, 2 bad usage."


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "alerts", help="list and show stored alerts",
        description="Read the alerts that rule runs stored in the SQLite alert store (default ./eqlite.db).",
        epilog=_EPILOG)
    parser.set_defaults(run=run, alerts_command=None, alerts_parser=parser)
    actions = parser.add_subparsers(dest="alerts_command", metavar="<subcommand>")

    listing = actions.add_parser(
        "list", help="list alerts, newest first",
        description="List stored alerts, newest events first. Building-block alerts are hidden, as in "
                    "Kibana; in the table each sequence alert is followed by its building blocks.",
        epilog=_EPILOG)
    _store_option(listing)
    listing.add_argument("--rule", metavar="ID|NAME", help="rule_id, rule uuid, or part of the rule name")
    listing.add_argument("--severity", metavar="S[,S...]", type=_severities, default=(),
                         help="only these severities: " + ", ".join(SEVERITIES))
    listing.add_argument("--host", metavar="H", help="host.name (any case) or host.id")
    listing.add_argument("--since", metavar="ISO", type=_instant,
                         help="only alerts whose events happened at or after this time (e.g. 2024-05-14T08:00Z)")
    listing.add_argument("--until", metavar="ISO", type=_instant,
                         help="only alerts whose events happened at or before this time")
    listing.add_argument("--limit", metavar="N", type=_count, default=DEFAULT_LIMIT,
                         help=f"at most N alerts (default {DEFAULT_LIMIT}; 0 for all)")
    listing.add_argument("--building-blocks", action="store_true",
                         help="include building-block alerts as alerts of their own")
    listing.add_argument("--format", choices=("table", "json"), default="table",
                         help="table for people (default) or one JSON document per line")

    show = actions.add_parser(
        "show", help="show one alert", description="Show one stored alert by its id (or a unique prefix of it).",
        epilog=_EPILOG)
    show.add_argument("uuid", metavar="UUID", help="kibana.alert.uuid, or a unique prefix of it")
    _store_option(show)
    show.add_argument("--format", choices=("json", "table"), default="json",
                      help="the document as one JSON line (default) or a summary for people")


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="DB", default=DEFAULT_STORE,
                        help=f"the SQLite alert store (default ./{DEFAULT_STORE})")


def _severities(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in SEVERITIES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: use one or more of {', '.join(SEVERITIES)}, comma-separated")
    return chosen


def _instant(text: str) -> str:
    nanos = parse_date(text.strip(), "strict_date_optional_time")
    if nanos is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time such as 2024-05-14T08:00:00Z")
    return format_time(nanos)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of alerts (0 for all)")
    return value


def run(args: argparse.Namespace) -> int:
    if args.alerts_command is None:
        args.alerts_parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with AlertStore(args.store, readonly=True) as store:
            if args.alerts_command == "list":
                return _list(store, args)
            return _show(store, args)
    except AlertStoreError as error:
        print(f"eqlite alerts: {error}", file=sys.stderr)
        return EXIT_FAILURE


# ---------------------------------------------------------------------- list


def _list(store: AlertStore, args: argparse.Namespace) -> int:
    limit = args.limit or None
    query = AlertQuery(rule=args.rule, severities=args.severity, host=args.host, since=args.since,
                       until=args.until, building_blocks=args.building_blocks,
                       limit=None if limit is None else limit + 1)
    alerts = store.select(query)
    more = limit is not None and len(alerts) > limit
    alerts = alerts[:limit] if limit is not None else alerts
    if args.format == "json":
        out = sys.stdout.buffer
        for alert in alerts:
            out.write(dumps_alert(alert))
        out.flush()
    elif alerts:
        _chain_table(store, alerts)
    if more:
        print(f"eqlite alerts: showing the newest {limit}; use --limit to see more", file=sys.stderr)
    elif not alerts:
        print("eqlite alerts: no alerts match", file=sys.stderr)
    return EXIT_OK


def _chain_table(store: AlertStore, alerts: Sequence[Alert]) -> None:
    write_alert_table(alerts, store.building_blocks)


def write_alert_table(alerts: Sequence[Alert], blocks_of: Callable[[str], Sequence[Alert]]) -> None:
    """One row per alert; each sequence shell is followed by its building blocks, drawn as a tree.

    ``blocks_of`` gives a shell's building blocks by its id. The reason column drops the
    reason's ending (severity and rule name), which has its own columns.
    """
    listed = {alert["kibana.alert.uuid"] for alert in alerts}
    rows: list[list[str]] = []
    for alert in alerts:
        group = alert.get("kibana.alert.group.id")
        if alert.get("kibana.alert.group.index") is not None and group in listed:
            continue
        blocks = blocks_of(alert["kibana.alert.uuid"]) if _is_shell(alert) else []
        rows.append([_short(alert["kibana.alert.uuid"], 12), _event_time(alert, blocks),
                     str(alert.get("kibana.alert.severity", "")), _number(alert.get("kibana.alert.risk_score")),
                     _clip(str(alert.get("kibana.alert.rule.name", "")), 48), _clip(_field(alert, "host.name"), 24),
                     _what(alert)])
        for position, block in enumerate(blocks):
            branch = "└ " if position == len(blocks) - 1 else "├ "
            rows.append([branch + _short(block["kibana.alert.uuid"], 10), _event_time(block, []), "", "", "", "",
                         _what(block)])
    table(["ID", "TIME", "SEVERITY", "RISK", "RULE", "HOST", "REASON"], rows)


# ---------------------------------------------------------------------- show


def _show(store: AlertStore, args: argparse.Namespace) -> int:
    alert = store.get(args.uuid)
    if alert is None:
        matches = store.resolve(args.uuid, limit=5) if args.uuid else []
        if not matches:
            print(f"eqlite alerts: no alert with id {args.uuid!r} in {store.path}", file=sys.stderr)
            return EXIT_FAILURE
        if len(matches) > 1:
            count = f"{len(matches)} or more" if len(matches) == 5 else str(len(matches))
            print(f"eqlite alerts: {args.uuid!r} starts {count} alert ids; give more of the id:", file=sys.stderr)
            for match in matches:
                print(f"  {match}", file=sys.stderr)
            return EXIT_FAILURE
        alert = store.get(matches[0])
        assert alert is not None
    if args.format == "json":
        sys.stdout.buffer.write(dumps_alert(alert))
        sys.stdout.buffer.flush()
        return EXIT_OK
    blocks = store.building_blocks(alert["kibana.alert.uuid"]) if _is_shell(alert) else []
    _summary(alert, blocks)
    return EXIT_OK


def _summary(alert: Alert, blocks: Sequence[Alert]) -> None:
    uuid = alert["kibana.alert.uuid"]
    host = _field(alert, "host.name")
    host_id = _field(alert, "host.id")
    lines = [
        ("Alert", uuid),
        ("Kind", _kind(alert, blocks)),
        ("Rule", f"{alert.get('kibana.alert.rule.name', '')} (rule_id {alert.get('kibana.alert.rule.rule_id', '')}, "
                 f"version {alert.get('kibana.alert.rule.version', '')})"),
        ("Severity", f"{alert.get('kibana.alert.severity', '')} (risk score "
                     f"{_number(alert.get('kibana.alert.risk_score'))})"),
        ("Status", f"{alert.get('kibana.alert.status', '')}, workflow {alert.get('kibana.alert.workflow_status', '')}"),
        ("Event time", _event_time(alert, blocks)),
        ("Created", str(alert.get("@timestamp", ""))),
        ("Host", f"{host} ({host_id})" if host and host_id else host or host_id),
        ("User", _field(alert, "user.name")),
        ("Reason", str(alert.get("kibana.alert.reason", ""))),
    ]
    lines += [("ATT&CK", text) for text in _threat(alert.get("kibana.alert.rule.threat"))]
    out = sys.stdout
    for label, value in lines:
        if value:
            out.write(f"{label + ':':<12}{value}\n")
    if blocks:
        out.write("Chain:\n")
        rows = [[str(block.get("kibana.alert.group.index", "")), _event_time(block, []),
                 _clip(_field(block, "event.category"), 16),
                 _clip(f"{_index(block)}/{_ancestor_id(block)}", 64), _short(block["kibana.alert.uuid"], 12),
                 str(block.get("kibana.alert.reason", ""))] for block in blocks]
        table(["#", "TIME", "CATEGORY", "EVENT", "ALERT", "REASON"], rows, out)


def _kind(alert: Alert, blocks: Sequence[Alert]) -> str:
    if _is_shell(alert):
        return f"sequence alert with {len(blocks)} building blocks"
    index = alert.get("kibana.alert.group.index")
    if index is not None:
        return f"building block {index} of sequence alert {alert.get('kibana.alert.group.id')}"
    if alert.get("kibana.alert.building_block_type") is not None:
        return "building-block alert"
    return "event alert"


def _threat(threats: Any) -> list[str]:
    texts = []
    for threat in threats if isinstance(threats, list) else []:
        tactic = threat.get("tactic") or {}
        head = f"{tactic.get('id', '')} {tactic.get('name', '')}".strip()
        techniques = threat.get("technique") or []
        if not techniques:
            texts.append(head)
        for technique in techniques:
            parts = [head, f"{technique.get('id', '')} {technique.get('name', '')}".strip()]
            subs = technique.get("subtechnique") or []
            texts += [" > ".join([*parts, f"{sub.get('id', '')} {sub.get('name', '')}".strip()]) for sub in subs]
            if not subs:
                texts.append(" > ".join(parts))
    return texts


# ---------------------------------------------------------------------- cells


def _what(alert: Mapping[str, Any]) -> str:
    """The reason without its " created <severity> alert <rule>." ending, which the other columns show."""
    reason = str(alert.get("kibana.alert.reason", ""))
    ending = f" created {alert.get('kibana.alert.severity', '')} alert {alert.get('kibana.alert.rule.name', '')}."
    return reason[: -len(ending)] if reason.endswith(ending) else reason


def _is_shell(alert: Mapping[str, Any]) -> bool:
    return alert.get("kibana.alert.group.index") is None and alert.get("kibana.alert.group.id") == alert.get(
        "kibana.alert.uuid")


def _event_time(alert: Mapping[str, Any], blocks: Sequence[Mapping[str, Any]]) -> str:
    """When the alert's events happened: the earliest building block's time for a sequence shell."""
    times = [block.get("kibana.alert.original_time") for block in blocks]
    known = [time for time in times if isinstance(time, str)]
    if known:
        return min(known)
    original = alert.get("kibana.alert.original_time")
    return original if isinstance(original, str) else str(alert.get("@timestamp", ""))


def _field(alert: Mapping[str, Any], name: str) -> str:
    values = [value for value in raw_values(alert, name) or () if value is not None]
    return ", ".join(str(value) for value in values)


def _index(alert: Mapping[str, Any]) -> str:
    event = _event_ancestor(alert)
    return str(event.get("index", "")) if event else ""


def _ancestor_id(alert: Mapping[str, Any]) -> str:
    event = _event_ancestor(alert)
    return str(event.get("id", "")) if event else ""


def _event_ancestor(alert: Mapping[str, Any]) -> Mapping[str, Any] | None:
    ancestors = alert.get("kibana.alert.ancestors")
    if isinstance(ancestors, list) and ancestors and isinstance(ancestors[-1], Mapping):
        return ancestors[-1]
    return None


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _short(uuid: str, width: int) -> str:
    return uuid[:width]


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ").replace("\t", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
