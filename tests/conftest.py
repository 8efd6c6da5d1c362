"""Shared test helpers: where the read-only shared material lives, and how to skip without it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(os.environ.get("EQLITE_SHARED", ROOT.parent / "shared"))

# Compiled scanners are kept in a folder of the test run's own, not the user's cache.
if "EQLITE_CACHE_DIR" not in os.environ:
    os.environ["EQLITE_CACHE_DIR"] = tempfile.mkdtemp(prefix="eqlite-test-cache-")
    atexit.register(shutil.rmtree, os.environ["EQLITE_CACHE_DIR"], True)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the calling test with a clear reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the shared data set at {path} (set EQLITE_SHARED to its location)")
    return path
