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


def test_collector_timestamps_parse_as_the_general_iso_pattern_does() -> None:
    import calendar
    import datetime as dt

    from eqlite.semantic.types import parse_date

    rng = random.Random(9)
    for _ in range(3000):
        year, month, day = rng.randint(1, 9999), rng.randint(0, 13), rng.randint(0, 32)
        hour, minute, second = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 10)))
        separator = rng.choice([".", ".", ","])
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
        text += (separator + fraction if fraction else "") + "Z"
        valid = (1 <= month <= 12 and hour < 24 and minute < 60 and second < 60 and len(fraction) <= 9
                 and 1 <= day <= calendar.monthrange(2000 if calendar.isleap(year) else 2001, month)[1])
        expected = None
        if valid:
            moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
            whole = (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(seconds=1)
            expected = whole * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])
        if len(fraction) > 9:
            continue  # not the collectors' form: left to epoch_millis and the general pattern
        assert parse_date(text, "strict_date_optional_time") == expected, text


def test_collector_timestamps_with_a_character_out_of_place_are_not_dates() -> None:
    from eqlite.semantic.types import parse_date

    # Same length and separators as "YYYY-MM-DDTHH:MM:SS.fffZ": only ASCII digits may fill the rest.
    assert parse_date("2024-05-14T08:00:59.999Z", "strict_date_optional_time") == 1715673659999000000
    for text in ("2024-05-14T08:00:0\u0661.444Z", "2024-05-14T08:00:01.4a4Z", "2024-05-1\u0664T08:00:01.444Z",
                 "2024-05-14T08:00:+1.444Z", "2024-05-14T08:00:60.444Z", "2024-05-14 08:00:01.444Z",
                 "2024-02-30T08:00:01.444Z", "2024-05-14T08:0x:01.444Z"):
        assert parse_date(text, "strict_date_optional_time") is None, text


def test_week_dates_are_not_collector_timestamps() -> None:
    from eqlite.semantic.types import parse_date

    # datetime.fromisoformat accepts ISO week dates; strict_date_optional_time does not.
    assert parse_date("2024-W20-2T08:00:24Z", "strict_date_optional_time") is None
    assert parse_date("2024-05-14T08:00:24.445Z", "strict_date_optional_time") == 1715673624445000000


@pytest.mark.parametrize("name", ["a.b", "a.b.c", "a.b.c.d", "a.b.c.d.e"])
@pytest.mark.parametrize("ignore_above", [None, 4])
def test_keyword_readers_of_nested_fields_give_the_indexed_values(name: str, ignore_above: int | None) -> None:
    """The nested-string fast path of keyword readers against the general walk, on documents of every shape."""
    from eqlite.runtime.access import raw_values

    info = FieldInfo(name, "keyword", ignore_above=ignore_above)
    read = make_reader(Schema({name: info}), name)
    parts = name.split(".")
    leaves: list[object] = [None, "", "abc", "abcd", "abcde", "ab😀😀", 7, True, ["x", "y"], ["x", 3], [], {"z": 1},
                            ["abcde", "x"], ["ab😀😀"], [None, "x"], [["x"]], [{"z": "x"}], ["x", "ab", "abc"]]
    rng = random.Random(len(parts) * 10 + (ignore_above or 0))
    checked = 0
    for _ in range(400):
        leaf = rng.choice(leaves)
        split = rng.randint(1, len(parts))  # how many parts the dotted key at the top spans
        document: dict[str, object] = {}
        node = document
        top = ".".join(parts[:split])
        if split == len(parts):
            node[top] = leaf
        else:
            child: dict[str, object] = {}
            node[top] = [child, {}] if rng.random() < 0.2 else child
            node = child
            for part in parts[split:-1]:
                node[part] = {}
                node = node[part]  # type: ignore[assignment]
            node[parts[-1]] = leaf
        if rng.random() < 0.3:
            document[name] = rng.choice(leaves)  # a dotted key beside the nested one
        if rng.random() < 0.1:
            del document[top]
        expected = indexed_values(info, (values if (values := raw_values(document, name)) is not None else MISSING))
        assert read(document) == expected, document
        checked += bool(expected)
    assert checked > 50


def test_folded_readers_fold_each_string_value() -> None:
    """Case-folded readers give the folded form of each string value, in order, and nothing else."""
    from eqlite.runtime.access import FieldReaders
    from eqlite.runtime.patterns import fold

    readers = FieldReaders(Schema.ecs())
    cases = ["CMD.EXE", "İstanbul ǅ", "", 7, None, True, ["A", 3, "ß", None, "Ǆx"], [], ["ONE"], [5], {"x": 1}]
    for name in ("process.name", "labels.anything", "not.in.ecs"):
        read, folded = readers(name), readers.folded(name)
        for value in cases:
            document = {name: value}
            assert folded(document) == tuple(fold(item) for item in read(document) if isinstance(item, str)), value
    assert readers.folded("process.name")({"process": {"name": "İX"}}) == ("İx",)
