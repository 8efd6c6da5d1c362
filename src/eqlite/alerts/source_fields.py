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
from eqlite.semantic.types import Family, value_coercer

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


class _Node:
    """One field path of the alerts index's mapping: what it allows, and its children by key.

    A walk over an event goes from node to node by the event's own keys, so a path is spelt,
    hashed and looked up in the schema once per alert builder, not once per event.
    """

    __slots__ = ("children", "coerce", "keeps_values", "kind", "path", "takes_objects")

    def __init__(self, path: str, kind: int, info: FieldInfo | None) -> None:
        self.path = path
        self.kind = kind
        self.keeps_values = kind in (_FREE, _VALUE)  # any scalar may stay
        self.takes_objects = kind not in (_VALUE, _CHECKED)  # an object may stay (its fields are checked)
        # what the field indexes for a value (None: nothing, so the value goes); None for a field
        # that takes no value at all (an object)
        self.coerce = (value_coercer(info.type, date_format=info.date_format)
                       if kind == _CHECKED and info is not None else None)
        self.children: dict[str, _Node] = {}

    def allows(self, value: Any) -> bool:
        """Whether a scalar ``value`` may stay here."""
        if value is None or self.keeps_values:
            return True
        return self.coerce is not None and self.coerce(value) is not None


_THROUGH_VALUE: Final = _Node("", _FREE, None)  # the child of a dotted key that crosses an ECS value field


class EcsRules:
    """What the alerts index's ECS mapping allows at each field path, remembered path by path.

    An alert builder keeps one for all its alerts (and builders share the default one): the
    same few hundred paths come back in every event, and asking the schema once per path is
    what keeps copying cheap. Paths are remembered as a tree of :class:`_Node`, at most
    ``_LIMIT`` of them; past that the tree starts again.

    >>> rules = EcsRules()
    >>> rules.allows("source.port", "49152"), rules.allows("source.port", "x"), rules.allows("process", "x")
    (True, False, False)
    """

    _LIMIT: Final = 100_000

    def __init__(self, ecs: Schema | None = None) -> None:
        self.schema = ecs if ecs is not None else Schema.ecs(include_non_ecs=False)
        self.root = _Node("", _FREE, None)
        self._nodes = 0

    def kind(self, path: str) -> tuple[int, FieldInfo | None]:
        """``(kind, field)``: free (not an ECS value field), object, value, or value that must parse."""
        info = self.schema.field(path)
        family = info.family if info is not None else None
        if info is None or family is Family.FLATTENED:
            return _FREE, info
        if family in _OBJECT_FAMILIES:
            return _OBJECT, info
        return (_CHECKED if family in _CHECKED_FAMILIES else _VALUE), info

    def allows(self, path: str, value: Any) -> bool:
        """Whether a scalar ``value`` may stay at ``path``."""
        return _Node(path, *self.kind(path)).allows(value)

    def passes_through_value(self, parent: str, key: str) -> bool:
        """Whether a dotted ``key`` under ``parent`` crosses an ECS value field (``process.name.x``)."""
        prefix = parent
        for part in key.split(".")[:-1]:
            prefix = f"{prefix}.{part}" if prefix else part
            if self.kind(prefix)[0] in (_VALUE, _CHECKED):
                return True
        return False

    def child(self, node: _Node, key: str) -> _Node:
        """``node``'s child at ``key``, made and remembered on first use; :data:`_THROUGH_VALUE`
        when ``key`` is dotted and crosses an ECS value field."""
        if self._nodes >= self._LIMIT:
            self.root, self._nodes = _Node("", _FREE, None), 0
        self._nodes += 1
        if "." in key and self.passes_through_value(node.path, key):
            made = _THROUGH_VALUE
        else:
            path = f"{node.path}.{key}" if node.path else key
            made = _Node(path, *self.kind(path))
        node.children[key] = made
        return made


_DEFAULT_RULES: list[EcsRules] = []


def default_rules() -> EcsRules:
    """The :class:`EcsRules` of the packaged ECS table, made once and shared."""
    if not _DEFAULT_RULES:
        _DEFAULT_RULES.append(EcsRules())
    return _DEFAULT_RULES[0]


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
    rules = ecs if isinstance(ecs, EcsRules) else default_rules() if ecs is None else EcsRules(ecs)
    root = rules.root
    children = root.children
    cleaned: dict[str, Any] = {}
    for key, value in source.items():
        if key in _STRIPPED_KEYS or key.startswith(_STRIPPED_PREFIXES):
            continue
        node = children.get(key) or rules.child(root, key)
        if node is _THROUGH_VALUE:
            continue
        kept = _clean(value, node, rules)
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


def _clean(value: Any, node: _Node, rules: EcsRules) -> Any:
    """``value`` at ``node`` without what the mapping cannot hold; :data:`_DROP` when nothing is left."""
    if isinstance(value, dict):
        if not node.takes_objects:
            return _DROP
        kept = {}
        children = node.children
        for key, child in value.items():
            below = children.get(key) or rules.child(node, key)
            if below is _THROUGH_VALUE:
                continue
            if isinstance(child, (dict, list)):
                cleaned = _clean(child, below, rules)
                if cleaned is not _DROP:
                    kept[key] = cleaned
            elif below.keeps_values or below.allows(child):
                kept[key] = child
        return kept or _DROP
    if isinstance(value, list):
        items = [cleaned for item in value if (cleaned := _clean(item, node, rules)) is not _DROP]
        return items or _DROP
    return value if node.allows(value) else _DROP


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
