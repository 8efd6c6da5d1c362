"""Configuration checks, presets and the manifest's file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from eqlite.demo import DemoConfig, GroundTruth, ground_truth


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hosts": 1}, "hosts=1"),
        ({"events": 1000}, "too few"),
        ({"out_of_order": 1.5}, "out_of_order"),
        ({"namespace": "My-Space"}, "namespace"),
        ({"start": "2024-05-14T08:00:00"}, "time zone"),
        ({"rate_per_host": 0}, "rate_per_host"),
    ],
)
def test_invalid_config_says_what_to_fix(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DemoConfig(**changes)  # type: ignore[arg-type]


def test_variant_plan_counts() -> None:
    config = DemoConfig(events=10_000, true_chains=3, variant_rounds=2)
    kinds = [variant.kind for variant in config.variants()]
    assert kinds.count("baseline") == 3
    assert kinds.count("loopback_ipv4") == 2
    assert "missing_source_address" not in kinds
    assert DemoConfig(true_chains=3, decoys=False).variants() == config.variants()[:3]


def test_presets_and_scaling() -> None:
    assert DemoConfig.preset("small", seed=4).seed == 4
    assert DemoConfig.preset("large").events == 1_000_000
    assert DemoConfig.scalable(100_000).hosts == 5
    with pytest.raises(ValueError, match="unknown preset"):
        DemoConfig.preset("huge")


def test_manifest_round_trips_through_a_file(tmp_path: Path) -> None:
    truth = ground_truth(DemoConfig(seed=9, events=4000, hosts=4, true_chains=1))
    path = tmp_path / "truth.json"
    truth.write(path)
    assert GroundTruth.read(path) == truth


def test_manifest_lists_decoys_with_reasons() -> None:
    truth = ground_truth(DemoConfig(seed=9, events=4000, hosts=4, true_chains=1))
    decoys = [chain for chain in truth.chains if not chain.expected_match]
    assert len(decoys) == 15
    assert all(chain.reason for chain in truth.chains)
    assert len(truth.expected_sequences()) == len(truth.chains) - len(decoys)
