"""The catalogue of planted MMC20 DCOM chains: the true chain and its near-miss variants.

Each :class:`ChainVariant` is a data row that says how a variant differs from the baseline
chain and whether seed rule v3 (``Incoming DCOM Lateral Movement with MMC``) must match it
under Elasticsearch semantics:

* ``==``/``in`` are case-sensitive and exact, ``:`` is case-insensitive;
* a predicate on an array field matches when any element matches;
* the child must come strictly after the connection and at most 60 000 ms after it;
* per ``(host.id, entity_id)`` key only the latest pending connection pairs with a child,
  and a pairing consumes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final


class Patch(Enum):
    """Special patch values."""

    DROP = "drop"  # remove the field from the document


PatchValue = str | int | list[str] | Patch


@dataclass(frozen=True, slots=True)
class ChainVariant:
    """How one planted chain differs from the baseline, and what the rule must say about it.

    Attributes:
        kind: a stable name, used in the manifest.
        expected_match: whether the rule produces the sequence (network event, child event).
        reason: one sentence for the manifest.
        network_patch: dotted field → value, applied to the paired network event.
        child_patch: dotted field → value, applied to the child process event.
        child_delay_ms: child time minus connection time; ``None`` draws 250..4000 ms.
        mmc_name: ``process.name`` of the mmc process (case variants).
        child_on_other_host: the child is logged by another host, with the same parent entity id.
        child_of_other_mmc: the child's parent is a second mmc.exe instance on the same host.
        earlier_connection: an earlier qualifying connection to the same mmc precedes the paired one.
        second_child: a second child follows the first; it must not pair (the first consumed the partial).
        modern_host: plant on a host whose Endpoint writes ``ingress``/``egress``.
        uncertain: the expected result depends on mapping or null semantics that differ between
            engines; planted only when asked for.
    """

    kind: str
    expected_match: bool
    reason: str
    network_patch: tuple[tuple[str, PatchValue], ...] = ()
    child_patch: tuple[tuple[str, PatchValue], ...] = ()
    child_delay_ms: int | None = None
    mmc_name: str = "mmc.exe"
    child_on_other_host: bool = False
    child_of_other_mmc: bool = False
    earlier_connection: bool = False
    second_child: bool = False
    modern_host: bool = False
    uncertain: bool = False


def _endpoints(address: str, *, source_address: str | None = None) -> tuple[tuple[str, PatchValue], ...]:
    return (
        ("source.address", source_address or address),
        ("source.ip", address),
        ("destination.address", address),
        ("destination.ip", address),
        ("network.type", "ipv6" if ":" in address else "ipv4"),
    )


BASELINE: Final = ChainVariant(
    "baseline",
    True,
    "svchost (DcomLaunch) starts mmc.exe -Embedding, a remote peer connects to it on two high ports, "
    "and mmc.exe starts cmd.exe within 60 s",
)

# Variants that must still match.
TRUE_VARIANTS: Final[tuple[ChainVariant, ...]] = (
    ChainVariant(
        "uppercase_image",
        True,
        'process.name : "mmc.exe" ignores case, so MMC.EXE matches both stages',
        mmc_name="MMC.EXE",
    ),
    ChainVariant(
        "event_type_multi",
        True,
        'event.type == "start" matches an array when any element is "start"',
        network_patch=(("event.type", ["start", "connection"]),),
    ),
    ChainVariant(
        "event_type_scalar",
        True,
        'a plain keyword "start" is a one-element array and matches',
        network_patch=(("event.type", "start"),),
    ),
    ChainVariant(
        "child_process_started",
        True,
        'stage 2 accepts event.type "process_started"',
        child_patch=(("event.type", ["process_started"]),),
    ),
    ChainVariant(
        "span_boundary",
        True,
        "maxspan=1m is inclusive: a child exactly 60 000 ms after the connection matches",
        child_delay_ms=60_000,
    ),
    ChainVariant(
        "port_boundary",
        True,
        ">= 49152 includes 49152 on both ports",
        network_patch=(("source.port", 49152), ("destination.port", 49152)),
    ),
    ChainVariant(
        "repeated_connection",
        True,
        "two qualifying connections to one mmc.exe: only the latest pairs with the child",
        earlier_connection=True,
    ),
    ChainVariant(
        "second_child",
        True,
        "the first child consumes the pending connection; the second child does not match",
        second_child=True,
    ),
)

# Variants whose truth depends on mapping or null semantics (planted only on request).
UNCERTAIN_VARIANTS: Final[tuple[ChainVariant, ...]] = (
    ChainVariant(
        "missing_source_address",
        True,
        "source.address not in (...) is a must_not query, true when source.address is missing",
        network_patch=(("source.address", Patch.DROP),),
        uncertain=True,
    ),
    ChainVariant(
        "expanded_ipv6_loopback",
        True,
        'source.address is a keyword: "0:0:0:0:0:0:0:1" is not the literal "::1", so it is not excluded',
        network_patch=_endpoints("::1", source_address="0:0:0:0:0:0:0:1"),
        uncertain=True,
    ),
)

# Near misses: each breaks exactly one condition of the rule.
DECOY_VARIANTS: Final[tuple[ChainVariant, ...]] = (
    ChainVariant(
        "loopback_ipv4",
        False,
        'source.address "127.0.0.1" is excluded',
        network_patch=_endpoints("127.0.0.1"),
    ),
    ChainVariant("loopback_ipv6", False, 'source.address "::1" is excluded', network_patch=_endpoints("::1")),
    ChainVariant(
        "low_source_port",
        False,
        "source.port 49151 is below 49152",
        network_patch=(("source.port", 49151),),
    ),
    ChainVariant(
        "low_destination_port",
        False,
        "destination.port 135 is below 49152",
        network_patch=(("destination.port", 135), ("network.protocol", "dcerpc")),
    ),
    ChainVariant(
        "outgoing_direction",
        False,
        'network.direction "outgoing" is not "incoming"',
        network_patch=(("network.direction", "outgoing"),),
    ),
    ChainVariant(
        "ingress_direction",
        False,
        'Endpoint 7.16+ writes "ingress"; rule v3 compares == "incoming"',
        network_patch=(("network.direction", "ingress"),),
        modern_host=True,
    ),
    ChainVariant(
        "direction_case",
        False,
        '== is case-sensitive: "Incoming" is not "incoming"',
        network_patch=(("network.direction", "Incoming"),),
    ),
    ChainVariant(
        "udp_transport",
        False,
        'network.transport "udp" is not "tcp"',
        network_patch=(("network.transport", "udp"),),
    ),
    ChainVariant(
        "transport_case",
        False,
        '== is case-sensitive: "TCP" is not "tcp"',
        network_patch=(("network.transport", "TCP"),),
    ),
    ChainVariant(
        "event_type_case",
        False,
        '== is case-sensitive: event.type ["Start"] has no "start"',
        network_patch=(("event.type", ["Start"]),),
    ),
    ChainVariant(
        "late_child",
        False,
        "the child starts 61 s after the connection (> maxspan 1m)",
        child_delay_ms=61_000,
    ),
    ChainVariant(
        "late_child_by_1ms",
        False,
        "the child starts 60 001 ms after the connection (> maxspan 1m)",
        child_delay_ms=60_001,
    ),
    ChainVariant(
        "other_host",
        False,
        "the child carries the mmc entity id as parent but is on another host.id",
        child_on_other_host=True,
    ),
    ChainVariant(
        "other_mmc",
        False,
        "the child's parent is a second mmc.exe instance (different process.parent.entity_id)",
        child_of_other_mmc=True,
    ),
    ChainVariant(
        "child_before_connection",
        False,
        "the child starts 2.5 s before the connection; sequences are strictly ordered",
        child_delay_ms=-2_500,
    ),
)

CATALOGUE: Final[tuple[ChainVariant, ...]] = TRUE_VARIANTS + UNCERTAIN_VARIANTS + DECOY_VARIANTS
KINDS: Final[Mapping[str, ChainVariant]] = MappingProxyType(
    {variant.kind: variant for variant in (BASELINE, *CATALOGUE)}
)
