"""Cutting a file into byte ranges for worker processes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlite.scheduler.parallel import split


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(0, 40), min_size=1, max_size=200), workers=st.integers(1, 4),
       range_bytes=st.integers(1, 300), tail_bytes=st.integers(1, 100))
def test_ranges_cover_the_file_at_line_ends(tmp_path_factory: pytest.TempPathFactory, lengths: list[int], workers: int,
                                            range_bytes: int, tail_bytes: int) -> None:
    data = b"".join(b"x" * length + b"\n" for length in lengths)
    path = tmp_path_factory.mktemp("split") / "f"
    path.write_bytes(data)
    ranges = split(str(path), workers, range_bytes=range_bytes, tail_bytes=tail_bytes)
    assert ranges[0].start == 0 and ranges[-1].end == len(data)
    for before, after in itertools.pairwise(ranges):
        assert before.end == after.start and data[after.start - 1:after.start] == b"\n"
    for part in ranges:
        assert part.start < part.end
        assert part.lines_before == data[:part.start].count(b"\n")
    if all(length == lengths[0] for length in lengths) and len(lengths) >= workers:
        assert len(ranges) >= workers  # lines of one length: no line swallows a cut


def test_the_last_ranges_shrink_so_that_workers_finish_together(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abcde\n" * 10_000)  # 160,000 bytes
    sizes = [part.end - part.start for part in split(str(path), 2, range_bytes=16_000, tail_bytes=2_000)]
    full = [size for size in sizes if size == 16_000]
    assert len(full) >= 5
    tail = sizes[len(full):]
    assert tail == sorted(tail, reverse=True) and len(tail) >= 4
    assert max(tail) < 16_000 and min(tail[:-1]) >= 2_000
