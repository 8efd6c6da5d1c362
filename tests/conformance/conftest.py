"""Per-file pass counts for the conformance runs, printed after the test session."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

RESULTS: Counter[tuple[str, str]] = Counter()


def record(file: str, outcome: str) -> None:
    RESULTS[(file, outcome)] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    files = sorted({file for file, _ in RESULTS})
    if not files:
        return
    terminalreporter.section("Elasticsearch EQL conformance")
    for file in files:
        passed, failed, excluded = (RESULTS[(file, o)] for o in ("passed", "failed", "excluded"))
        terminalreporter.write_line(f"{file:45} {passed:4d} passed  {failed:3d} failed  {excluded:3d} excluded")


@pytest.fixture
def outcome_recorder() -> Any:
    return record
