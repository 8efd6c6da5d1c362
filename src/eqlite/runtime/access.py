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

from eqlite.semantic.schema import MISSING, FieldInfo, Schema, field_coercer
from eqlite.semantic.types import Family

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


@lru_cache(maxsize=4096)
def path_parts(name: str) -> tuple[str, ...]:
    """A dotted field name's parts, split once per name (the same few names are read on every event)."""
    return tuple(name.split("."))


def raw_values(document: Document, name: str) -> list[Any] | None:
    """The ``_source`` values of field ``name``, flattened; None when the field is absent.

    An explicit JSON ``null`` is kept as ``None`` (a mapping's ``null_value`` may index it).

    >>> raw_values({"process": {"name": "a"}, "process.pid": [1, 2]}, "process.pid")
    [1, 2]
    >>> raw_values({"a": [{"b": 1}, {"b": [2, 3]}]}, "a.b"), raw_values({}, "a") is None
    ([1, 2, 3], True)
    """
    return _walk(document, path_parts(name), name)


def _walk(document: Document, parts: tuple[str, ...], name: str) -> list[Any] | None:
    """:func:`raw_values`, with the name already split at its dots."""
    # Fast path: plain nested objects, as Beats and Elastic Agent write them. Anything else
    # (arrays on the way, dotted keys) takes the general walk.
    node: Any = document
    for part in parts:
        if type(node) is not dict:
            return _general(document, name)
        found = node.get(part, MISSING)
        if found is MISSING:
            # A dotted key on the way ("process.name" next to "process") may still hold it.
            return _general(document, name) if _dotted_key_on(document, parts) else None
        node = found
    if type(node) is list:
        for item in node:
            if type(item) is list or type(item) is dict:
                return _general(document, name)
        return list(node)  # an array of scalars, the usual kind (event.type, process.args)
    if type(node) is dict:
        return _general(document, name)
    return [node]


def _dotted_key_on(document: Document, parts: tuple[str, ...]) -> bool:
    """Whether an object along the path ``parts`` (as far as it goes) has a key with a dot."""
    node: Any = document
    for part in parts:
        if type(node) is not dict:
            return False
        for key in node:
            if "." in key:
                return True
        node = node.get(part)
    return False


def _general(document: Document, name: str) -> list[Any] | None:
    out: list[Any] = []
    return out if _lookup(document, _path_keys(name), 0, out) else None


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
        plain_parts = path_parts(source_name)
        return lambda document: _plain_values(_walk(document, plain_parts, source_name))
    if info.family is Family.KEYWORD and info.null_value is None and info.constant_value is None:
        return _keyword_reader(source_name, info)
    coerce = field_coercer(info)
    absent: tuple[Any, ...] = () if info.constant_value is None else (info.constant_value,)
    parts = path_parts(source_name)

    def read(document: Document) -> tuple[Any, ...]:
        # indexed_values(info, ...), with the field's coercion looked up once
        raw = _walk(document, parts, source_name)
        if raw:
            if len(raw) == 1:
                value = coerce(raw[0])
                if value is not None:
                    return (value,)
            else:
                found = tuple(value for item in raw if (value := coerce(item)) is not None)
                if found:
                    return found
        return absent

    return read


def _keyword_reader(source_name: str, info: FieldInfo) -> Reader:
    """Keyword fields are most of what rules read: strings pass through unless too long."""
    limit = info.ignore_above
    short = limit // 2 if limit is not None else None  # no string this short can exceed it in UTF-16
    coerce = field_coercer(info)
    parts = path_parts(source_name)

    def read(document: Document) -> tuple[Any, ...]:
        raw = _walk(document, parts, source_name)
        if not raw:
            return ()
        for value in raw:
            if type(value) is not str or (short is not None and len(value) > short):
                break
        else:
            return tuple(raw)
        return tuple(value for item in raw if (value := coerce(item)) is not None)

    return _nested_strings(parts, short, read)


_LONGEST = 1 << 62


def _nested_strings(parts: tuple[str, ...], short: int | None, general: Reader) -> Reader:
    """``general``, with the usual cases first: one string no longer than ``short``, or an array of
    such strings (``event.category``), under nested objects (what :func:`_walk` gives as is).
    Anything else is left to ``general``."""
    if len(parts) < 2:
        return general
    longest = _LONGEST if short is None else short
    within, last = parts[:-1], parts[-1]

    def read(document: Document) -> tuple[Any, ...]:
        node: Any = document
        for part in within:
            node = node.get(part)
            if type(node) is not dict:
                return general(document)
        value = node.get(last)
        if type(value) is str:
            if len(value) <= longest:
                return (value,)
        elif type(value) is list:
            for item in value:
                if type(item) is not str or len(item) > longest:
                    return general(document)
            return tuple(value)
        return general(document)

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

    def folded(self, name: str) -> Reader:
        """The field's string values, case-folded (for case-insensitive matching)."""
        from eqlite.runtime.patterns import fold

        read = self(name)

        def folded(document: Document) -> tuple[Any, ...]:
            values = read(document)
            if len(values) == 1:  # the usual case, without a generator
                value = values[0]
                if type(value) is not str:
                    return ()
                return (fold(value),)
            return tuple([fold(value) for value in values if type(value) is str])

        return folded


class EventView:
    """A parsed document plus a cache of its field values, shared by every rule evaluating it.

    Hundreds of rules read the same few fields (``event.category``, ``process.name``); the
    fast path reads and converts each field once per event.
    """

    __slots__ = ("cache", "source")

    def __init__(self, source: Document) -> None:
        self.source = source
        self.cache: dict[str, tuple[Any, ...]] = {}


class CachingReaders(FieldReaders):
    """Field readers over :class:`EventView` objects that read each field once per event."""

    __slots__ = ("_cached",)

    def __init__(self, schema: Schema | None) -> None:
        super().__init__(schema)
        self._cached: dict[str, Callable[[EventView], tuple[Any, ...]]] = {}

    def __call__(self, name: str) -> Reader:
        cached = self._cached.get(name)
        if cached is None:
            read = super().__call__(name)

            def cached(view: EventView, read: Reader = read, name: str = name) -> tuple[Any, ...]:
                values = view.cache.get(name)
                if values is None:
                    values = view.cache[name] = read(view.source)
                return values

            self._cached[name] = cached
        return cached  # type: ignore[return-value]

    def folded(self, name: str) -> Reader:
        key = "\x00fold:" + name
        cached = self._cached.get(key)
        if cached is None:
            fold_values = super().folded(name)

            def cached(view: EventView, fold_values: Reader = fold_values, key: str = key) -> tuple[Any, ...]:
                values = view.cache.get(key)
                if values is None:
                    values = view.cache[key] = fold_values(view)  # type: ignore[arg-type]
                return values

            self._cached[key] = cached
        return cached  # type: ignore[return-value]
