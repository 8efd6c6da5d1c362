#!/usr/bin/env python3
"""Generate eqlite's compact ECS field-type tables from the ECS and detection-rules sources.

Writes two tab-separated files into ``src/eqlite/semantic/data/``:

* ``ecs_types.tsv``: every ECS field (from ``ecs_flat.yml``) with its type, ``ignore_above``
  and a few mapping options, plus one row per multi-field (``process.name.text``);
* ``non_ecs_types.tsv``: fields Elastic's detection rules use that ECS lacks (from
  detection-rules' ``non-ecs-schema.json`` and, when present, the Elastic Endpoint process
  schema ``endpoint_process.json.gz``), with the index patterns they came from.

Only field names and types are kept, never descriptions, so the tables carry facts and
none of the upstream prose.

Usage::

    python scripts/gen_ecs_types.py --source ../shared/datasets/ecs --ecs-version 9.4.0
    python scripts/gen_ecs_types.py --check   # exit 1 if the packaged tables are stale
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "src" / "eqlite" / "semantic" / "data"
DEFAULT_SOURCE = REPO.parent / "shared" / "datasets" / "ecs"
DEFAULT_ECS_VERSION = "9.4.0"
ENDPOINT_PROCESS_SOURCE = "endpoint:process"

CONTAINER_TYPES = frozenset({"object", "nested", "flattened"})

COLUMNS_DOC = """\
# Columns: field, type, ignore_above (blank: none), options, comma-separated:
#   array            ECS `normalize: [array]` (the field usually holds a list)
#   multi_field      a sub-field of the field named by the part before the last dot
#   index=false      values are kept in _source but not searchable
#   doc_values=false no doc values
#   object_type=T    (object fields) children without their own row have type T
#   scaling_factor=N (scaled_float)
"""


@dataclass(slots=True)
class Row:
    name: str
    type: str
    ignore_above: int | None = None
    options: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def render(self, with_sources: bool) -> str:
        cells = [self.name, self.type, "" if self.ignore_above is None else str(self.ignore_above)]
        cells.append(",".join(self.options))
        if with_sources:
            cells.append(",".join(self.sources))
        return "\t".join(cells)


def ecs_rows(ecs_flat: Mapping[str, Mapping[str, Any]]) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for name, spec in ecs_flat.items():
        options = []
        if "array" in (spec.get("normalize") or ()):
            options.append("array")
        if spec.get("index") is False:
            options.append("index=false")
        if spec.get("doc_values") is False:
            options.append("doc_values=false")
        if spec.get("object_type"):
            options.append(f"object_type={spec['object_type']}")
        if spec.get("scaling_factor"):
            options.append(f"scaling_factor={spec['scaling_factor']}")
        rows[name] = Row(name, spec["type"], spec.get("ignore_above"), options)
        for sub in spec.get("multi_fields") or ():
            sub_name = f"{name}.{sub['name']}"
            rows[sub_name] = Row(sub_name, sub["type"], sub.get("ignore_above"), ["multi_field"])
    return rows


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Both dotted keys and nested objects occur in non-ecs-schema.json; yield dotted leaves."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}.")
        else:
            yield name, str(value)


def non_ecs_rows(
    non_ecs: Mapping[str, Mapping[str, Any]],
    endpoint: Mapping[str, str] | None,
    ecs: Mapping[str, Row],
) -> tuple[dict[str, Row], list[str]]:
    rows: dict[str, Row] = {}
    notes: list[str] = []
    sources: list[tuple[str, Iterator[tuple[str, str]]]] = [
        (pattern, flatten(tree)) for pattern, tree in non_ecs.items()
    ]
    if endpoint is not None:
        sources.append((ENDPOINT_PROCESS_SOURCE, iter(sorted(endpoint.items()))))
    for source, fields in sources:
        for name, es_type in fields:
            known = ecs.get(name)
            if known is not None:
                if known.type != es_type:
                    notes.append(f"{name}: ECS says {known.type}, {source} says {es_type}; kept ECS")
                continue
            row = rows.get(name)
            if row is None:
                rows[name] = Row(name, es_type, sources=[source])
            elif row.type != es_type:
                notes.append(f"{name}: {row.sources} say {row.type}, {source} says {es_type}; kept first")
            elif source not in row.sources:
                row.sources.append(source)
    leaves = {name: row.type for name, row in [*ecs.items(), *rows.items()]}
    for name, row in rows.items():
        parent = name.rpartition(".")[0]
        if parent in leaves and leaves[parent] not in CONTAINER_TYPES:
            row.options.append("multi_field")
    return rows, notes


def header(title: str, sources: list[str], command: str) -> str:
    lines = [f"# {title}", "# Field names and types only; no descriptions."]
    lines += [f"# Source: {source}" for source in sources]
    lines += [f"# Generated by: {command}", "# Do not edit by hand; re-run the generator."]
    return "\n".join(lines) + "\n" + COLUMNS_DOC


def render(rows: Mapping[str, Row], head: str, with_sources: bool) -> str:
    columns = "#field\ttype\tignore_above\toptions" + ("\tsources" if with_sources else "")
    body = "\n".join(rows[name].render(with_sources) for name in sorted(rows))
    return f"{head}{columns}\n{body}\n"


def generate(source: Path, ecs_version: str) -> tuple[dict[str, str], list[str]]:
    with (source / "ecs_flat.yml").open(encoding="utf-8") as handle:
        ecs_flat = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    non_ecs = json.loads((source / "non-ecs-schema.json").read_text(encoding="utf-8"))
    endpoint_path = source / "endpoint_process.json.gz"
    endpoint = json.loads(gzip.decompress(endpoint_path.read_bytes())) if endpoint_path.exists() else None

    ecs = ecs_rows(ecs_flat)
    extra, notes = non_ecs_rows(non_ecs, endpoint, ecs)
    # The folder is not named: the tables must not depend on where the checkout and the data live.
    command = f"python scripts/gen_ecs_types.py --source DIR --ecs-version {ecs_version}"
    ecs_text = render(
        ecs,
        header(
            f"ECS {ecs_version} field types",
            [f"elastic/ecs generated/ecs/ecs_flat.yml, tag v{ecs_version} (Apache License 2.0)"],
            command,
        ),
        with_sources=False,
    )
    non_ecs_sources = [
        "elastic/detection-rules detection_rules/etc/non-ecs-schema.json (Elastic License 2.0)"
    ]
    if endpoint is not None:
        non_ecs_sources.append(
            "elastic/detection-rules detection_rules/etc/endpoint_schemas/endpoint_process.json.gz"
            f" (listed as {ENDPOINT_PROCESS_SOURCE})"
        )
    non_ecs_text = render(
        extra,
        header(
            f"Non-ECS field types used by Elastic detection rules (fields also in ECS {ecs_version} omitted)",
            non_ecs_sources,
            command,
        )
        + "# sources: the index patterns (or schema) that declare the field\n",
        with_sources=True,
    )
    return {"ecs_types.tsv": ecs_text, "non_ecs_types.tsv": non_ecs_text}, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="directory with ecs_flat.yml")
    parser.add_argument("--ecs-version", default=DEFAULT_ECS_VERSION)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="only compare with the files in --out")
    args = parser.parse_args(argv)

    outputs, notes = generate(args.source, args.ecs_version)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    stale = [name for name, text in outputs.items() if _read(args.out / name) != text]
    if args.check:
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        (args.out / name).write_text(text, encoding="utf-8")
        rows = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        print(f"wrote {args.out / name}: {rows} fields, {len(text.encode())} bytes")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
