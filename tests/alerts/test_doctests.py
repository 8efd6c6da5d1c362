"""The docstring examples of the alerts package run and pass."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import eqlite.alerts

MODULES = sorted(info.name for info in pkgutil.walk_packages(eqlite.alerts.__path__, "eqlite.alerts."))


@pytest.mark.parametrize("name", ["eqlite.alerts", *MODULES])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
