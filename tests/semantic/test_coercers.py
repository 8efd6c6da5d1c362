"""Coercers built once per field give what the general coercion gives, value by value."""

from __future__ import annotations

import random

import pytest

from eqlite.runtime.access import make_reader
from eqlite.semantic.schema import MISSING, FieldInfo, Schema, coerce_for_field, field_coercer, indexed_values
from eqlite.semantic.types import utf16_len

FIELDS = [
    FieldInfo("k", "keyword"),
    FieldInfo("k", "keyword", ignore_above=4),
    FieldInfo("k", "keyword", null_value="NULL"),
    FieldInfo("k", "wildcard"),
    FieldInfo("t", "text"),
    FieldInfo("n", "long"),
    FieldInfo("n", "integer", null_value=-1),
    FieldInfo("n", "float"),
    FieldInfo("n", "scaled_float", scaling_factor=100.0),
    FieldInfo("d", "date"),
    FieldInfo("d", "date", date_format="epoch_second"),
    FieldInfo("d", "date_nanos"),
    FieldInfo("i", "ip"),
    FieldInfo("b", "boolean"),
    FieldInfo("v", "version"),
    FieldInfo("c", "constant_keyword", constant_value="fixed"),
    FieldInfo("g", "geo_point"),
]
VALUES: list[object] = [
    None, "", "a", "abcd", "abcde", "ab😀", "😀😀😀", "49152", "1.5", "-3", 7, 2.25, True, False,
    "2017-08-30T20:47:33.123456789Z", "2017-08-30", "1504126053", 1504126053123, "1969-12-31T23:59:59Z",
    "10.0.0.1", "::ffff:10.0.0.1", "fe80::1", "not an ip", "true", "false", "1.2.3-rc.1", "nope",
]


@pytest.mark.parametrize("info", FIELDS, ids=lambda info: f"{info.type}:{info.ignore_above}:{info.null_value}")
def test_field_coercer_is_coerce_for_field(info: FieldInfo) -> None:
    coerce = field_coercer(info)
    for value in VALUES:
        assert coerce(value) == coerce_for_field(info, value), value


@pytest.mark.parametrize("info", FIELDS, ids=lambda info: f"{info.type}:{info.ignore_above}:{info.null_value}")
def test_readers_give_the_indexed_values(info: FieldInfo) -> None:
    schema = Schema({"f": info._replace(name="f")})
    read = make_reader(schema, "f")
    rng = random.Random(3)
    documents: list[dict[str, object]] = [{}, {"f": None}, {"f": []}, {"f": [None]}]
    documents += [{"f": value} for value in VALUES]
    documents += [{"f": rng.sample(VALUES, rng.randint(2, 4))} for _ in range(60)]
    for document in documents:
        expected = indexed_values(info, document.get("f", MISSING))
        assert read(document) == expected, document


def test_utf16_length_counts_astral_characters_twice() -> None:
    rng = random.Random(5)
    pieces = ["a", "é", "€", "😀", "\U0010ffff", "\ud800"]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert utf16_len(text) == len(text) + sum(1 for char in text if ord(char) > 0xFFFF), text
