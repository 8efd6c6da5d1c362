"""Fixtures of the alert tests: the seed rule and its hits over a small demo run."""

from __future__ import annotations

import pytest

from eqlite.demo import DemoRun
from eqlite.rules import Rule, load_builtin_rules
from tests.alerts.helpers import DEMO, DemoHits, search


@pytest.fixture(scope="session")
def seed_rule() -> Rule:
    return load_builtin_rules()[0]


@pytest.fixture(scope="session")
def demo_hits(seed_rule: Rule) -> DemoHits:
    run = DemoRun(DEMO)
    documents = list(run)
    return DemoHits(documents, search(seed_rule, documents), run.ground_truth)
