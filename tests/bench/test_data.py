"""Generated data files: cached by (events, seed), regenerated when stale."""

from __future__ import annotations

from pathlib import Path

import orjson
from enginebench.data import data_name, ensure_data


def test_generates_once_then_reuses(tmp_path: Path) -> None:
    messages: list[str] = []
    first = ensure_data(4_000, 1, tmp_path, log=messages.append)
    assert first.path.name == data_name(4_000, 1) and len(messages) == 1
    assert first.size == first.path.stat().st_size and first.expected_seed_hits > 0
    assert sum(1 for _ in first.path.open("rb")) == 4_000
    again = ensure_data(4_000, 1, tmp_path, log=messages.append)
    assert again == first and len(messages) == 1
    assert not list(tmp_path.glob("*.partial"))


def test_stale_file_is_regenerated(tmp_path: Path) -> None:
    messages: list[str] = []
    first = ensure_data(4_000, 2, tmp_path, log=messages.append)
    meta = first.path.with_name(first.path.name.removesuffix(".ndjson") + ".meta.json")
    stale = orjson.loads(meta.read_bytes())
    stale["fingerprint"]["config"] = "DemoConfig(older)"
    meta.write_bytes(orjson.dumps(stale))
    assert ensure_data(4_000, 2, tmp_path, log=messages.append) == first
    assert len(messages) == 2
    older = orjson.loads(meta.read_bytes())
    older["fingerprint"]["documents"] -= 1  # made by an older generator: same configuration, other documents
    meta.write_bytes(orjson.dumps(older))
    assert ensure_data(4_000, 2, tmp_path, log=messages.append) == first
    assert len(messages) == 3


def test_the_data_cut_into_small_files_holds_the_same_lines_in_order(tmp_path: Path) -> None:
    import dataclasses

    import pytest
    from enginebench.data import split_data

    messages: list[str] = []
    data = ensure_data(4_000, 3, tmp_path, log=messages.append)  # about 6 MB
    files = split_data(data, 1, log=messages.append)
    assert len(files) >= data.size / 1_000_000
    assert [path.name for path in files] == sorted(path.name for path in files)
    assert all(path.stat().st_size <= 1_000_000 for path in files)
    assert b"".join(path.read_bytes() for path in files) == data.path.read_bytes()
    assert all(path.read_bytes().endswith(b"\n") for path in files)
    assert split_data(data, 1, log=messages.append) == files and len(messages) == 2  # cut once, then reused
    changed = dataclasses.replace(data, size=data.size + 1)  # the data file was regenerated since
    assert split_data(changed, 1, log=messages.append) == files and len(messages) == 3
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(ValueError):
        split_data(data, 0)
