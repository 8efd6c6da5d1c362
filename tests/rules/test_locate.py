"""Text scanners and string tracing: the decoded string must equal the parser's, and every
anchor must point at the file character the query character came from."""

from __future__ import annotations

import tomllib

import orjson
import pytest

from eqlite.rules.locate import (
    LineIndex,
    json_array_items,
    json_position,
    toml_positions,
    trace_string,
)

# (TOML document with one key `q`, the raw string literal as written after `q = `)
TOML_STRINGS = [
    "q = 'single literal with \\ backslash'",
    'q = "basic \\"quoted\\" \\\\ \\t tab \\u00e9 \\U0001F600"',
    "q = '''\nmulti\n  literal [not a header]\n'''",
    "q = '''\nends with two quotes'''''",
    "q = '''one quote at the end''''",
    'q = """\nmulti \\"basic\\"\n  second\\tline\n"""',
    'q = """\nline one \\\n    continued here\nthird"""',
    "q = ''''''",
    "q = '''\nfirst\n\n\nafter blank lines'''",
]


def _check_anchors(text: str, decoded: str, anchors: tuple[tuple[int, int, int, int], ...]) -> None:
    lines = text.split("\n")
    for q_line, q_col, f_line, f_col in anchors:
        query_char = decoded.split("\n")[q_line - 1][q_col - 1:q_col] or "\n"
        file_char = lines[f_line - 1][f_col - 1:f_col] or "\n"
        # An escape sequence starts with a backslash in the file.
        assert file_char in (query_char, "\\"), (q_line, q_col, f_line, f_col)


@pytest.mark.parametrize("document", TOML_STRINGS)
def test_trace_toml_string_matches_tomllib(document: str) -> None:
    expected = tomllib.loads(document)["q"]
    traced = trace_string(document, 4, 1, 5)
    assert traced is not None
    assert traced[0] == expected
    _check_anchors(document, *traced)


JSON_STRINGS = [
    '{"q": "plain"}',
    '{"q": "a\\nb\\"c\\\\d\\/e"}',
    '{"q": "emoji \\ud83d\\ude00 and \\u00e9"}',
    '{"q": ""}',
    '{"q": "a\\n\\n\\nb"}',
]


@pytest.mark.parametrize("document", JSON_STRINGS)
def test_trace_json_string_matches_orjson(document: str) -> None:
    expected = orjson.loads(document)["q"]
    traced = trace_string(document, 6, 1, 7, json=True)
    assert traced is not None
    assert traced[0] == expected
    _check_anchors(document, *traced)


@pytest.mark.parametrize(("document", "json"), [(TOML_STRINGS[-1], False), (JSON_STRINGS[-1], True)])
def test_every_query_line_has_an_anchor_at_column_one(document: str, json: bool) -> None:
    traced = trace_string(document, 6 if json else 4, 1, 7 if json else 5, json=json)
    assert traced is not None
    decoded, anchors = traced
    assert {anchor[:2] for anchor in anchors} >= {(line, 1) for line in range(1, decoded.count("\n") + 2)}


def test_trace_rejects_non_strings_and_unterminated_literals() -> None:
    assert trace_string("q = 12", 4, 1, 5) is None
    assert trace_string("q = '''never closed", 4, 1, 5) is None


def test_toml_positions_skip_brackets_inside_values() -> None:
    text = (
        "[rule]\n"
        "index = [\n  \"a\", # comment [x]\n  [\"nested\"],\n]\n"
        "query = '''\nsequence\n [process where true]\n[network where true]\n'''\n"
        "after = { a = [1, 2], b = \"}\" }\n"
        "last = 1\n"
    )
    found = toml_positions(text)
    assert set(found) == {("rule", ""), ("rule", "index"), ("rule", "query"), ("rule", "after"), ("rule", "last")}
    key_offset, value_offset = found[("rule", "last")]
    assert text[key_offset:value_offset] == "last = "


def test_toml_positions_number_arrays_of_tables() -> None:
    text = "[[a]]\nx = 1\n[[a]]\nx = 2\n[a.b]\ny = 3\n[[a.c]]\n[[a]]\n[[a.c]]\nz = 4\n"
    found = toml_positions(text)
    assert text[found[("a[1]", "x")][1]] == "2"
    assert text[found[("a[1].b", "y")][1]] == "3"
    assert ("a[1].c[0]", "") in found
    assert text[found[("a[2].c[0]", "z")][1]] == "4"


def test_json_position_finds_top_level_key_not_nested_one() -> None:
    text = '{"filters": [{"query": {"match": 1}}], "query": "top", "x": [1, {"query": 2}]}'
    assert text[json_position(text, ["query"]) or 0:].startswith('"top"')
    assert text[json_position(text, ["filters", 0, "query"]) or 0:].startswith('{"match"')
    assert json_position(text, ["missing"]) is None
    assert json_position(text, ["filters", 5]) is None


def test_json_array_items() -> None:
    text = ' [ {"a": "]"} , [1, [2]], "x" ]'
    offsets = json_array_items(text)
    assert [text[offset] for offset in offsets] == ["{", "[", '"']
    assert json_array_items('{"a": 1}') == []


@pytest.mark.parametrize(("offset", "position"), [(0, (1, 1)), (2, (1, 3)), (3, (2, 1)), (6, (3, 1))])
def test_line_index(offset: int, position: tuple[int, int]) -> None:
    assert LineIndex("ab\ncd\nef").position(offset) == position
