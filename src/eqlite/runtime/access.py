"""Reading field values out of event documents, as Elasticsearch indexes them.

A document is a JSON object whose fields may be nested (``{"process": {"name": ...}}``),
dotted (``{"process.name": ...}``) or both, and whose values may be arrays, including
arrays of objects. A field's values are all the leaves found at its path, flattened.

With a schema, values are converted as the field's mapping would index them (a ``long``
field indexes ``"49152"`` as 49152, an ``ip`` field normalises addresses, a ``keyword``
field drops strings longer than ``ignore_above``), and aliases are followed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from eqlite.semantic.schema import MISSING, FieldInfo, Schema, indexed_values

Document = Mapping[str, Any]
Reader = Callable[[Document], tuple[Any, ...]]


def _append_leaf(value: Any, out: list[Any]) -> None:
    if isinstance(value, list):
        for item in value:
            _append_leaf(item, out)
    elif not isinstance(value, dict):
        out.append(value)


def _lookup(node: Any, keys: tuple[tuple[str, ...], ...], index: int, out: list[Any]) -> bool:
    """Collect the leaves at ``keys[index:]`` below ``node``; return whether the path exists."""
    if index == len(keys):
        _append_leaf(node, out)
        return True
    if isinstance(node, list):
        found = False
        for item in node:
            found = _lookup(item, keys, index, out) or found
        return found
    if not isinstance(node, dict):
        return False
    found = False
    # keys[index] holds the candidate keys at this level: "a", "a.b", "a.b.c", ...
    for width, key in enumerate(keys[index], start=1):
        if key in node:
            found = _lookup(node[key], keys, index + width, out) or found
    return found


@lru_cache(maxsize=4096)
def _path_keys(name: str) -> tuple[tuple[str, ...], ...]:
    parts = name.split(".")
    return tuple(tuple(".".join(parts[start:end]) for end in range(start + 1, len(parts) + 1))
                 for start in range(len(parts)))


def raw_values(document: Document, name: str) -> list[Any] | None:
    """The ``_source`` values of field ``name``, flattened; None when the field is absent.

    An explicit JSON ``null`` is kept as ``None`` (a mapping's ``null_value`` may index it).

    >>> raw_values({"process": {"name": "a"}, "process.pid": [1, 2]}, "process.pid")
    [1, 2]
    >>> raw_values({"a": [{"b": 1}, {"b": [2, 3]}]}, "a.b"), raw_values({}, "a") is None
    ([1, 2, 3], True)
    """
    keys = _path_keys(name)
    top = document.get(keys[0][0], MISSING) if len(keys) == 1 else MISSING
    if top is not MISSING and not isinstance(top, (dict, list)):
        return [top]
    out: list[Any] = []
    return out if _lookup(document, keys, 0, out) else None


def _plain_values(raw: list[Any] | None) -> tuple[Any, ...]:
    if raw is None:
        return ()
    return tuple(value for value in raw if value is not None)


def make_reader(schema: Schema | None, name: str) -> Reader:
    """A function returning the indexed values of field ``name`` in a document.

    Without a schema (or for a field it does not know), values are the JSON values
    themselves, nulls dropped.

    >>> read = make_reader(Schema.ecs(), "source.port")
    >>> read({"source": {"port": "49152"}}), read({})
    ((49152,), ())
    """
    info: FieldInfo | None = schema.field(name) if schema is not None else None
    source_name = schema.resolve(name) if schema is not None else name
    if info is None or info.is_container:
        return lambda document: _plain_values(raw_values(document, source_name))
    resolved = info

    def read(document: Document) -> tuple[Any, ...]:
        raw = raw_values(document, source_name)
        if raw is None:
            return indexed_values(resolved, MISSING)
        return indexed_values(resolved, raw if len(raw) != 1 else raw[0])

    return read


class FieldReaders:
    """One reader per field name, built on first use and shared by every predicate of a query."""

    __slots__ = ("_readers", "schema")

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema
        self._readers: dict[str, Reader] = {}

    def __call__(self, name: str) -> Reader:
        reader = self._readers.get(name)
        if reader is None:
            reader = self._readers[name] = make_reader(self.schema, name)
        return reader

    def info(self, name: str) -> FieldInfo | None:
        return self.schema.field(name) if self.schema is not None else None
