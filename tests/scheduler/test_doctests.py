"""The docstring examples of the scheduler modules (and their commands) run and pass."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [f"eqlite.scheduler.{name}" for name in (
    "clock", "datemath", "executor", "log", "replay", "runner", "schedule", "state", "tail", "watch")] + [
    f"eqlite.cli.{name}" for name in ("executions_cmd", "status_cmd", "watch_cmd")]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
