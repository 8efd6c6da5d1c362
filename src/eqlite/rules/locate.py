"""Find where values sit in a rule file's text, and trace a string literal back to its columns.

``tomllib`` and ``orjson`` give values without positions. Rule errors must still say
``file:line:col``, so after a file has parsed, these small scanners walk its text again to find
the offset of a key's value, and :func:`trace_string` decodes the string literal found there,
recording how each query line and escape sequence maps onto the file. The scanners assume text
the real parser accepted; on anything unexpected they give up (``None``), never raise.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

import orjson

Anchor = tuple[int, int, int, int]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SPACE = re.compile(r"[ \t]*")
_SPACE_LINES = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
_TOML_SCALAR = re.compile(r"[^,\]}\n#]*")
_JSON_SPACE = re.compile(r"[ \t\r\n]*")
_JSON_SCALAR = re.compile(r"[^,\]}\s]*")


class LineIndex:
    """Turn offsets in a text into 1-based (line, col).

    >>> LineIndex("ab\\ncd").position(4)
    (2, 2)
    """

    def __init__(self, text: str) -> None:
        self._starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


# ----------------------------------------------------------------------------------- TOML


def _skip_basic(text: str, start: int, quote: str) -> int:
    """End offset of a basic string opened by ``quote`` (``"`` or ``\"\"\"``) at ``start``."""
    i = start + len(quote)
    while True:
        j = text.find(quote, i)
        if j < 0:
            raise ValueError("unterminated string")
        k = j - 1
        while text[k] == "\\":
            k -= 1
        if (j - 1 - k) % 2 == 0:
            return _extra_quotes(text, j + len(quote), quote)
        i = j + 1


def _extra_quotes(text: str, end: int, quote: str) -> int:
    # A multi-line string may end with up to two quotes of its own right before the delimiter.
    extra = 0
    while len(quote) == 3 and extra < 2 and text.startswith(quote[0], end + extra):
        extra += 1
    return end + extra


def _skip_toml_string(text: str, i: int) -> int:
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote, i):
            if quote[0] == '"':
                return _skip_basic(text, i, quote)
            j = text.find(quote, i + len(quote))
            if j < 0:
                raise ValueError("unterminated string")
            return _extra_quotes(text, j + len(quote), quote)
    raise ValueError("not a string")


def _skip_toml_value(text: str, i: int) -> int:
    char = text[i] if i < len(text) else ""
    if char in "\"'":
        return _skip_toml_string(text, i)
    if char in "[{":
        closing = "]" if char == "[" else "}"
        i += 1
        while True:
            i = _SPACE_LINES.match(text, i).end()  # type: ignore[union-attr]  # matches empty
            if text.startswith(closing, i):
                return i + 1
            if char == "{":
                i = text.index("=", i) + 1
                i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
            i = _skip_toml_value(text, i)
            i = _SPACE_LINES.match(text, i).end()  # type: ignore[union-attr]
            if text.startswith(",", i):
                i += 1
    return _TOML_SCALAR.match(text, i).end()  # type: ignore[union-attr]


def _toml_key(text: str) -> str:
    parts = []
    for raw in text.split("."):
        part = raw.strip()
        quoted = len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'"
        parts.append(part[1:-1] if quoted else part)
    return ".".join(parts)


def toml_positions(text: str) -> dict[tuple[str, str], tuple[int, int]]:
    """Offsets of ``(key, value)`` for each ``key = value`` line, by (table, key).

    Tables are named the way :func:`eqlite.rules._fields.format_path` names paths, with the
    element index of arrays of tables (``rule.threat[1].tactic``); a table's header is listed
    under the key ``""``. Returns what it found so far if the text has a shape it does not follow.

    >>> found = toml_positions("[rule]\\nname = 'x'\\nquery = '''\\nany where true'''\\n"
    ...                        "[[rule.threat]]\\n[[rule.threat]]\\n[rule.threat.tactic]\\nid = 1\\n")
    >>> found[("rule", "query")], found[("rule.threat[1]", "")], found[("rule.threat[1].tactic", "id")]
    ((18, 26), (64, 64), (101, 106))
    """
    found: dict[tuple[str, str], tuple[int, int]] = {}
    arrays: dict[str, int] = {}
    table, i = "", 0
    try:
        while True:
            i = _SPACE_LINES.match(text, i).end()  # type: ignore[union-attr]
            if i >= len(text):
                return found
            if text[i] == "[":
                array = text.startswith("[[", i)
                end = text.index("]]" if array else "]", i)
                name = _toml_key(text[i + (2 if array else 1):end])
                if array:
                    arrays[name] = arrays.get(name, 0) + 1
                    for nested in [key for key in arrays if key.startswith(name + ".")]:
                        del arrays[nested]
                table = _indexed_table(name, arrays)
                found.setdefault((table, ""), (i, i))
                i = end + (2 if array else 1)
                continue
            key_start = i
            if text[i] in "\"'":
                i = _skip_toml_string(text, i)
            equals = text.index("=", i)
            key = _toml_key(text[key_start:equals])
            value = _SPACE.match(text, equals + 1).end()  # type: ignore[union-attr]
            found.setdefault((table, key), (key_start, value))
            i = _skip_toml_value(text, value)
    except (ValueError, IndexError):
        return found


def _indexed_table(name: str, arrays: dict[str, int]) -> str:
    parts = name.split(".")
    indexed = ""
    for depth, part in enumerate(parts, 1):
        indexed = f"{indexed}.{part}" if indexed else part
        count = arrays.get(".".join(parts[:depth]))
        if count:
            indexed += f"[{count - 1}]"
    return indexed


# ----------------------------------------------------------------------------------- JSON


def _skip_json_string(text: str, i: int) -> int:
    return _skip_basic(text, i, '"')


def _skip_json_value(text: str, i: int) -> int:
    char = text[i]
    if char == '"':
        return _skip_json_string(text, i)
    if char in "[{":
        closing = "]" if char == "[" else "}"
        i = _JSON_SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
        if text.startswith(closing, i):
            return i + 1
        while True:
            if char == "{":
                i = _skip_json_string(text, i)
                i = _JSON_SPACE.match(text, i).end() + 1  # type: ignore[union-attr]  # past ':'
                i = _JSON_SPACE.match(text, i).end()  # type: ignore[union-attr]
            i = _skip_json_value(text, i)
            i = _JSON_SPACE.match(text, i).end()  # type: ignore[union-attr]
            if text[i] == closing:
                return i + 1
            i = _JSON_SPACE.match(text, i + 1).end()  # type: ignore[union-attr]  # past ','
    return _JSON_SCALAR.match(text, i).end()  # type: ignore[union-attr]


def json_position(text: str, path: Sequence[str | int], start: int = 0) -> int | None:
    """Offset of the value at ``path`` (object keys and array indices) in JSON ``text``.

    >>> text = '{"filters": [{"query": 1}], "query": "x"}'
    >>> text[json_position(text, ["query"]):]
    '"x"}'
    """
    try:
        i = _JSON_SPACE.match(text, start).end()  # type: ignore[union-attr]
        for step in path:
            opening = "{" if isinstance(step, str) else "["
            if text[i] != opening:
                return None
            i = _JSON_SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
            index = 0
            while text[i] not in "}]":
                if isinstance(step, str):
                    end = _skip_json_string(text, i)
                    key = orjson.loads(text[i:end])
                    i = _JSON_SPACE.match(text, end).end() + 1  # type: ignore[union-attr]
                    i = _JSON_SPACE.match(text, i).end()  # type: ignore[union-attr]
                    if key == step:
                        break
                elif index == step:
                    break
                i = _JSON_SPACE.match(text, _skip_json_value(text, i)).end()  # type: ignore[union-attr]
                if text[i] == ",":
                    i = _JSON_SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
                index += 1
            else:
                return None
        return i
    except (ValueError, IndexError):
        return None


def json_array_items(text: str, start: int = 0) -> list[int]:
    """Offsets of the elements of the JSON array at ``text[start]`` (one pass, for big files).

    >>> json_array_items('[1, {"a": [2]}, "x"]')
    [1, 4, 16]
    """
    offsets: list[int] = []
    try:
        i = _JSON_SPACE.match(text, start).end()  # type: ignore[union-attr]
        if text[i] != "[":
            return offsets
        i = _JSON_SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
        while text[i] != "]":
            offsets.append(i)
            i = _JSON_SPACE.match(text, _skip_json_value(text, i)).end()  # type: ignore[union-attr]
            if text[i] == ",":
                i = _JSON_SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
    except (ValueError, IndexError):
        pass
    return offsets


# ------------------------------------------------------------------------- string tracing

_TOML_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_JSON_ESCAPES = {**_TOML_ESCAPES, "/": "/"}
_LINE_CONTINUATION = re.compile(r"\\[ \t]*\n[ \t\n]*")


def _escape(text: str, i: int, json: bool) -> tuple[str, int]:
    """Decode the escape sequence at ``text[i]`` (a backslash): (character, raw length)."""
    code = text[i + 1]
    simple = (_JSON_ESCAPES if json else _TOML_ESCAPES).get(code)
    if simple is not None:
        return simple, 2
    width = {"u": 4, "U": 0 if json else 8}.get(code, 0)
    if not width:
        raise ValueError(f"unknown escape \\{code}")
    value = int(text[i + 2:i + 2 + width], 16)
    if json and 0xD800 <= value < 0xDC00 and text.startswith("\\u", i + 6):
        low = int(text[i + 8:i + 12], 16)
        if 0xDC00 <= low < 0xE000:
            return chr(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)), 12
    return chr(value), 2 + width


_SPECIAL_LITERAL = re.compile(r"[\n']")
_SPECIAL_BASIC = re.compile(r'[\n"\\]')


def trace_string(text: str, start: int, line: int, col: int, *, json: bool = False) -> tuple[str, tuple[
        Anchor, ...]] | None:
    """Decode the string literal opening at ``text[start]`` and map its positions onto the file.

    ``line``/``col`` is the file position of ``text[start]``. Handles TOML's four string forms
    (or JSON strings with ``json=True``). Returns the decoded string and its anchors (see
    :class:`eqlite.rules.model.SourceLocation`), or ``None`` if the literal is not one.

    >>> trace_string("q = '''\\nab\\ncd'''", 4, 1, 5)
    ('ab\\ncd', ((1, 1, 2, 1), (2, 1, 3, 1)))
    >>> trace_string('{"q": "a\\\\tb"}', 6, 1, 7, json=True)
    ('a\\tb', ((1, 1, 1, 8), (1, 2, 1, 9), (1, 3, 1, 11)))
    """
    quote = text[start:start + 1]
    if quote not in ("'", '"'):
        return None
    triple = not json and text.startswith(quote * 3, start)
    delimiter = quote * 3 if triple else quote
    special = _SPECIAL_LITERAL if quote == "'" else _SPECIAL_BASIC
    i = start + len(delimiter)
    f_line, f_col = line, col + len(delimiter)
    if triple and text.startswith("\n", i):
        i, f_line, f_col = i + 1, f_line + 1, 1
    out: list[str] = []
    anchors: list[Anchor] = []
    q_line, q_col, anchored = 1, 1, False
    try:
        while True:
            found = special.search(text, i)
            if found is None:
                return None
            j = found.start()
            if j > i:
                # A run of ordinary characters: query and file columns advance together.
                if not anchored:
                    anchors.append((q_line, q_col, f_line, f_col))
                    anchored = True
                out.append(text[i:j])
                q_col, f_col, i = q_col + (j - i), f_col + (j - i), j
            char = text[i]
            if char == "\n":
                if not anchored:
                    anchors.append((q_line, q_col, f_line, f_col))
                out.append(char)
                q_line, q_col, f_line, f_col, anchored, i = q_line + 1, 1, f_line + 1, 1, False, i + 1
            elif char == quote and text.startswith(delimiter, i):
                # Up to two quotes right before a closing triple delimiter are content.
                extra = 0
                while triple and extra < 2 and text.startswith(quote, i + 3 + extra):
                    extra += 1
                if extra and not anchored:
                    anchors.append((q_line, q_col, f_line, f_col))
                out.append(quote * extra)
                break
            elif char == quote:
                if not anchored:
                    anchors.append((q_line, q_col, f_line, f_col))
                    anchored = True
                out.append(char)
                q_col, f_col, i = q_col + 1, f_col + 1, i + 1
            else:
                continuation = None if json or not triple else _LINE_CONTINUATION.match(text, i)
                if continuation is not None:
                    consumed = continuation.group()
                    f_line += consumed.count("\n")
                    f_col = len(consumed) - consumed.rfind("\n")
                    i, anchored = continuation.end(), False
                    continue
                decoded, width = _escape(text, i, json)
                anchors.append((q_line, q_col, f_line, f_col))
                out.append(decoded)
                i, f_col, anchored = i + width, f_col + width, False
                if decoded == "\n":
                    q_line, q_col = q_line + 1, 1
                else:
                    q_col += 1
    except (IndexError, ValueError):
        return None
    return "".join(out), tuple(anchors)
