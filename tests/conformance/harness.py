"""Load Elasticsearch's EQL QA specifications and their data the way Elasticsearch's harness does.

See ``docs/research/eql-semantics.md`` §1 in the shared material: which spec file runs on
which index, how each index's data is transformed at load time, and how results compare.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eqlite.runtime.search import EventHit, SampleHit, SearchOptions, SearchResult, SequenceHit
from eqlite.runtime.search import search as run_search
from eqlite.semantic.schema import Schema, load_es_mapping_file
from eqlite.semantic.types import version_key

NULL = "__NULL__"
_BARE_NULL = re.compile(r"(?<=[\[,\s])null(?=\s*[,\]])")
_KEYS_ARRAY = re.compile(r"^(join_keys\s*=\s*\[[^\]]*\])", re.MULTILINE)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
FILETIME_EPOCH_MS = 11_644_473_600_000


@dataclass(frozen=True, slots=True)
class Dataset:
    """One index (or indices searched together) with the request settings its test class uses."""

    name: str
    documents: tuple[Any, ...]
    schema: Schema
    tiebreaker: str | None
    id_field: str
    index_schemas: dict[str, Schema] | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A document tagged with the index it was loaded into."""

    source: dict[str, Any]
    index: str
    position: int
    path: str = ""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Spec:
    file: str
    name: str
    query: str
    expected: list[Any]
    join_keys: list[Any] | None = None
    size: int = 50
    max_samples_per_key: int = 1
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _json(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(_LINE_COMMENT.sub("", text))


def load_specs(path: Path) -> list[Spec]:
    """Every active query of a spec file (TOML with ES's bare ``null`` extension)."""
    # ES's TOML reader accepts bare nulls in join_keys arrays; tomllib does not.
    text = _KEYS_ARRAY.sub(lambda m: _BARE_NULL.sub(f'"{NULL}"', m.group(1)), path.read_text(encoding="utf-8"))
    specs = []
    for entry in tomllib.loads(text).get("queries", []):
        specs.append(Spec(
            path.name, entry["name"], entry["query"].strip(), entry["expected_event_ids"],
            entry.get("join_keys"), entry.get("size", 50), entry.get("max_samples_per_key", 1), entry,
        ))
    return specs


def _endgame_documents(root: Path, *, nanos: bool) -> tuple[dict[str, Any], ...]:
    documents = []
    for source in _json(root / "test_data.json"):
        document = dict(source)
        ticks = document["timestamp"]
        if nanos:
            digits = str(ticks)
            head, tail = digits[:12], digits[12:]
            document["@timestamp"] = head + ("." + tail if tail.strip("0") else "")
            document["timestamp"] = ticks // 1_000_000
        else:
            document["@timestamp"] = ticks // 10_000 - FILETIME_EPOCH_MS
        documents.append(document)
    return tuple(documents)


def _schema(root: Path, mappings: list[str], documents: tuple[dict[str, Any], ...],
            patch: dict[str, Any] | None = None) -> Schema:
    explicit = Schema.merge(*(load_es_mapping_file(root / "data" / mapping) for mapping in mappings))
    if patch:
        explicit = Schema.merge(explicit, Schema.from_mapping({"properties": patch}))
    return explicit.extend_dynamic(documents)


@cache
def dataset(root: Path, name: str) -> Dataset:
    """Build the index a test class searches, data transformed as Elasticsearch's loader does."""
    if name in ("endgame", "endgame-nanos"):
        nanos = name == "endgame-nanos"
        documents = _endgame_documents(root, nanos=nanos)
        mapping = "endgame-140-nanos.mapping" if nanos else "endgame-140.mapping"
        return Dataset(name, documents, _schema(root, [mapping], documents), "serial_event_id", "serial_event_id")
    if name in ("extra", "missing-events"):
        documents = tuple(_json(root / "data" / f"{name}.data"))
        # The stored extra.mapping predates the version tests in test_extra.toml, which need
        # `version` mapped as Elasticsearch's `version` type (as upstream now maps it).
        patch = {"version": {"type": "version"}} if name == "extra" else None
        return Dataset(name, documents, _schema(root, [f"{name}.mapping"], documents, patch), "sequence", "sequence")
    if name == "sample":
        records: list[Record] = []
        schemas: dict[str, Schema] = {}
        for number in (1, 2, 3):
            index = f"sample{number}"
            loaded = tuple(_json(root / "data" / f"{index}.data"))
            schemas[index] = _schema(root, [f"{index}.mapping"], loaded)
            records.extend(Record(doc, index, len(records)) for doc in loaded)
        return Dataset(name, tuple(records), Schema.merge(*schemas.values()), None, "id", schemas)
    if name == "sample-multi":
        documents = tuple(_json(root / "data" / "sample-multi.data"))
        return Dataset(name, documents, _schema(root, ["sample-multi.mapping"], documents), None, "id")
    raise KeyError(name)


# Which data each spec file runs on, as in Elasticsearch's QA test classes.
SPEC_DATASETS: dict[str, list[str]] = {
    "test_queries.toml": ["endgame", "endgame-nanos"],
    "additional_test_queries.toml": ["endgame"],
    "test_queries_date.toml": ["endgame"],
    "test_queries_date_nanos.toml": ["endgame-nanos"],
    "test_extra.toml": ["extra"],
    "test_missing_events.toml": ["missing-events"],
    "test_sample.toml": ["sample"],
    "test_sample_multi.toml": ["sample-multi"],
}


def run(spec: Spec, data: Dataset, result_position: str) -> SearchResult:
    options = SearchOptions(
        schema=data.schema, tiebreaker_field=data.tiebreaker, size=spec.size,
        result_position=result_position,  # type: ignore[arg-type]
        max_samples_per_key=spec.max_samples_per_key, index_schemas=data.index_schemas,
    )
    return run_search(spec.query, data.documents, options)


def event_ids(result: SearchResult, id_field: str) -> list[Any]:
    """Flatten hits to ids as the harness does: a missing-event placeholder counts as -1."""
    ids: list[Any] = []
    for hit in result.hits:
        if isinstance(hit, EventHit):
            ids.append(hit.event.source.get(id_field))
        else:
            assert isinstance(hit, (SequenceHit, SampleHit))
            ids.extend(-1 if event is None else event.source.get(id_field) for event in hit.events)
    return ids


def _java_string(value: Any) -> str:
    if value is None or value == NULL:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def join_keys(result: SearchResult) -> list[str]:
    keys: list[str] = []
    for hit in result.hits:
        if isinstance(hit, (SequenceHit, SampleHit)):
            keys.extend(_java_string(key) for key in hit.join_keys)
    return keys


def expected_keys(spec: Spec) -> list[str]:
    return [_java_string(key) for key in spec.join_keys or []]


def accepted(spec: Spec, ids: list[Any]) -> bool:
    expected = spec.expected
    if expected and isinstance(expected[0], list):
        return ids in expected
    return ids == expected


__all__ = ["SPEC_DATASETS", "Dataset", "Spec", "accepted", "dataset", "event_ids", "expected_keys", "join_keys",
           "load_specs", "run", "version_key"]
