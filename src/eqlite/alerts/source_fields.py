"""How an event's ``_source`` becomes the body of an alert, and how a sequence's shell body is found.

Kibana copies the source event into the alert with a few changes (detection-engine.md §3.4,
``traverseAndMutateDoc``):

* top-level keys starting with ``kibana`` or ``signal``, and ``threshold_result``, are dropped
  (an alert never inherits another alert's verdict fields);
* values the alerts index could not hold under its ECS mapping are dropped: a non-number in
  a ``long``/``float`` field, a bad ``ip``, ``date`` or ``boolean``, an object where ECS has a
  value, a value where ECS has an object, a dotted path through an ECS value field;
* objects and arrays left empty are dropped;
* every ``event.*`` value is copied to ``kibana.alert.original_event.*`` (and, in the current
  profile, ``data_stream.*`` to ``kibana.alert.original_data_stream.*``), then ``event.kind``
  is removed so that the alert's own ``event.kind: signal`` replaces it.

Source fields keep the shape they had in the event (nested or dotted); only the copies are
written as dotted keys, as Kibana writes them.

A sequence's shell alert carries what its building blocks have in common: the recursive
intersection of their documents (:func:`intersect_documents`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

from eqlite.semantic.schema import FieldInfo, Schema
from eqlite.semantic.types import Family, coerce_value

_STRIPPED_PREFIXES: Final = ("kibana", "signal")
_STRIPPED_KEYS: Final = frozenset({"threshold_result"})
_CHECKED_FAMILIES: Final = frozenset({Family.NUMERIC, Family.DATE, Family.IP, Family.BOOLEAN})
_OBJECT_FAMILIES: Final = frozenset({Family.OBJECT, Family.NESTED})
ORIGINAL_EVENT: Final = "kibana.alert.original_event"
ORIGINAL_DATA_STREAM: Final = "kibana.alert.original_data_stream"


class _Drop:
    """Marks a value the alert does not keep (``None`` is a value JSON may hold)."""


_DROP: Final = _Drop()
_FREE, _OBJECT, _VALUE, _CHECKED = range(4)


class CopiedSource(NamedTuple):
    """The source fields an alert keeps, and the dotted ``original_*`` copies to add beside them."""

    fields: dict[str, Any]
    originals: dict[str, Any]


class EcsRules:
    """What the alerts index's ECS mapping allows at each field path, remembered path by path.

    An alert builder keeps one for all its alerts: the same few hundred paths come back in
    every event, and asking the schema once per path is what keeps copying cheap.

    >>> rules = EcsRules()
    >>> rules.allows("source.port", "49152"), rules.allows("source.port", "x"), rules.allows("process", "x")
    (True, False, False)
    """

    _LIMIT: Final = 100_000

    def __init__(self, ecs: Schema | None = None) -> None:
        self.schema = ecs if ecs is not None else Schema.ecs(include_non_ecs=False)
        self._kinds: dict[str, tuple[int, FieldInfo | None]] = {}
        self._through: dict[tuple[str, str], bool] = {}

    def kind(self, path: str) -> tuple[int, FieldInfo | None]:
        """``(kind, field)``: free (not an ECS value field), object, value, or value that must parse."""
        found = self._kinds.get(path)
        if found is None:
            if len(self._kinds) > self._LIMIT:
                self._kinds.clear()
            info = self.schema.field(path)
            family = info.family if info is not None else None
            if info is None or family is Family.FLATTENED:
                kind = _FREE
            elif family in _OBJECT_FAMILIES:
                kind = _OBJECT
            else:
                kind = _CHECKED if family in _CHECKED_FAMILIES else _VALUE
            found = self._kinds[path] = (kind, info)
        return found

    def allows(self, path: str, value: Any) -> bool:
        """Whether a scalar ``value`` may stay at ``path``."""
        kind, info = self.kind(path)
        if value is None or kind in (_FREE, _VALUE):
            return True
        if kind == _OBJECT or info is None:
            return False
        return coerce_value(info.type, value, date_format=info.date_format) is not None

    def passes_through_value(self, parent: str, key: str) -> bool:
        """Whether a dotted ``key`` under ``parent`` crosses an ECS value field (``process.name.x``)."""
        cached = self._through.get((parent, key))
        if cached is None:
            if len(self._through) > self._LIMIT:
                self._through.clear()
            cached = False
            prefix = parent
            for part in key.split(".")[:-1]:
                prefix = f"{prefix}.{part}" if prefix else part
                if self.kind(prefix)[0] in (_VALUE, _CHECKED):
                    cached = True
                    break
            self._through[(parent, key)] = cached
        return cached


def copy_source(source: Mapping[str, Any], ecs: EcsRules | Schema | None = None, *,
                data_stream: bool = True) -> CopiedSource:
    """Copy an event's ``_source`` into alert fields, as Kibana does (see the module docstring).

    Args:
        source: the event's ``_source``.
        ecs: the ECS mapping of the alerts index (default: the packaged ECS table); pass one
            :class:`EcsRules` for many events.
        data_stream: also copy ``data_stream.*`` to ``kibana.alert.original_data_stream.*``.

    >>> copied = copy_source({"event": {"kind": "event", "category": ["network"]}, "source": {"port": "x"},
    ...     "kibana.alert.uuid": "old", "host": {"name": "h1"}})
    >>> copied.fields
    {'event': {'category': ['network']}, 'host': {'name': 'h1'}}
    >>> copied.originals
    {'kibana.alert.original_event.kind': 'event', 'kibana.alert.original_event.category': ['network']}
    """
    rules = ecs if isinstance(ecs, EcsRules) else EcsRules(ecs)
    cleaned: dict[str, Any] = {}
    for key, value in source.items():
        if key in _STRIPPED_KEYS or key.startswith(_STRIPPED_PREFIXES):
            continue
        if "." in key and rules.passes_through_value("", key):
            continue
        kept = _clean(value, key, rules)
        if kept is not _DROP:
            cleaned[key] = kept
    originals: dict[str, Any] = {}
    _collect(cleaned, "event", ORIGINAL_EVENT, originals)
    if data_stream:
        _collect(cleaned, "data_stream", ORIGINAL_DATA_STREAM, originals)
    cleaned.pop("event.kind", None)
    event = cleaned.get("event")
    if isinstance(event, dict) and "kind" in event:
        event = {key: value for key, value in event.items() if key != "kind"}
        if event:
            cleaned["event"] = event
        else:
            del cleaned["event"]
    return CopiedSource(cleaned, originals)


def _clean(value: Any, path: str, rules: EcsRules) -> Any:
    if isinstance(value, dict):
        if rules.kind(path)[0] in (_VALUE, _CHECKED):
            return _DROP
        kept = {}
        for key, child in value.items():
            if "." in key and rules.passes_through_value(path, key):
                continue
            cleaned = _clean(child, f"{path}.{key}", rules)
            if cleaned is not _DROP:
                kept[key] = cleaned
        return kept or _DROP
    if isinstance(value, list):
        items = [cleaned for item in value if (cleaned := _clean(item, path, rules)) is not _DROP]
        return items or _DROP
    return value if rules.allows(path, value) else _DROP


def _collect(cleaned: Mapping[str, Any], root: str, target: str, out: dict[str, Any]) -> None:
    for key, value in cleaned.items():
        if key == root:
            _flatten_into(value, target, out)
        elif key.startswith(root + "."):
            _flatten_into(value, target + key[len(root):], out)


def _flatten_into(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten_into(child, f"{path}.{key}", out)
    else:
        out[path] = value


# ------------------------------------------------------------------------------------ shells


def intersect_documents(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields every document has with equal values, recursing into objects.

    Arrays keep the scalar elements common to both (in the first array's order, once each);
    a scalar meets an array as a one-element array; objects inside arrays never match (they
    come from different hits); a number never equals a string or a boolean; a nested key
    meets the same field written with dots. Keys whose intersection is empty are dropped.

    >>> intersect_documents([{"user": {"name": "root"}, "ip": ["a", "b"], "n": 1},
    ...                      {"user.name": "root", "ip": ["a", "c"], "n": "1"}])
    {'user': {'name': 'root'}, 'ip': ['a']}
    """
    result: dict[str, Any] | None = None
    for document in documents:
        if result is None:
            result = dict(document)
            continue
        merged = _intersect(result, document)
        result = merged if isinstance(merged, dict) else {}
    return result or {}


def _intersect(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = {}
        for key, value in a.items():
            other = _member(b, key)
            if other is _DROP:
                continue
            common = _intersect(value, other)
            if common is not _DROP and not (isinstance(common, (dict, list)) and not common):
                out[key] = common
        return out
    if isinstance(a, dict) or isinstance(b, dict):
        return _DROP
    if isinstance(a, list) or isinstance(b, list):
        left = a if isinstance(a, list) else [a]
        right = b if isinstance(b, list) else [b]
        shared: list[Any] = []
        for item in left:
            if _is_scalar(item) and any(_same(item, other) for other in right) and not any(
                    _same(item, seen) for seen in shared):
                shared.append(item)
        return shared
    return a if _same(a, b) else _DROP


def _member(document: Mapping[str, Any], key: str) -> Any:
    """``document[key]``, also finding a nested key written with dots in ``document`` and vice versa."""
    if key in document:
        return document[key]
    if "." in key:
        head, _, rest = key.partition(".")
        child = document.get(head)
        if isinstance(child, dict):
            return _member(child, rest)
    prefix = key + "."
    dotted = {name[len(prefix):]: value for name, value in document.items() if name.startswith(prefix)}
    return dotted if dotted else _DROP


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    """JavaScript's strict equality on JSON scalars: ``1 == 1.0``, but ``1 != "1"`` and ``1 != true``."""
    return _kind(a) == _kind(b) and a == b
