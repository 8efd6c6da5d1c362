"""Field codecs shared by the rule dataclasses: decode a loaded TOML/JSON value, encode it back.

Each dataclass field of a :class:`Record` carries a :class:`Spec` in its metadata: the
external key (``from`` for ``from_``), the codec, and whether Kibana fills the field's
default when it is absent (so that the API shape written for Kibana shows it). Keys that no
field claims are kept in the record's ``extra`` mapping, which is what makes a load/write
round trip lossless for fields this model does not know yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from functools import cache
from typing import Any, Self, cast

KeyPath = tuple[str | int, ...]


class FieldError(ValueError):
    """A field of a rule document has the wrong type or is missing.

    Attributes:
        path: keys and list indices from the document's root to the offending value.
        message: what is wrong with it.

    >>> str(FieldError(("threat", 0, "tactic"), "required field is missing"))
    'threat[0].tactic: required field is missing'
    """

    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def within(self, step: str | int) -> FieldError:
        return FieldError((step, *self.path), self.message)

    @property
    def dotted(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.dotted}: {self.message}" if self.path else self.message


def format_path(path: KeyPath) -> str:
    """Render a key path the way users write it: ``threat[0].tactic.id``.

    >>> format_path(("rule", "index", 2))
    'rule.index[2]'
    """
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array",
    dict: "a table/object", type(None): "null",
}


def _kind(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _expected(what: str, value: object) -> FieldError:
    return FieldError((), f"expected {what}, got {_kind(value)}")


@dataclass(frozen=True, slots=True)
class Codec:
    """How one field's value is checked on the way in and rendered on the way out."""

    decode: Callable[[object], Any]
    encode: Callable[[Any, bool], object]


def _plain(value: Any, defaults: bool) -> object:
    return value


def _scalar(kind: type | tuple[type, ...], what: str) -> Codec:
    def decode(value: object) -> Any:
        # bool is an int in Python, but a risk score of `true` is a broken rule.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise _expected(what, value)
        if not isinstance(value, kind):
            raise _expected(what, value)
        return value

    return Codec(decode, _plain)


STR = _scalar(str, "a string")
INT = _scalar(int, "an integer")
NUMBER = _scalar((int, float), "a number")
BOOL = _scalar(bool, "a boolean")


def _decode_list(value: object) -> Sequence[object]:
    if not isinstance(value, list | tuple):
        raise _expected("an array", value)
    return value


def _decode_strs(value: object) -> tuple[str, ...]:
    items = _decode_list(value)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _expected("a string", item).within(index)
    return tuple(items)  # type: ignore[arg-type]  # checked item by item above


def _decode_str_or_strs(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else _decode_strs(value)


def _encode_list(value: Sequence[object], defaults: bool) -> object:
    return list(value)


STRS = Codec(_decode_strs, _encode_list)
STR_OR_STRS = Codec(_decode_str_or_strs, _encode_list)
JSON = Codec(lambda value: value, _plain)
JSON_LIST = Codec(lambda value: tuple(_decode_list(value)), _encode_list)


def _decode_mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _expected("a table/object", value)
    return value


JSON_OBJECT = Codec(_decode_mapping, lambda value, defaults: dict(value))
# Kibana treats an empty object like an absent one; folding {} into None keeps round trips exact
# when the writer adds keys of its own to such an object (see kibana_format.META_KEY).
OPTIONAL_OBJECT = Codec(lambda value: _decode_mapping(value) or None, lambda value, defaults: dict(value))


def record(cls: type[Record]) -> Codec:
    """Codec for a nested record (a table in TOML, an object in JSON)."""

    def decode(value: object) -> Record:
        return cls.from_dict(_decode_mapping(value))

    return Codec(decode, lambda value, defaults: value.to_dict(defaults=defaults))


def records(cls: type[Record]) -> Codec:
    """Codec for an array of nested records (``[[rule.threat]]``)."""

    def decode(value: object) -> tuple[Record, ...]:
        items = []
        for index, item in enumerate(_decode_list(value)):
            try:
                items.append(cls.from_dict(_decode_mapping(item)))
            except FieldError as error:
                raise error.within(index) from None
        return tuple(items)

    return Codec(decode, lambda value, defaults: [item.to_dict(defaults=defaults) for item in value])


@dataclass(frozen=True, slots=True)
class Spec:
    """Field metadata: codec, external key, and whether Kibana fills the default when absent."""

    codec: Codec
    key: str | None = None
    kibana_default: bool = False


def spec(codec: Codec, key: str | None = None, *, kibana_default: bool = False) -> dict[str, Spec]:
    """Field metadata, as in ``field(default="5m", metadata=spec(STR, kibana_default=True))``."""
    return {"spec": Spec(codec, key, kibana_default)}


@dataclass(frozen=True, slots=True)
class _FieldInfo:
    name: str
    key: str
    spec: Spec
    required: bool
    default: object


@cache
def _field_table(cls: type) -> tuple[_FieldInfo, ...]:
    # fields() is slow, and from_dict runs once per nested table of thousands of rules.
    table = []
    for f in fields(cls):
        if "spec" not in f.metadata:
            continue
        required = f.default is MISSING and f.default_factory is MISSING
        default = f.default if f.default is not MISSING else (
            None if f.default_factory is MISSING else f.default_factory())
        field_spec: Spec = f.metadata["spec"]
        table.append(_FieldInfo(f.name, field_spec.key or f.name, field_spec, required, default))
    return tuple(table)


class Record:
    """Mixin giving a dataclass ``from_dict``/``to_dict`` driven by its fields' :class:`Spec`.

    Subclasses must be dataclasses with an ``extra: Mapping[str, Any]`` field; fields without a
    spec (like a rule's source location) are neither read nor written by these methods.
    """

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> Self:
        """Build the record from a loaded table; unknown keys go to ``extra``.

        ``context`` passes values for fields that have no spec (not read from ``data``).
        Raises :class:`FieldError` naming the key path of a missing or mistyped value.
        """
        values: dict[str, Any] = dict(context)
        known: set[str] = set()
        for info in _field_table(cast(type, cls)):
            known.add(info.key)
            value = data.get(info.key, MISSING)
            if value is MISSING or (value is None and not info.required):
                if info.required:
                    raise FieldError((info.key,), "required field is missing")
                continue
            try:
                values[info.name] = info.spec.codec.decode(value)
            except FieldError as error:
                raise error.within(info.key) from None
        values["extra"] = {key: value for key, value in data.items() if key not in known}
        return cls(**values)

    def to_dict(self, *, defaults: bool = False) -> dict[str, Any]:
        """Render the record with external key names, then its ``extra`` keys.

        Absent optional values (``None``) are left out; so are values equal to their default,
        unless ``defaults`` is true and Kibana itself fills that default (its API shape shows it).
        """
        out: dict[str, Any] = {}
        for info in _field_table(cast(type, type(self))):
            value = getattr(self, info.name)
            if value is None:
                continue
            shown_default = defaults and info.spec.kibana_default
            if not info.required and not shown_default and value == info.default:
                continue
            out[info.key] = info.spec.codec.encode(value, defaults)
        extra: Mapping[str, Any] = getattr(self, "extra")  # noqa: B009  # declared by subclasses
        for key, value in extra.items():
            out.setdefault(key, value)
        return out
