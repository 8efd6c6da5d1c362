"""Imports flow one way: nothing below the scheduler imports it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import eqlite

PACKAGE = Path(eqlite.__file__).parent
BELOW = ("syntax", "semantic", "plan", "runtime", "rules", "sources", "alerts")
SCHEDULER_IMPORT = re.compile(r"^\s*(from|import)\s+eqlite\.scheduler\b", re.MULTILINE)


@pytest.mark.parametrize("layer", BELOW)
def test_lower_layers_do_not_import_the_scheduler(layer: str) -> None:
    offenders = [str(path.relative_to(PACKAGE)) for path in sorted((PACKAGE / layer).rglob("*.py"))
                 if SCHEDULER_IMPORT.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
