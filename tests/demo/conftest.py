"""Shared generated data for the demo tests: one small run, made once per session."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from eqlite.demo import DemoConfig, GroundTruth, write_ndjson

SMALL = DemoConfig(seed=7, events=5000, hosts=8, true_chains=6, include_uncertain=True)


@dataclass(frozen=True)
class Generated:
    config: DemoConfig
    raw: bytes
    docs: list[dict[str, Any]]
    truth: GroundTruth

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {doc["event"]["id"]: doc for doc in self.docs}


def generate(config: DemoConfig) -> Generated:
    buffer = io.BytesIO()
    truth = write_ndjson(config, buffer)
    raw = buffer.getvalue()
    return Generated(config, raw, [orjson.loads(line) for line in raw.splitlines()], truth)


@pytest.fixture(scope="session")
def small() -> Generated:
    return generate(SMALL)


@pytest.fixture(scope="session")
def make() -> Any:
    """Generate any other config: ``make(DemoConfig(...))``."""
    return generate
