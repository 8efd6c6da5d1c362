"""The ground-truth manifest: every planted chain and what seed rule v3 must report for it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

RULE = "Incoming DCOM Lateral Movement with MMC (version 3)"


@dataclass(frozen=True, slots=True)
class PlantedChain:
    """One planted chain.

    Attributes:
        chain_id: ``chain-0001``, ... in planting order.
        kind: the variant's name (see :mod:`eqlite.demo.variants`).
        expected_match: whether the rule returns the sequence ``[network_event_id, child_event_id]``.
        host_id: ``host.id`` of the network event.
        child_host_id: ``host.id`` of the child process event (differs only for ``other_host``).
        entity_id: ``process.entity_id`` of the mmc.exe that received the connection.
        network_event_id: ``event.id`` (and ``_id``) of the connection the child would pair with.
        child_event_id: ``event.id`` (and ``_id``) of the child process start.
        network_timestamp: ``@timestamp`` of the network event.
        child_timestamp: ``@timestamp`` of the child event.
        reason: one sentence on why the rule does or does not match.
        related_event_ids: the chain's other events (logon, mmc start, library loads, extra
            connection, second child, ...), none of which may appear in a sequence.
        uncertain: the expectation depends on mapping or null semantics (see the variant).
    """

    chain_id: str
    kind: str
    expected_match: bool
    host_id: str
    child_host_id: str
    entity_id: str
    network_event_id: str
    child_event_id: str
    network_timestamp: str
    child_timestamp: str
    reason: str
    related_event_ids: tuple[str, ...] = ()
    uncertain: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["related_event_ids"] = list(self.related_event_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlantedChain:
        fields = dict(data)
        fields["related_event_ids"] = tuple(fields.get("related_event_ids", ()))
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What a correct engine must report when it runs seed rule v3 over the generated data.

    >>> chain = PlantedChain("chain-0001", "baseline", True, "h", "h", "e", "n1", "c1",
    ...                      "2024-05-14T08:00:01.000Z", "2024-05-14T08:00:02.000Z", "why")
    >>> truth = GroundTruth(seed=1, events=10, chains=(chain,))
    >>> truth.expected_sequences()
    [('n1', 'c1')]
    >>> GroundTruth.from_json(truth.to_json()) == truth
    True
    """

    seed: int
    events: int
    chains: tuple[PlantedChain, ...]
    rule: str = RULE

    def expected_sequences(self) -> list[tuple[str, str]]:
        """``(network event id, child event id)`` of every expected match, in Elasticsearch's
        result order (by the completing child event's timestamp)."""
        matching = [chain for chain in self.chains if chain.expected_match]
        matching.sort(key=lambda chain: (chain.child_timestamp, chain.child_event_id))
        return [(chain.network_event_id, chain.child_event_id) for chain in matching]

    def by_kind(self, kind: str) -> list[PlantedChain]:
        return [chain for chain in self.chains if chain.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "seed": self.seed,
            "events": self.events,
            "expected_sequences": [list(pair) for pair in self.expected_sequences()],
            "chains": [chain.to_dict() for chain in self.chains],
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes | str) -> GroundTruth:
        raw = orjson.loads(data)
        return cls(
            seed=raw["seed"],
            events=raw["events"],
            chains=tuple(PlantedChain.from_dict(chain) for chain in raw["chains"]),
            rule=raw["rule"],
        )

    def write(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_bytes(self.to_json() + b"\n")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> GroundTruth:
        return cls.from_json(Path(path).read_bytes())
