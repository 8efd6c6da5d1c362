"""Test data for the scheduler: hand-made MMC20 chains at chosen instants, and a clock tests move.

The chains match the built-in rule (a network event into mmc.exe, then a child of that mmc.exe on
the same host within a minute); each chain is on its own host, so chains never pair with each
other. Expectations in the tests are computed from these instants with Kibana's documented
algorithm, never by calling the scheduler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MINUTE = 60_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ms(text: str) -> int:
    """Epoch ms of an ISO time (the tests' own parser, independent of the code under test)."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def iso(instant: int) -> str:
    moment = EPOCH + dt.timedelta(milliseconds=instant)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{instant % 1000:03d}Z"


def _stream(kind: str) -> dict[str, str]:
    return {"type": "logs", "dataset": f"endpoint.events.{kind}", "namespace": "default"}


def chain(number: int, at: int, child_after: int = 1000) -> list[dict[str, Any]]:
    """Hit envelopes of one chain: ``net-<n>`` at ``at`` and ``child-<n>`` ``child_after`` ms later."""
    host = {"id": f"host-{number}", "name": f"wks-{number}"}
    network = {
        "@timestamp": iso(at),
        "event": {"category": ["network"], "type": ["start"], "id": f"net-{number}"},
        "host": host,
        "process": {"name": "mmc.exe", "entity_id": f"mmc-{number}"},
        "source": {"address": "10.0.0.9", "ip": "10.0.0.9", "port": 50000 + number % 1000},
        "destination": {"address": "10.0.0.1", "ip": "10.0.0.1", "port": 50100},
        "network": {"direction": "incoming", "transport": "tcp"},
        "data_stream": _stream("network"),
    }
    child = {
        "@timestamp": iso(at + child_after),
        "event": {"category": ["process"], "type": ["start"], "id": f"child-{number}"},
        "host": host,
        "process": {"name": "cmd.exe", "entity_id": f"cmd-{number}",
                    "parent": {"name": "mmc.exe", "entity_id": f"mmc-{number}"}},
        "data_stream": _stream("process"),
    }
    return [{"_index": f"logs-endpoint.events.{kind}-default", "_id": doc["event"]["id"], "_source": doc}
            for kind, doc in (("network", network), ("process", child))]


def noise(number: int, at: int) -> dict[str, Any]:
    """An event no rule matches."""
    doc = {"@timestamp": iso(at), "event": {"category": ["file"], "type": ["creation"], "id": f"noise-{number}"},
           "host": {"id": "host-noise", "name": "wks-noise"}, "data_stream": _stream("file")}
    return {"_index": "logs-endpoint.events.file-default", "_id": f"noise-{number}", "_source": doc}


def write_lines(path: Path, documents: list[dict[str, Any]], mode: str = "wb") -> None:
    with open(path, mode) as handle:
        for document in documents:
            handle.write(orjson.dumps(document) + b"\n")


def chain_of(alerts: list[dict[str, Any]], shell: dict[str, Any]) -> tuple[str, ...]:
    """The event ids of a shell's building blocks, in sequence order."""
    blocks = sorted((a for a in alerts if a.get("kibana.alert.group.id") == shell["kibana.alert.uuid"]
                     and a.get("kibana.alert.group.index") is not None),
                    key=lambda a: a["kibana.alert.group.index"])
    return tuple(block["kibana.alert.ancestors"][0]["id"] for block in blocks)


def shells(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a.get("kibana.alert.group.index") is None]


@dataclass(slots=True)
class ManualClock:
    """A simulated clock the test sets."""

    instant: int
    simulated: bool = True
    spec: str = "manual"

    def now(self) -> int:
        return self.instant


@dataclass(frozen=True, slots=True)
class Run:
    """One run as the documented algorithm predicts it."""

    started: int
    windows: tuple[tuple[int, int], ...]
    matches: int
    written: int
    duplicates: int
    limited: bool


def expected_runs(chains: dict[str, tuple[int, int]], starts: list[int], *, look_back: int = 9 * MINUTE,
                  interval: int = 5 * MINUTE, max_signals: int = 100) -> tuple[list[Run], dict[str, int]]:
    """Kibana's algorithm over chains ``{name: (first event ms, last event ms)}``, written from the research note.

    Each run at ``t`` after a run at ``p`` searches ``[t - look_back, t]`` (inclusive) and, when
    ``gap = (t - p) - look_back > 0``, ``min(ceil(gap / interval), 4)`` extra windows shifted back by
    one interval each. A chain is found in a window when both its events lie in it; each window
    keeps its earliest ``max_signals`` chains; a chain alerted before is a duplicate (3 documents).
    Returns the runs and, per chain, the start of the run that alerted it.
    """
    alerted: dict[str, int] = {}
    runs = []
    previous = None
    for started in starts:
        windows = [(started - look_back, started)]
        if previous is not None:
            gap = (started - previous) - look_back
            if gap > 0:
                extra = min(-(-gap // interval), 4)
                windows = [(started - look_back - k * interval, started - k * interval)
                           for k in range(extra, 0, -1)] + windows
        matches = written = duplicates = 0
        limited = False
        for low, high in windows:
            found = sorted((first, name) for name, (first, last) in chains.items() if low <= first and last <= high)
            matches += len(found)
            limited = limited or len(found) >= max_signals
            for _, name in found[:max_signals]:
                if name in alerted:
                    duplicates += 3
                else:
                    alerted[name] = started
                    written += 3
        runs.append(Run(started, tuple(windows), matches, written, duplicates, limited))
        previous = started
    return runs, alerted
