"""Field types for the semantic layer: ECS, Elasticsearch index mappings, dynamic mapping.

A :class:`Schema` answers "what type does Elasticsearch give this field?", which decides
how a comparison behaves: ``"49152"`` equals ``49152`` on a ``long`` field, ``:``
matches case-insensitively only on keyword-like fields, an ``ip`` field compares
addresses. Schemas come from

* the packaged ECS table plus the non-ECS fields Elastic's rules use (:meth:`Schema.ecs`),
* an Elasticsearch mapping (:meth:`Schema.from_mapping`, :func:`load_es_mapping_file`),
* the documents themselves, mapped as Elasticsearch's dynamic mapping would
  (:meth:`Schema.infer_dynamic`),

and combine with :meth:`Schema.merge` (a multi-index search sees the union).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from eqlite.errors import EqliteError
from eqlite.semantic.types import SLASHED_DYNAMIC_FORMAT, Family, coerce_value, family_of, parse_date, value_coercer

__all__ = [
    "DEFAULT_DYNAMIC_DATE_FORMATS",
    "KEYWORD_PLACEHOLDER",
    "MISSING",
    "FieldInfo",
    "JsonScalar",
    "Schema",
    "SchemaError",
    "coerce_for_field",
    "indexed_values",
    "load_es_mapping_file",
    "parse_es_mapping_text",
]

JsonScalar = str | int | float | bool | None


class _Missing(Enum):
    MISSING = "MISSING"


MISSING: Final = _Missing.MISSING
"""Stands for a field absent from ``_source``, which, unlike an explicit null, gets no ``null_value``."""

KEYWORD_PLACEHOLDER: Final = "[runtime_random_keyword_type]"
DEFAULT_DYNAMIC_DATE_FORMATS: Final = ("strict_date_optional_time", SLASHED_DYNAMIC_FORMAT)
DYNAMIC_KEYWORD_IGNORE_ABOVE: Final = 256

_CONTAINERS: Final = frozenset({Family.OBJECT, Family.NESTED, Family.FLATTENED})
_DATA_FILES: Final = ("ecs_types.tsv", "non_ecs_types.tsv")


class SchemaError(EqliteError):
    """A mapping that Elasticsearch would refuse, or that eqlite cannot read."""

    kind = "schema_error"

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class FieldInfo(NamedTuple):
    """One field as Elasticsearch maps it (immutable).

    Attributes:
        name: the full dotted path (``process.command_line.text`` for a multi-field).
        type: the Elasticsearch type (``keyword``, ``long``, ``alias``, ...), or
            ``conflict`` when merged indices disagree (see ``conflict_types``).
        ignore_above: longer strings are kept in ``_source`` but not indexed.
        null_value: what an explicit JSON ``null`` is indexed as (``None``: nothing).
        array: ECS ``normalize: [array]``, the field usually holds a list.
        searchable: false when values are not indexed (mapping ``index: false``, or
            ``enabled: false`` on an object).
        doc_values: false when the field has no doc values.
        date_format: the mapping's ``format`` of a date field (``None``: the default).
        scaling_factor: of a ``scaled_float``.
        object_type: type of unlisted children of an object (ECS ``labels.*``: keyword).
        constant_value: the ``value`` of a ``constant_keyword``.
        alias_of: target path of an ``alias``.
        parent: for a multi-field, the field it belongs to.
        runtime: defined in the mapping's ``runtime`` section.
        dynamic: an object's ``dynamic`` setting, when given.
        conflict_types: the disagreeing types of a merged field.
        source: where the definition came from: ``ecs``; the index patterns (or
            ``endpoint:process``) of a non-ECS field; ``mapping:<file>`` or ``mapping``;
            ``dynamic``; ``implicit`` (an unlisted parent object); ``merge`` (a conflict);
            ``object_type:<parent>`` or ``flattened:<parent>`` (a container's child).

    >>> FieldInfo("source.port", "long").family
    <Family.NUMERIC: 'numeric'>
    """

    # A NamedTuple rather than a frozen dataclass: the ECS table builds ~4,000 of these
    # at load time, and a frozen dataclass's __init__ is several times slower.

    name: str
    type: str
    ignore_above: int | None = None
    null_value: JsonScalar = None
    array: bool = False
    searchable: bool = True
    doc_values: bool = True
    date_format: str | None = None
    scaling_factor: float | None = None
    object_type: str | None = None
    constant_value: JsonScalar = None
    alias_of: str | None = None
    parent: str | None = None
    runtime: bool = False
    dynamic: str | None = None
    conflict_types: tuple[str, ...] = ()
    source: str = ""

    @property
    def family(self) -> Family:
        return family_of(self.type)

    @property
    def is_container(self) -> bool:
        """Objects, nested objects and flattened fields hold other fields, not values."""
        return self.family in _CONTAINERS


@dataclass(frozen=True, slots=True)
class Schema:
    """An immutable map from field names to :class:`FieldInfo`, with Elasticsearch's lookups.

    Construct it with :meth:`ecs`, :meth:`from_mapping`, :meth:`infer_dynamic`,
    :meth:`merge` or :meth:`empty`. Parent objects that are not listed (``process`` for
    ``process.pid``) are added as ``object`` fields.

    Attributes:
        fields: every mapped name (objects, multi-fields and aliases too) → definition.
        dynamic: the root ``dynamic`` setting of a mapping (``true``, ``false``, ``strict``,
            ``runtime``).
        closed: whether the schema lists every field there is, as an index mapping does
            (so an unknown field really is absent); the ECS table is open.

    >>> schema = Schema.from_mapping({"properties": {"host": {"properties": {"ip": {"type": "ip"}}}}})
    >>> schema.field_type("host.ip"), schema.field_type("host"), schema.field_type("nope")
    ('ip', 'object', None)
    """

    fields: Mapping[str, FieldInfo]
    dynamic: str = "true"
    closed: bool = False
    _children: Mapping[str, tuple[str, ...]] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = dict(self.fields)
        for info in list(fields.values()):
            if info.parent is not None:
                continue
            prefix = info.name
            while "." in prefix:
                prefix = prefix.rpartition(".")[0]
                if prefix in fields:
                    break
                fields[prefix] = FieldInfo(prefix, "object", source="implicit")
        children: dict[str, list[str]] = {}
        for info in fields.values():
            if info.parent is not None:
                children.setdefault(info.parent, []).append(info.name)
        object.__setattr__(self, "fields", MappingProxyType(fields))
        object.__setattr__(self, "_children", MappingProxyType({k: tuple(v) for k, v in children.items()}))

    def __hash__(self) -> int:
        return hash((frozenset(self.fields.items()), self.dynamic, self.closed))

    # ------------------------------------------------------------------ construction

    @classmethod
    def empty(cls) -> Schema:
        """A schema that knows no field.

        >>> len(Schema.empty())
        0
        """
        return cls({})

    @classmethod
    def ecs(cls, *, include_non_ecs: bool = True) -> Schema:
        """The packaged ECS field types, plus (by default) the non-ECS fields rules use.

        Loaded once per process; the result is immutable, so sharing it is safe.

        >>> ecs = Schema.ecs()
        >>> ecs.field_type("source.port"), ecs.field_type("process.command_line.text")
        ('long', 'match_only_text')
        """
        return _packaged_schema(include_non_ecs)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, source: str = "mapping") -> Schema:
        """Build a schema from an Elasticsearch mapping.

        Accepts the ``{"properties": ...}`` form, an index-creation body
        (``{"mappings": ...}``) and a ``GET <index>/_mapping`` response for one index.
        Reads nested ``properties``, multi-field ``fields``, ``alias`` with ``path``,
        ``null_value``, ``ignore_above``, ``format``, ``index``, ``doc_values``,
        ``scaling_factor``, ``dynamic``, ``enabled: false`` and the ``runtime`` section.

        Raises:
            SchemaError: an alias points to a field the mapping lacks, or to an object.

        >>> schema = Schema.from_mapping({"properties": {
        ...     "event_type": {"type": "keyword"},
        ...     "event": {"properties": {"category": {"type": "alias", "path": "event_type"}}}}})
        >>> schema.resolve("event.category"), schema.field_type("event.category")
        ('event_type', 'keyword')
        """
        body = _unwrap_mapping(mapping)
        fields: dict[str, FieldInfo] = {}
        _walk_properties(body.get("properties") or {}, "", fields, source)
        for name, spec in (body.get("runtime") or {}).items():
            fields[name] = FieldInfo(name, str(spec.get("type", "keyword")), runtime=True, source=source)
        _check_aliases(fields)
        return cls(fields, _dynamic_setting(body.get("dynamic")) or "true", closed=True)

    @classmethod
    def infer_dynamic(
        cls,
        documents: Iterable[Mapping[str, Any]],
        *,
        base: Schema | None = None,
        date_detection: bool = True,
        numeric_detection: bool = False,
        dynamic_date_formats: Iterable[str] = DEFAULT_DYNAMIC_DATE_FORMATS,
    ) -> Schema:
        """Map the fields of ``documents`` the way Elasticsearch's dynamic mapping does.

        Documents are read in order and the first non-null value of a field decides its
        type, as when they are indexed one after another:

        * string: ``date`` if it looks like a date in one of ``dynamic_date_formats``
          (the field gets that format), else ``text`` with a ``keyword`` sub-field
          (``ignore_above: 256``);
        * integer: ``long``; fraction: ``float``; boolean: ``boolean``;
        * object: ``object``, and its fields are mapped recursively; dotted keys
          (``"process.pid"``) are object paths;
        * array: the type of its first non-null element; ``null`` and ``[]`` add nothing.

        With ``base``, the fields ``base`` knows keep their mapping (explicit wins) and the
        result is ``base`` plus the inferred fields; objects whose ``dynamic`` is
        ``false`` or ``strict`` get no new fields, and ``runtime`` adds runtime fields.

        >>> schema = Schema.infer_dynamic([{"a": "x", "n": 1, "t": "2020-01-01T00:00:00Z", "o": {"f": 1.5}}])
        >>> [schema.field_type(n) for n in ("a", "a.keyword", "n", "t", "o", "o.f")]
        ['text', 'keyword', 'long', 'date', 'object', 'float']
        """
        inferrer = _DynamicMapper(
            dict(base.fields) if base is not None else {},
            date_formats=tuple(dynamic_date_formats) if date_detection else (),
            numeric_detection=numeric_detection,
        )
        root_dynamic = base.dynamic if base is not None else "true"
        for document in documents:
            inferrer.map_object(document, "", root_dynamic)
        return cls(inferrer.fields, root_dynamic, closed=base.closed if base is not None else True)

    def extend_dynamic(self, documents: Iterable[Mapping[str, Any]], **options: Any) -> Schema:
        """This schema plus dynamic mappings for the fields it lacks (see :meth:`infer_dynamic`).

        >>> base = Schema.from_mapping({"properties": {"pid": {"type": "keyword"}}})
        >>> merged = base.extend_dynamic([{"pid": 4, "ppid": 0}])
        >>> merged.field_type("pid"), merged.field_type("ppid")
        ('keyword', 'long')
        """
        return Schema.infer_dynamic(documents, base=self, **options)

    @classmethod
    def merge(cls, *schemas: Schema) -> Schema:
        """The union of several schemas, as a search over several indices sees it.

        A field mapped alike everywhere keeps the first definition, including its
        index-specific details (``null_value``, ``format``, ``ignore_above``), so coerce
        values with the schema of the index they come from. Keyword-family types
        (``keyword``, ``constant_keyword``, ``wildcard``) merge into ``keyword``, as
        Elasticsearch's field capabilities report them. Any other disagreement gives a
        field of type ``conflict`` listing the types; Elasticsearch refuses to query such
        a field.

        >>> a = Schema.from_mapping({"properties": {"x": {"type": "keyword"}, "y": {"type": "long"}}})
        >>> b = Schema.from_mapping({"properties": {"x": {"type": "wildcard"}, "y": {"type": "ip"}}})
        >>> merged = Schema.merge(a, b)
        >>> merged.field_type("x"), merged.field_type("y"), merged.fields["y"].conflict_types
        ('keyword', 'conflict', ('ip', 'long'))
        """
        if not schemas:
            return cls.empty()
        fields = dict(schemas[0].fields)
        for other in schemas[1:]:
            for name, info in other.fields.items():
                mine = fields.get(name)
                if mine is None:
                    fields[name] = info
                    continue
                pair = (info, _resolved(other.fields, info))
                fields[name] = _merge_field((mine, _resolved(fields, mine)), pair)
        return cls(fields, schemas[0].dynamic, closed=all(schema.closed for schema in schemas))

    def __or__(self, other: Schema) -> Schema:
        return Schema.merge(self, other)

    # ------------------------------------------------------------------ lookups

    def get(self, name: str) -> FieldInfo | None:
        """The field's own definition, without resolving aliases.

        >>> Schema.ecs().get("process.pid").type
        'long'
        """
        return self.fields.get(name)

    def field(self, name: str) -> FieldInfo | None:
        """The definition that governs ``name``: aliases resolved, container children typed.

        An alias gives its target's definition (whose ``name`` is the target path). A name
        under an object with ``object_type`` (ECS ``labels.*``) or under a ``flattened``
        field gets a keyword-typed definition; any other unknown name gives ``None``.

        >>> Schema.ecs().field("labels.env").type
        'keyword'
        """
        info = self.fields.get(name)
        if info is None:
            return self._child_of_container(name)
        if info.alias_of is not None:
            return self.fields.get(info.alias_of)
        return info

    def resolve(self, name: str) -> str:
        """The concrete field ``name`` refers to: an alias's target, else ``name`` itself.

        >>> Schema.ecs().resolve("process.pid")
        'process.pid'
        """
        info = self.fields.get(name)
        return info.alias_of if info is not None and info.alias_of is not None else name

    def is_known(self, name: str) -> bool:
        """Whether the schema maps ``name`` (directly, by alias, or under a typed container).

        >>> Schema.ecs().is_known("process.pid"), Schema.ecs().is_known("process.nope")
        (True, False)
        """
        return self.field(name) is not None

    __contains__ = is_known

    def field_type(self, name: str) -> str | None:
        """The Elasticsearch type of ``name`` (an alias's target type), or ``None`` if unknown.

        >>> Schema.ecs().field_type("source.ip"), Schema.ecs().field_type("@timestamp")
        ('ip', 'date')
        """
        info = self.field(name)
        return info.type if info is not None else None

    def family(self, name: str) -> Family | None:
        """The type family of ``name``, or ``None`` if unknown.

        >>> Schema.ecs().family("process.command_line")
        <Family.KEYWORD: 'keyword'>
        """
        info = self.field(name)
        return info.family if info is not None else None

    def null_value(self, name: str) -> JsonScalar:
        """What an explicit ``null`` in ``name`` is indexed as; ``None`` when nothing is.

        >>> mapping = {"properties": {"f": {"type": "keyword", "null_value": "NULL"}}}
        >>> Schema.from_mapping(mapping).null_value("f")
        'NULL'
        """
        info = self.field(name)
        return info.null_value if info is not None else None

    def multi_fields(self, name: str) -> tuple[FieldInfo, ...]:
        """The sub-fields (``fields``) of ``name``'s concrete field.

        >>> [f.name for f in Schema.ecs().multi_fields("process.name")]
        ['process.name.text', 'process.name.caseless']
        """
        return tuple(self.fields[child] for child in self._children.get(self.resolve(name), ()))

    def exact_field(self, name: str) -> str | None:
        """The field holding ``name``'s exact, untokenised value, as EQL uses for ``==``.

        The field itself if keyword-like; for a text field, its first keyword-family
        sub-field; otherwise ``None``.

        >>> Schema.infer_dynamic([{"file_name": "a.exe"}]).exact_field("file_name")
        'file_name.keyword'
        """
        info = self.field(name)
        if info is None:
            return None
        if info.family is Family.KEYWORD:
            return info.name
        if info.family is Family.TEXT:
            for sub in self.multi_fields(info.name):
                if sub.family is Family.KEYWORD:
                    return sub.name
        return None

    def keyword_like(self, name: str) -> bool:
        """Whether ``name`` has exact string values: keyword-family, or text with a keyword sub-field.

        >>> Schema.ecs().keyword_like("process.command_line"), Schema.ecs().keyword_like("message")
        (True, False)
        """
        return self.exact_field(name) is not None

    def is_text_only(self, name: str) -> bool:
        """Whether ``name`` is analysed text with no keyword sub-field to compare exactly.

        >>> Schema.ecs().is_text_only("message"), Schema.ecs().is_text_only("process.name")
        (True, False)
        """
        info = self.field(name)
        return info is not None and info.family is Family.TEXT and self.exact_field(name) is None

    def is_array(self, name: str) -> bool:
        """Whether ECS marks ``name`` as usually holding a list (``normalize: [array]``).

        >>> Schema.ecs().is_array("event.category"), Schema.ecs().is_array("event.action")
        (True, False)
        """
        info = self.field(name)
        return info is not None and info.array

    def names(self) -> Iterator[str]:
        """Every mapped name, sorted (objects, multi-fields and aliases included).

        >>> list(Schema.infer_dynamic([{"a": {"b": 1}}]).names())
        ['a', 'a.b']
        """
        return iter(sorted(self.fields))

    def __len__(self) -> int:
        return len(self.fields)

    def _child_of_container(self, name: str) -> FieldInfo | None:
        prefix = name
        while "." in prefix:
            prefix = prefix.rpartition(".")[0]
            container = self.fields.get(prefix)
            if container is None:
                continue
            if container.type == "flattened":
                # A flattened field's keys are queried as keyword sub-fields.
                return FieldInfo(
                    name, "keyword", ignore_above=container.ignore_above, source=f"flattened:{prefix}"
                )
            if container.object_type is not None:
                return FieldInfo(name, container.object_type, source=f"object_type:{prefix}")
            return None
        return None


# ---------------------------------------------------------------------- value coercion


def coerce_for_field(field_info: FieldInfo | str, value: object) -> object:
    """What a field indexes for one scalar ``value``; ``None`` when nothing is indexed.

    ``field_info`` is a :class:`FieldInfo` (its ``ignore_above``, ``null_value``,
    ``format`` and ``scaling_factor`` apply) or a bare Elasticsearch type name. A type
    family alone is not enough: ``long`` and ``float`` coerce ``"1.5"`` differently.
    Malformed values give ``None`` (treated as missing), as with ``ignore_malformed``;
    see :mod:`eqlite.semantic.types`.

    >>> coerce_for_field("long", "49152")
    49152
    >>> coerce_for_field(FieldInfo("f", "keyword", null_value="NULL"), None)
    'NULL'
    """
    if isinstance(field_info, str):
        return coerce_value(field_info, value)
    if value is None:
        value = field_info.null_value
    return coerce_value(
        field_info.type,
        value,
        ignore_above=field_info.ignore_above,
        scaling_factor=field_info.scaling_factor,
        date_format=field_info.date_format,
    )


def field_coercer(field_info: FieldInfo) -> Callable[[object], object]:
    """``coerce_for_field(field_info, ·)``, with the field's type and options looked up once.

    >>> field_coercer(FieldInfo("f", "keyword", null_value="NULL"))(None)
    'NULL'
    """
    return _coercer(field_info.type, field_info.ignore_above, field_info.scaling_factor, field_info.date_format,
                    field_info.null_value)


@lru_cache(maxsize=4096, typed=True)  # typed: a null_value of 1 is not one of True
def _coercer(es_type: str, ignore_above: int | None, scaling_factor: float | None, date_format: str | None,
             null_value: object) -> Callable[[object], object]:
    """One coercer (a pure function) for every field with the same type and options: building the
    rules makes tens of thousands of field readers over a few hundred kinds of field."""
    coerce = value_coercer(es_type, ignore_above=ignore_above, scaling_factor=scaling_factor,
                           date_format=date_format)
    if null_value is None:
        return coerce
    return lambda value: coerce(null_value if value is None else value)


def indexed_values(field_info: FieldInfo | str, value: object) -> tuple[object, ...]:
    """Every value a field indexes for its ``_source`` value, which may be a list.

    Pass :data:`MISSING` for a field absent from ``_source``: only an explicit ``null``
    takes the ``null_value``. Nested lists are flattened, ``null`` elements become the
    ``null_value`` (or vanish), and values that are not indexable vanish; an empty list
    indexes nothing. An empty result means the field is missing, except that a
    ``constant_keyword`` always holds its mapped value.

    >>> indexed_values("long", [1, "2", None, "x", [3]])
    (1, 2, 3)
    >>> f = FieldInfo("f", "keyword", null_value="NULL")
    >>> indexed_values(f, [None, "a"]), indexed_values(f, None), indexed_values(f, MISSING)
    (('NULL', 'a'), ('NULL',), ())
    """
    found: tuple[object, ...] = ()
    if isinstance(value, list):
        found = tuple(v for item in _flat(value) if (v := coerce_for_field(field_info, item)) is not None)
    elif value is not MISSING:
        single = coerce_for_field(field_info, value)
        found = () if single is None else (single,)
    if not found and isinstance(field_info, FieldInfo) and field_info.constant_value is not None:
        return (field_info.constant_value,)
    return found


def _flat(values: list[Any]) -> Iterator[Any]:
    for item in values:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


# ---------------------------------------------------------------------- mapping files


def parse_es_mapping_text(text: str, keyword_type: str = "keyword") -> dict[str, Any]:
    """Parse a mapping file as Elasticsearch's EQL test ``DataLoader`` does.

    Lines starting with ``#`` are dropped, and the ``[runtime_random_keyword_type]``
    placeholder becomes ``keyword_type`` (the tests pick ``keyword`` or ``wildcard``).

    >>> text = '# note\\n{"properties": {"a": {"type": "[runtime_random_keyword_type]"}}}'
    >>> parse_es_mapping_text(text, "wildcard")
    {'properties': {'a': {'type': 'wildcard'}}}
    """
    kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    parsed = json.loads(kept.replace(KEYWORD_PLACEHOLDER, keyword_type))
    if not isinstance(parsed, dict):
        raise SchemaError("a mapping must be a JSON object")
    return parsed


def load_es_mapping_file(path: str | Path, keyword_type: str = "keyword") -> Schema:
    """Load an Elasticsearch mapping file (such as the EQL conformance ``*.mapping`` files).

    Raises:
        SchemaError: the file is not valid JSON after dropping ``#`` lines, or the mapping
            is invalid; the message names the file.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".mapping", delete=False) as f:
    ...     _ = f.write('# c\\n{"properties": {"x": {"type": "[runtime_random_keyword_type]"}}}')
    >>> load_es_mapping_file(f.name, "wildcard").field_type("x")
    'wildcard'
    >>> os.unlink(f.name)
    """
    path = Path(path)
    try:
        mapping = parse_es_mapping_text(path.read_text(encoding="utf-8"), keyword_type)
        return Schema.from_mapping(mapping, source=f"mapping:{path.name}")
    except json.JSONDecodeError as exc:
        raise SchemaError(f"line {exc.lineno}: not valid JSON: {exc.msg}", str(path)) from exc
    except SchemaError as exc:
        raise SchemaError(exc.message, str(path)) from exc


def _unwrap_mapping(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    if "properties" in mapping or "runtime" in mapping:
        return mapping
    if "mappings" in mapping:
        return _unwrap_mapping(mapping["mappings"])
    if len(mapping) == 1:
        (inner,) = mapping.values()
        if isinstance(inner, Mapping) and "mappings" in inner:
            return _unwrap_mapping(inner["mappings"])
    return mapping


def _dynamic_setting(value: object) -> str | None:
    if value is None:
        return None
    return str(value).lower()


def _walk_properties(
    properties: Mapping[str, Any], prefix: str, out: dict[str, FieldInfo], source: str
) -> None:
    for key, spec in properties.items():
        name = f"{prefix}{key}"
        if not isinstance(spec, Mapping):
            raise SchemaError(f"the mapping of [{name}] must be an object, not {spec!r}")
        es_type = str(spec.get("type", "object"))
        info = _field_from_spec(name, es_type, spec, source)
        out[name] = info
        if "properties" in spec and spec.get("enabled", True) is not False:
            _walk_properties(spec["properties"], f"{name}.", out, source)
        for sub_name, sub_spec in (spec.get("fields") or {}).items():
            full = f"{name}.{sub_name}"
            sub_type = str(sub_spec.get("type", "keyword"))
            out[full] = _field_from_spec(full, sub_type, sub_spec, source, parent=name)


def _field_from_spec(
    name: str, es_type: str, spec: Mapping[str, Any], source: str, parent: str | None = None
) -> FieldInfo:
    searchable = spec.get("index", True) is not False and spec.get("enabled", True) is not False
    scaling = spec.get("scaling_factor")
    return FieldInfo(
        name,
        es_type,
        ignore_above=spec.get("ignore_above"),
        null_value=spec.get("null_value"),
        searchable=searchable,
        doc_values=spec.get("doc_values", True) is not False,
        date_format=spec.get("format") if family_of(es_type) is Family.DATE else None,
        scaling_factor=float(scaling) if scaling is not None else None,
        object_type=spec.get("object_type"),
        constant_value=spec.get("value") if es_type == "constant_keyword" else None,
        alias_of=spec.get("path") if es_type == "alias" else None,
        parent=parent,
        dynamic=_dynamic_setting(spec.get("dynamic")),
        source=source,
    )


def _check_aliases(fields: Mapping[str, FieldInfo]) -> None:
    for info in fields.values():
        if info.type != "alias":
            continue
        target = fields.get(info.alias_of or "")
        if target is None:
            raise SchemaError(f"field alias [{info.name}] points to [{info.alias_of}], which is not mapped")
        if target.type == "alias" or target.is_container:
            raise SchemaError(
                f"field alias [{info.name}] points to [{info.alias_of}], a {target.type}; "
                "an alias must point to a concrete field"
            )


def _resolved(fields: Mapping[str, FieldInfo], info: FieldInfo) -> FieldInfo:
    if info.alias_of is None:
        return info
    return fields.get(info.alias_of, info)


def _merge_field(first: tuple[FieldInfo, FieldInfo], second: tuple[FieldInfo, FieldInfo]) -> FieldInfo:
    """Merge two definitions of one name; each comes with its alias-resolved concrete field."""
    (mine, mine_concrete), (_, other_concrete) = first, second
    a, b = mine_concrete.type, other_concrete.type
    if a == b or (mine.type == "conflict" and b in mine.conflict_types):
        return mine
    if mine_concrete.family is Family.KEYWORD and other_concrete.family is Family.KEYWORD:
        return mine if mine.alias_of is not None else mine._replace(type="keyword")
    types = tuple(sorted({*(mine.conflict_types or (a,)), b}))
    return FieldInfo(mine.name, "conflict", conflict_types=types, parent=mine.parent, source="merge")


# ---------------------------------------------------------------------- dynamic mapping


class _DynamicMapper:
    """Walks documents in order and adds a field the first time it holds a non-null value."""

    def __init__(self, fields: dict[str, FieldInfo], date_formats: tuple[str, ...], numeric_detection: bool):
        self.fields = fields
        self.date_formats = date_formats
        self.numeric_detection = numeric_detection

    def map_object(self, document: Mapping[str, Any], prefix: str, dynamic: str) -> None:
        for key, value in document.items():
            self.map_value(f"{prefix}{key}", value, dynamic)

    def map_value(self, name: str, value: Any, dynamic: str) -> None:
        if "." in name:
            # Dotted keys are object paths, and every object on the path may set ``dynamic``.
            inherited = self._path_dynamic(name, dynamic)
            if inherited is None:
                return
            dynamic = inherited
            head = name.rpartition(".")[0]
            if head not in self.fields and dynamic != "runtime":
                if not self._may_add(dynamic):
                    return
                self._ensure_objects(head)
        if isinstance(value, list):
            for item in _flat(value):
                if item is not None:
                    self.map_value(name, item, dynamic)
            return
        if value is None:
            return
        known = self.fields.get(name)
        if known is None and isinstance(value, Mapping) and dynamic == "runtime":
            # Runtime mode adds no objects, only runtime fields for the leaves below them.
            self.map_object(value, f"{name}.", dynamic)
            return
        if known is None:
            if not self._may_add(dynamic):
                return
            known = self._new_field(name, value, dynamic)
            if known is None:
                return
        if isinstance(value, Mapping) and known.family in (Family.OBJECT, Family.NESTED) and known.searchable:
            self.map_object(value, f"{name}.", known.dynamic or dynamic)

    def _path_dynamic(self, name: str, dynamic: str) -> str | None:
        """The ``dynamic`` setting that governs ``name``; ``None`` if no field can go there.

        Nothing can be added under a leaf, a flattened field or a disabled object.
        """
        governing: str | None = None
        prefix = name
        while "." in prefix:
            prefix = prefix.rpartition(".")[0]
            info = self.fields.get(prefix)
            if info is None:
                continue
            if info.family not in (Family.OBJECT, Family.NESTED) or not info.searchable:
                return None
            if governing is None and info.dynamic is not None:
                governing = info.dynamic
        return governing or dynamic

    @staticmethod
    def _may_add(dynamic: str) -> bool:
        return dynamic not in ("false", "strict")

    def _ensure_objects(self, path: str) -> None:
        prefix = ""
        for part in path.split("."):
            prefix = f"{prefix}.{part}" if prefix else part
            info = self.fields.get(prefix)
            if info is None:
                self.fields[prefix] = FieldInfo(prefix, "object", source="dynamic")
            elif not info.is_container:
                return

    def _new_field(self, name: str, value: Any, dynamic: str) -> FieldInfo | None:
        runtime = dynamic == "runtime"
        if isinstance(value, Mapping):
            info = FieldInfo(name, "object", source="dynamic")
        elif isinstance(value, bool):
            info = FieldInfo(name, "boolean", runtime=runtime, source="dynamic")
        elif isinstance(value, int):
            info = FieldInfo(name, "long", runtime=runtime, source="dynamic")
        elif isinstance(value, float):
            info = FieldInfo(name, "double" if runtime else "float", runtime=runtime, source="dynamic")
        elif isinstance(value, str):
            info = self._string_field(name, value, runtime)
        else:
            return None
        self.fields[name] = info
        return info

    def _string_field(self, name: str, value: str, runtime: bool) -> FieldInfo:
        date_format = self._detect_date(value)
        if date_format is not None:
            return FieldInfo(name, "date", date_format=date_format, runtime=runtime, source="dynamic")
        if self.numeric_detection:
            if re.fullmatch(r"[+-]?\d+", value, re.ASCII):
                return FieldInfo(name, "long", runtime=runtime, source="dynamic")
            if re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", value, re.ASCII):
                return FieldInfo(name, "double" if runtime else "float", runtime=runtime, source="dynamic")
        if runtime:
            return FieldInfo(name, "keyword", runtime=True, source="dynamic")
        sub = f"{name}.keyword"
        self.fields[sub] = FieldInfo(
            sub, "keyword", ignore_above=DYNAMIC_KEYWORD_IGNORE_ABOVE, parent=name, source="dynamic"
        )
        return FieldInfo(name, "text", source="dynamic")

    def _detect_date(self, value: str) -> str | None:
        # Elasticsearch tries date detection only on strings with at least two of the
        # same separator, so that "1" or "2020" stay strings.
        if not any(value.count(sep) > 1 for sep in ":-/"):
            return None
        for date_format in self.date_formats:
            if parse_date(value, date_format) is not None:
                return date_format
        return None


# ---------------------------------------------------------------------- packaged table


@cache
def _packaged_schema(include_non_ecs: bool) -> Schema:
    data = resources.files("eqlite.semantic").joinpath("data")
    fields: dict[str, FieldInfo] = {}
    for file_name in _DATA_FILES if include_non_ecs else _DATA_FILES[:1]:
        text = data.joinpath(file_name).read_text(encoding="utf-8")
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            info = _parse_row(line.split("\t"))
            fields.setdefault(info.name, info)
    return Schema(fields)


def _parse_row(cells: list[str]) -> FieldInfo:
    name, es_type, ignore_above, options = cells[:4]
    source = cells[4] if len(cells) > 4 else "ecs"
    above = int(ignore_above) if ignore_above else None
    if not options:
        # Most rows; positional construction keeps the load well under the time budget.
        return FieldInfo(name, es_type, above, source=source)
    opts = dict(option.partition("=")[::2] for option in options.split(","))
    scaling = opts.get("scaling_factor")
    return FieldInfo(
        name,
        es_type,
        above,
        array="array" in opts,
        searchable=opts.get("index") != "false",
        doc_values=opts.get("doc_values") != "false",
        scaling_factor=float(scaling) if scaling else None,
        object_type=opts.get("object_type"),
        parent=name.rpartition(".")[0] if "multi_field" in opts else None,
        source=source,
    )
