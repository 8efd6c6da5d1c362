"""The docstring examples of the benchmark helpers run and pass."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["bench_alternate", "bench_instructions",
           "enginebench.code", "enginebench.data", "enginebench.engines", "enginebench.eqlpkg",
           "enginebench.instructions", "enginebench.measure", "enginebench.report", "enginebench.workloads"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
