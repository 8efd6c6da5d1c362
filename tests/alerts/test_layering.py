"""Imports flow one way: the core never imports the alerts package (which uses the core)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import eqlite

PACKAGE = Path(eqlite.__file__).parent
CORE = ("syntax", "semantic", "plan", "runtime", "rules")
ALERTS_IMPORT = re.compile(r"^\s*(from|import)\s+eqlite\.alerts\b", re.MULTILINE)


@pytest.mark.parametrize("layer", CORE)
def test_core_does_not_import_alerts(layer: str) -> None:
    offenders = [str(path.relative_to(PACKAGE)) for path in sorted((PACKAGE / layer).rglob("*.py"))
                 if ALERTS_IMPORT.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
