"""The docstring examples of the core modules (syntax, semantic analysis, plan, runtime) and of the
sources and command modules not covered elsewhere run and pass."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import eqlite.cli
import eqlite.plan
import eqlite.runtime
import eqlite.semantic
import eqlite.sources
import eqlite.syntax

# eqlite.semantic.schema and eqlite.sources.windows have their own doctest runs (tests/semantic, tests/sources)
COVERED_ELSEWHERE = ("eqlite.semantic.schema", "eqlite.sources.windows")
MODULES = sorted(
    info.name
    for package in (eqlite.syntax, eqlite.semantic, eqlite.plan, eqlite.runtime, eqlite.sources, eqlite.cli)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if not info.name.startswith(COVERED_ELSEWHERE)
)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
