"""The docstring examples of the rules package run and pass."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import eqlite.rules

MODULES = sorted(info.name for info in pkgutil.walk_packages(eqlite.rules.__path__, "eqlite.rules."))


@pytest.mark.parametrize("name", ["eqlite.rules", *MODULES])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0

