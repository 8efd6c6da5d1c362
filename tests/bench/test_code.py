"""Measuring a commit: its src/ exported with git archive, importable in place of the working tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from enginebench.code import REPO, export_source, source_fingerprint


def test_export_head(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and the repository's history")
    commit = export_source("HEAD", tmp_path)
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)
    assert (tmp_path / "src" / "eqlite" / "__init__.py").is_file()
    assert (tmp_path / "src" / "eqlite" / "syntax" / "eql.lark").is_file()  # package data comes along
    assert source_fingerprint(tmp_path / "src" / "eqlite") == source_fingerprint(tmp_path / "src" / "eqlite")


def test_export_unknown_revision(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and the repository's history")
    with pytest.raises(ValueError, match="no-such-revision"):
        export_source("no-such-revision", tmp_path)


def test_fingerprint_ignores_caches(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1")
    before = source_fingerprint(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert source_fingerprint(tmp_path) == before
