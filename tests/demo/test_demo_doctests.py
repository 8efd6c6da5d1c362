"""The docstring examples of the demo package run and pass."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import eqlite.demo

MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(eqlite.demo.__path__, "eqlite.demo.")
    if info.name != "eqlite.demo.__main__"
)


@pytest.mark.parametrize("name", ["eqlite.demo", *MODULES])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
