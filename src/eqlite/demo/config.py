"""What to generate: :class:`DemoConfig` and its named presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final

from eqlite.demo.clock import parse_instant
from eqlite.demo.variants import BASELINE, DECOY_VARIANTS, TRUE_VARIANTS, UNCERTAIN_VARIANTS, ChainVariant

# Background events per planted chain, at least: leaves room to place every chain at its
# share of the stream before the event budget runs out.
EVENTS_PER_CHAIN = 128


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Parameters of one deterministic generation run.

    Attributes:
        seed: every random choice derives from it; same config → byte-identical output.
        events: exact number of documents to produce (background plus planted).
        hosts: number of Windows hosts (at least 2).
        true_chains: number of baseline MMC20 chains (true positives).
        decoys: also plant the variant catalogue: the near misses and the shape/case
            variants that still match.
        variant_rounds: how many times the variant catalogue is planted.
        include_uncertain: plant the variants whose truth depends on mapping or null semantics.
        out_of_order: fraction of background events delivered late (0 keeps timestamp order).
        max_delay_ms: how late such an event may be delivered.
        start: first instant of the simulated period (ISO-8601 with zone); never the wall clock.
        namespace: data stream namespace (``logs-endpoint.events.<kind>-<namespace>``).
        rate_per_host: mean background events per host per simulated second.
        legacy_share: share of hosts running an Endpoint that writes ``incoming``/``outgoing``.

    >>> cfg = DemoConfig(seed=7, events=5000, hosts=8, true_chains=6)
    >>> len(cfg.variants())
    29
    >>> DemoConfig.preset("small").events
    4000
    """

    seed: int = 0
    events: int = 5000
    hosts: int = 8
    true_chains: int = 6
    decoys: bool = True
    variant_rounds: int = 1
    include_uncertain: bool = False
    out_of_order: float = 0.0
    max_delay_ms: int = 5_000
    start: str = "2024-05-14T08:00:00.000Z"
    namespace: str = "default"
    rate_per_host: float = 0.5
    legacy_share: float = 0.5

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.hosts < 2:
            problems.append(f"hosts={self.hosts}: need at least 2 (one legacy and one modern Endpoint)")
        if self.true_chains < 0 or self.variant_rounds < 0:
            problems.append("true_chains and variant_rounds must not be negative")
        if not 0.0 <= self.out_of_order <= 1.0:
            problems.append(f"out_of_order={self.out_of_order}: must be within [0, 1]")
        if not 0.0 <= self.legacy_share <= 1.0:
            problems.append(f"legacy_share={self.legacy_share}: must be within [0, 1]")
        if self.rate_per_host <= 0 or self.max_delay_ms < 1:
            problems.append("rate_per_host and max_delay_ms must be positive")
        if (
            not self.namespace
            or self.namespace != self.namespace.lower()
            or any(c in self.namespace for c in "-*\\/ ,#:")
        ):
            problems.append(f"namespace={self.namespace!r}: use lower case without '-', spaces or punctuation")
        try:
            parse_instant(self.start)
        except ValueError as error:
            problems.append(f"start={self.start!r}: {error}")
        chains = len(self.variants())
        if self.events < EVENTS_PER_CHAIN * max(chains, 1):
            problems.append(
                f"events={self.events} is too few for {chains} planted chains; "
                f"use events >= {EVENTS_PER_CHAIN * max(chains, 1)} or plant fewer chains"
            )
        if problems:
            raise ValueError("invalid DemoConfig: " + "; ".join(problems))

    @property
    def start_ms(self) -> int:
        return parse_instant(self.start)

    def variants(self) -> list[ChainVariant]:
        """Every chain to plant, before shuffling: baselines first, then the catalogue rounds."""
        planted = [BASELINE] * self.true_chains
        if self.decoys:
            catalogue = TRUE_VARIANTS + (UNCERTAIN_VARIANTS if self.include_uncertain else ()) + DECOY_VARIANTS
            planted.extend(catalogue * self.variant_rounds)
        return planted

    @classmethod
    def preset(cls, name: str, *, seed: int = 0) -> DemoConfig:
        """A named size: ``small`` (demo), ``medium`` or ``large`` (1 000 000 events).

        >>> DemoConfig.preset("large").hosts
        50
        """
        try:
            return replace(_PRESETS[name], seed=seed)
        except KeyError:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(_PRESETS)}") from None

    @classmethod
    def scalable(cls, events: int, *, seed: int = 0) -> DemoConfig:
        """A config for ``events`` documents with hosts and chains growing with the size.

        >>> cfg = DemoConfig.scalable(1_000_000)
        >>> cfg.hosts, cfg.true_chains, cfg.variant_rounds
        (50, 50, 5)
        """
        return cls(
            seed=seed,
            events=events,
            hosts=min(50, max(5, events // 20_000)),
            true_chains=min(200, max(6, events // 20_000)),
            variant_rounds=min(20, max(1, events // 200_000)),
        )


_PRESETS: Final[Mapping[str, DemoConfig]] = MappingProxyType(
    {
        "small": DemoConfig(events=4_000, hosts=8, true_chains=6),
        "medium": DemoConfig(events=100_000, hosts=20, true_chains=20, variant_rounds=2),
        "large": DemoConfig(events=1_000_000, hosts=50, true_chains=50, variant_rounds=5),
    }
)
