"""Which eqlite code a run measures: the working tree, fingerprinted, or a commit exported to a folder.

Others change ``src/`` while a long benchmark runs, and every measurement subprocess imports
eqlite afresh: without care, one run can measure several versions of the engine. A run
therefore fingerprints the source at its start and end (and says so when they differ), and
``--code REV`` measures a commit instead: ``git archive`` exports its ``src/`` to a temporary
folder that the subprocesses put first on ``PYTHONPATH``. Both git commands only read.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "src"


def source_fingerprint(package: Path) -> str:
    """A SHA-256 over every file of a package folder (relative path and bytes), caches excluded.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as name:
    ...     folder = Path(name)
    ...     _ = (folder / "a.py").write_text("x = 1")
    ...     before = source_fingerprint(folder)
    ...     _ = (folder / "a.py").write_text("x = 2")
    ...     before != source_fingerprint(folder)
    True
    """
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _git(*args: str) -> bytes:
    completed = subprocess.run(["git", "--no-optional-locks", *args], cwd=REPO, capture_output=True, check=False)
    if completed.returncode != 0:
        raise ValueError(f"git {' '.join(args)}: {completed.stderr.decode(errors='replace').strip()}")
    return completed.stdout


def export_source(rev: str, destination: Path) -> str:
    """Write ``src/`` as committed at ``rev`` under ``destination``; return the full commit id.

    Raises:
        ValueError: when ``rev`` names no commit, or git fails.
    """
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    archive = _git("archive", "--format=tar", commit, "src")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return commit
