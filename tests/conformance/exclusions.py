"""The exclusion list, read from EXCLUSIONS.md so that the document and the runner never disagree."""

from __future__ import annotations

from pathlib import Path

_DOCUMENT = Path(__file__).with_name("EXCLUSIONS.md")


def load() -> dict[tuple[str, str, str], str]:
    """(file, dataset, name) → reason, for every row of the exclusions table."""
    excluded: dict[tuple[str, str, str], str] = {}
    for line in _DOCUMENT.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].endswith(".toml") and not set(cells[0]) <= {"-"}:
            excluded[(cells[0], cells[1], cells[2])] = cells[3]
    return excluded


EXCLUDED = load()
