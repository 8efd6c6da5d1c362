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


@pytest.fixture
def small_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.scheduler import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES", 1000)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 4000)
    monkeypatch.setattr(parallel, "TAIL_BYTES", 500)


def _ndjson(path: Path, lines: int) -> Path:
    path.write_bytes(b"".join(b'{"n": %d, "pad": "%s"}\n' % (number, b"x" * (number % 37)) for number in range(lines)))
    return path


@pytest.mark.usefixtures("small_cuts")
def test_a_presplit_gives_the_ranges_split_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.scheduler import parallel

    first, second = _ndjson(tmp_path / "a.ndjson", 2000), _ndjson(tmp_path / "b.ndjson", 700)
    expected = {str(path): split(str(path), 2) for path in (first, second)}
    with parallel.Presplit([str(first), str(second)], 2) as presplit:
        assert presplit.workers == 2
        # the files are cut in the forked process: the parent's split is never called
        monkeypatch.setattr(parallel, "split", lambda *args, **kwargs: pytest.fail("split in the parent"))
        assert presplit.ranges(str(second)) == expected[str(second)]  # found after the first: both read
        assert presplit.ranges(str(first)) == expected[str(first)]
        assert len(expected[str(first)]) > 4
        assert presplit.ranges(str(first)) is None  # given once


@pytest.mark.usefixtures("small_cuts")
def test_only_the_files_workers_would_cut_are_cut_ahead(tmp_path: Path) -> None:
    import gzip

    from eqlite.scheduler.parallel import Presplit

    small = _ndjson(tmp_path / "small.ndjson", 5)
    packed = tmp_path / "packed.ndjson.gz"
    packed.write_bytes(gzip.compress(_ndjson(tmp_path / "plain", 2000).read_bytes()))
    text = tmp_path / "notes.txt"
    text.write_bytes(b"not events at all\n" * 1000)
    named = [str(small), str(packed), str(text), str(tmp_path / "missing.ndjson"), str(tmp_path)]
    with Presplit(named, 2) as presplit:
        assert presplit._process is None  # nothing to cut: no process started
        assert all(presplit.ranges(path) is None for path in named)
    with Presplit([str(tmp_path / "plain")], 1) as presplit:
        assert presplit._process is None and presplit.ranges(str(tmp_path / "plain")) is None  # one worker


@pytest.mark.usefixtures("small_cuts")
def test_a_file_that_changed_since_it_was_cut_is_left_to_the_caller(tmp_path: Path) -> None:
    from eqlite.scheduler.parallel import Presplit

    path = _ndjson(tmp_path / "a.ndjson", 2000)
    with Presplit([str(path)], 2) as presplit:
        assert presplit._process is not None
        presplit._process.join()  # cut
        with path.open("ab") as handle:
            handle.write(b'{"n": "late"}\n')
        assert presplit.ranges(str(path)) is None


@pytest.mark.usefixtures("small_cuts")
def test_a_presplit_whose_process_died_leaves_the_files_to_the_caller(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from eqlite.scheduler import parallel

    path = _ndjson(tmp_path / "a.ndjson", 2000)
    monkeypatch.setattr(parallel, "split", lambda *args, **kwargs: os._exit(3))  # as the forked process runs it
    presplit = parallel.Presplit([str(path)], 2)
    assert presplit._process is not None
    assert presplit.ranges(str(path)) is None
    assert presplit._process is None  # ended: the parent does not wait on it again
    presplit.close()
