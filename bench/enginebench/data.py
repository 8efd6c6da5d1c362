"""Demo telemetry files for the engine benchmark, generated once per (events, seed) and cached.

Files come from :func:`eqlite.demo.write_ndjson` with :meth:`eqlite.demo.DemoConfig.scalable`:
Elastic-Endpoint-shaped Windows events (about 1.6 KB a line) in ``@timestamp`` order, with
planted chains for the seed rule and a ground-truth manifest beside the file. A cached file is
reused while its sidecar ``.meta.json`` still describes the same generator configuration and
revision of the documents (:data:`eqlite.demo.DOCUMENTS_REVISION`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from eqlite.demo import DOCUMENTS_REVISION, DemoConfig, write_ndjson

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BYTES_PER_EVENT = 1_600  # measured on the generator's output; used for the disk-space check only


@dataclass(frozen=True, slots=True)
class DataFile:
    """A generated event file and what is known about it.

    Attributes:
        path: the NDJSON file.
        events: number of lines (one event each).
        seed: generator seed.
        size: file size in bytes.
        expected_seed_hits: sequences the seed rule must report (from the ground truth).
    """

    path: Path
    events: int
    seed: int
    size: int
    expected_seed_hits: int

    @property
    def megabytes(self) -> float:
        return self.size / 1e6


def data_name(events: int, seed: int) -> str:
    """The cache file name for a size and seed.

    >>> data_name(100_000, 0)
    'demo-100000-seed0.ndjson'
    """
    return f"demo-{events}-seed{seed}.ndjson"


def fingerprint(events: int, seed: int) -> dict[str, Any]:
    """What a cached file must have been generated with to be reused.

    >>> fingerprint(5000, 1)["config"].startswith("DemoConfig(seed=1, events=5000")
    True
    """
    return {"config": repr(DemoConfig.scalable(events, seed=seed)), "documents": DOCUMENTS_REVISION,
            "eqlite": version("eqlite")}


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".ndjson") + ".meta.json")


def _cached(path: Path, events: int, seed: int) -> DataFile | None:
    meta_path = _meta_path(path)
    if not (path.exists() and meta_path.exists()):
        return None
    meta = orjson.loads(meta_path.read_bytes())
    if meta.get("fingerprint") != fingerprint(events, seed) or meta.get("size") != path.stat().st_size:
        return None
    return DataFile(path, events, seed, meta["size"], meta["expected_seed_hits"])


def ensure_data(events: int, seed: int = 0, directory: Path = DATA_DIR, *, regenerate: bool = False,
                log: Any = print) -> DataFile:
    """The cached file for (events, seed), generating it first when missing or stale.

    Generation writes to a ``.partial`` file and renames it, so an interrupted run never leaves
    a truncated file that looks cached.

    Raises:
        OSError: when the disk lacks room for twice the expected file size.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / data_name(events, seed)
    cached = None if regenerate else _cached(path, events, seed)
    if cached is not None:
        return cached
    needed = 2 * events * BYTES_PER_EVENT
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise OSError(f"generating {events:,} events needs about {needed / 1e9:.1f} GB free in {directory}; "
                      f"only {free / 1e9:.1f} GB is free (use a smaller --events or clean {directory})")
    log(f"generating {path.name} ({events:,} events, about {events * BYTES_PER_EVENT / 1e6:,.0f} MB) ...")
    partial = path.with_name(path.name + ".partial")
    truth_path = path.with_name(path.name.removesuffix(".ndjson") + ".truth.json")
    truth = write_ndjson(DemoConfig.scalable(events, seed=seed), partial, manifest_path=truth_path)
    os.replace(partial, path)
    size = path.stat().st_size
    expected = len(truth.expected_sequences())
    meta = {"fingerprint": fingerprint(events, seed), "size": size, "expected_seed_hits": expected}
    _meta_path(path).write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return DataFile(path, events, seed, size, expected)


def split_data(data: DataFile, megabytes: int, *, log: Any = print) -> list[Path]:
    """The data file cut at line ends into files of about ``megabytes`` MB each, cached in a folder beside
    it: a folder of small files, as the file output of Filebeat and Winlogbeat writes them (10 MB each
    by default). Same events, same order, sorted file names.

    Written to a ``.partial`` folder and renamed, like the data file.
    """
    if megabytes < 1:
        raise ValueError("files of at least 1 MB")
    folder = data.path.with_name(f"{data.path.name.removesuffix('.ndjson')}-{megabytes}mb")
    stamp = folder / ".source"  # a dot file: eqlite skips it when it walks the folder
    expected = f"{data.path.name} {data.size}"
    if stamp.exists() and stamp.read_text() == expected:
        return sorted(folder.glob("part-*.ndjson"))
    log(f"cutting {data.path.name} into files of {megabytes} MB in {folder.name}/ ...")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    partial.mkdir(parents=True)
    limit, number, written, out = megabytes * 1_000_000, 0, 0, None
    try:
        with open(data.path, "rb") as source:
            for line in source:
                if out is None or (written + len(line) > limit and written):
                    if out is not None:
                        out.close()
                    out = open(partial / f"part-{number:05d}.ndjson", "wb")  # noqa: SIM115 (closed above or below)
                    number, written = number + 1, 0
                out.write(line)
                written += len(line)
    finally:
        if out is not None:
            out.close()
    (partial / ".source").write_text(expected)
    os.replace(partial, folder)
    return sorted(folder.glob("part-*.ndjson"))
