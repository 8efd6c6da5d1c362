"""Pattern matching: wildcards and Lucene regular expressions, in linear time.

Wildcard patterns made only of literal runs and ``*`` are matched with string searches
(greedy left-to-right placement of each run is exact for ``*``-only patterns). Patterns
with ``?`` and all regular expressions run on RE2, whose matching time is linear in the
input, so no pattern can make matching blow up.

Elasticsearch runs ``regex`` on a field as a Lucene ``regexp`` query with every optional
operator enabled. :func:`lucene_to_re2` translates that syntax: ``\\`` makes any character
literal (so ``\\d`` is the letter ``d``), ``"..."`` is a literal string, ``.`` matches any
character, ``@`` is any string and ``#`` the empty language; the match is anchored.
Intersection ``&``, complement ``~`` and numeric ranges ``<n-m>`` have no RE2 equivalent
and are rejected with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import re2

from eqlite.errors import AnalysisError
from eqlite.plan.ir import WildcardPattern

ANY = WildcardPattern.ANY
ONE = WildcardPattern.ONE

StringTest = Callable[[str], bool]


def fold(text: str) -> str:
    """Case folding for case-insensitive matching, one character at a time.

    Lucene's case-insensitive queries compare each code point with its lower- and
    upper-case forms; folding per character keeps lengths (so ``?`` still means one
    character) where ``str.lower`` would expand a few characters such as ``İ``.
    """
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(char) for char in text)


def _fold_char(char: str) -> str:
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def _star_only_matcher(parts: tuple[str, ...]) -> StringTest:
    literals = [part for part in parts if part != ANY]
    anchored_start = parts[0] != ANY
    anchored_end = parts[-1] != ANY
    if not literals:
        return lambda value: True  # "*" alone
    if len(parts) == 1:
        exact = parts[0]
        return lambda value: value == exact
    if len(parts) == 2 and anchored_start:
        prefix = parts[0]
        return lambda value: value.startswith(prefix)
    if len(parts) == 2 and anchored_end:
        suffix = parts[1]
        return lambda value: value.endswith(suffix)
    if len(parts) == 3 and not anchored_start and not anchored_end:
        middle = parts[1]
        return lambda value: middle in value
    first = literals[0] if anchored_start else None
    last = literals[-1] if anchored_end else None
    middle_parts = literals[(1 if anchored_start else 0): (len(literals) - 1 if anchored_end else len(literals))]
    minimum = sum(len(part) for part in literals)

    def match(value: str) -> bool:
        if len(value) < minimum:
            return False
        start, end = 0, len(value)
        if first is not None:
            if not value.startswith(first):
                return False
            start = len(first)
        if last is not None:
            if not value.endswith(last):
                return False
            end -= len(last)
        for part in middle_parts:
            found = value.find(part, start, end)
            if found < 0:
                return False
            start = found + len(part)
        return start <= end

    return match


def wildcard_regex(pattern: WildcardPattern) -> str:
    pieces = []
    for part in pattern.parts:
        if part == ANY:
            pieces.append(".*")
        elif part == ONE:
            pieces.append(".")
        else:
            pieces.append(str(re2.escape(part)))
    return "(?s)" + "".join(pieces)


def _folded_pattern(pattern: WildcardPattern) -> WildcardPattern:
    return WildcardPattern(tuple(part if part in (ANY, ONE) else fold(part) for part in pattern.parts))


@lru_cache(maxsize=8192)
def _matcher(parts: tuple[str, ...]) -> StringTest:
    if not parts:
        return lambda value: value == ""
    if ONE not in parts:
        return _star_only_matcher(parts)
    leading = 0
    while leading < len(parts) and parts[leading] == ONE:
        leading += 1
    if ONE not in parts[leading:] and leading < len(parts):
        # Elastic's path patterns start with "?:\\" (any drive letter): skip those characters,
        # then the rest is plain string work.
        rest = _star_only_matcher(parts[leading:])
        return lambda value: len(value) >= leading and rest(value[leading:])
    return full_match_test(re2.compile(wildcard_regex(WildcardPattern(parts))))


# Patterns in one ``field : (...)`` list from which one RE2 expression, tried once per value,
# beats a string test per pattern.
COMBINE_AT = 4


def wildcards_matcher(patterns: tuple[WildcardPattern, ...], insensitive: bool, *,
                      folded_input: bool = False) -> StringTest:
    """A test of whole strings against any of several wildcard patterns.

    Short lists are tried a pattern at a time (see :func:`wildcard_matcher`). A longer list whose
    patterns all have the shapes rules use most is a few string operations (see :func:`_list_test`);
    any other long list is one RE2 alternation, a single linear-time pass over the value whatever
    the number of patterns.

    >>> from eqlite.plan.translate import eql_wildcard
    >>> test = wildcards_matcher(tuple(eql_wildcard(p) for p in ("a*", "*b", "c?d", "e")), True)
    >>> test("Ab"), test("CxD"), test("x"), test("E")
    (True, True, False, True)
    """
    if len(patterns) < COMBINE_AT:
        tests = tuple(wildcard_matcher(pattern, insensitive, folded_input=folded_input) for pattern in patterns)
        if len(tests) == 1:
            return tests[0]
        if len(tests) == 2:
            first, second = tests
            return lambda value: first(value) or second(value)
        if len(tests) == 3:
            first, second, third = tests
            return lambda value: first(value) or second(value) or third(value)
        return lambda value: any(test(value) for test in tests)
    listed = [(_folded_pattern(pattern) if insensitive else pattern).parts for pattern in patterns]
    test = _list_test(listed)
    if test is None:
        branches = (wildcard_regex(WildcardPattern(parts)).removeprefix("(?s)") for parts in listed)
        test = full_match_test(re2.compile("(?s)(?:" + "|".join(branches) + ")"))
    if insensitive and not folded_input:
        return lambda value: test(fold(value))
    return test


# A long list with more "*x*" patterns than this is one RE2 alternation rather than an `in` test per pattern.
INFIXES_TRIED_ONE_BY_ONE = 8


def _list_test(listed: list[tuple[str, ...]]) -> StringTest | None:
    """Whether a value matches any of the patterns ``listed`` (given by their parts), with string
    operations; None when a pattern has another shape, for which one RE2 alternation of the whole
    list is faster.

    Exact values are one set lookup; ``x*`` one ``startswith`` and ``*x`` one ``endswith`` for all
    of them; ``*x*`` a substring test each (up to INFIXES_TRIED_ONE_BY_ONE); patterns that start with
    ``?``, such as Elastic's ``?:\\\\Windows\\\\...``, the same tests on the value past those characters.
    Measured over the corpus's 412 long case-insensitive lists and the values of their fields in the
    generated data: a list of prefixes takes 0.5 µs a value where RE2 takes 1.5 µs; a list with one
    pattern of another shape took longer than RE2 alone (RE2 runs anyway).

    >>> from eqlite.plan.translate import eql_wildcard
    >>> texts = ("cmd.exe", "C:*", "*.dll", "*temp*", "?:/x/*", "?:/y")
    >>> test = _list_test([eql_wildcard(text).parts for text in texts])
    >>> [test(v) for v in ("cmd.exe", "C:/y", "a.dll", "my temp", "D:/x/y.exe", "E:/y", "cmd")]
    [True, True, True, True, True, True, False]
    >>> _list_test([eql_wildcard(text).parts for text in ("a*b*c", "x*")]) is None
    True
    """
    exact: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    infixes: list[str] = []
    led: dict[int, list[tuple[str, ...]]] = {}  # by their count of leading "?": the rest of each
    for parts in listed:
        if parts and all(part == ANY for part in parts):
            return lambda value: True  # "*"
        leading = 0
        while leading < len(parts) and parts[leading] == ONE:
            leading += 1
        shape = _simple_shape(parts[leading:])
        if shape is None:
            return None
        if leading:
            led.setdefault(leading, []).append(parts[leading:])
        elif shape == "exact":
            exact.add(parts[0] if parts else "")
        elif shape == "prefix":
            prefixes.append(parts[0])
        elif shape == "suffix":
            suffixes.append(parts[1])
        elif len(infixes) < INFIXES_TRIED_ONE_BY_ONE:
            infixes.append(parts[1])
        else:
            return None
    starts, ends = tuple(prefixes), tuple(suffixes)
    after: list[tuple[int, StringTest]] = []
    for count, rests in sorted(led.items()):
        rest = _list_test(rests)
        if rest is None:
            return None
        after.append((count, rest))

    def test(value: str) -> bool:
        if value in exact or value.startswith(starts) or value.endswith(ends):
            return True
        for infix in infixes:
            if infix in value:
                return True
        for count, rest in after:  # noqa: SIM110 - no generator made per value
            if len(value) >= count and rest(value[count:]):
                return True
        return False

    return test


def _simple_shape(parts: tuple[str, ...]) -> str | None:
    """"exact" (``x``, or the empty pattern), "prefix" (``x*``), "suffix" (``*x``) or "infix" (``*x*``);
    None for any other shape (``?`` inside, or more than one run)."""
    if len(parts) <= 1:
        return "exact" if not parts or parts[0] not in (ANY, ONE) else None
    if ONE in parts or len(parts) > 3:
        return None
    if len(parts) == 2:
        first, last = parts
        if last == ANY and first != ANY:
            return "prefix"
        if first == ANY and last != ANY:
            return "suffix"
        return None
    return "infix" if parts[0] == ANY and parts[2] == ANY and parts[1] != ANY else None


_NO_MATCH = (-1, -1)


def full_match_test(compiled: Any) -> StringTest:
    """``compiled.fullmatch(value) is not None``, without what a yes or no does not need.

    google-re2's ``fullmatch`` is written in Python around RE2: it maps byte offsets back to
    characters and builds a match object, which costs more than the matching itself. This calls
    RE2 on the UTF-8 text directly, when the installed wrapper behaves as this was checked
    against (:data:`DIRECT`); otherwise it uses ``fullmatch``.
    """
    direct = _direct_test(compiled) if DIRECT else None
    if direct is None:
        return lambda value: compiled.fullmatch(value) is not None
    return direct


_ANCHOR_BOTH = getattr(getattr(re2, "_Anchor", None), "ANCHOR_BOTH", None)


def _direct_test(compiled: Any) -> StringTest | None:
    """A yes/no full-match test calling RE2 under google-re2's wrapper; None when the wrapper has no such way."""
    regexp = getattr(compiled, "_regexp", None)
    if _ANCHOR_BOTH is None or regexp is None:
        return None
    both = _ANCHOR_BOTH

    def test(value: str) -> bool:
        encoded = value.encode("utf-8")
        return bool(regexp.Match(both, encoded, 0, len(encoded))[0] != _NO_MATCH)

    return test


def _direct_call_works() -> bool:
    """Whether the direct call gives the answers of ``fullmatch``, on the wrapper installed."""
    compiled = re2.compile("(?s)(?:a.c|é*)")
    test = _direct_test(compiled)
    if test is None:
        return False
    try:
        return all(test(text) == (compiled.fullmatch(text) is not None)
                   for text in ("abc", "a\nc", "abcd", "", "éé", "aéc", "xabc"))
    except (AttributeError, TypeError, ValueError):
        return False


DIRECT = _direct_call_works()


@lru_cache(maxsize=8192)
def wildcard_matcher(pattern: WildcardPattern, insensitive: bool, *, folded_input: bool = False) -> StringTest:
    """A test of whole strings against a wildcard pattern (``?`` is exactly one character).

    With ``folded_input`` the caller passes values already folded (see :func:`fold`).

    >>> from eqlite.plan.translate import eql_wildcard
    >>> test = wildcard_matcher(eql_wildcard("*\\\\cmd.ex?"), True)
    >>> test("C:\\\\Windows\\\\CMD.EXE"), test("cmd.exe")
    (True, False)
    >>> wildcard_matcher(eql_wildcard("?:\\\\Windows\\\\*.exe"), False)("C:\\\\Windows\\\\a.exe")
    True
    """
    test = _matcher((_folded_pattern(pattern) if insensitive else pattern).parts)
    if insensitive and not folded_input:
        return lambda value: test(fold(value))
    return test


class _LuceneTranslator:
    """Recursive-descent translation of Lucene RegExp syntax (flags ALL) into RE2 syntax."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.position = 0

    def fail(self, message: str) -> AnalysisError:
        return AnalysisError(f"regular expression {self.pattern!r}: {message} at offset {self.position}")

    def peek(self) -> str | None:
        return self.pattern[self.position] if self.position < len(self.pattern) else None

    def translate(self) -> str:
        result = self.union()
        if self.position != len(self.pattern):
            raise self.fail(f"unexpected {self.pattern[self.position]!r}")
        return result

    def union(self) -> str:
        branches = [self.concatenation()]
        while self.peek() == "|":
            self.position += 1
            branches.append(self.concatenation())
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    def concatenation(self) -> str:
        pieces = []
        while self.peek() not in (None, "|", ")"):
            if self.peek() == "&":
                raise self.fail("intersection '&' is not supported")
            pieces.append(self.repeat())
        return "".join(pieces)

    def repeat(self) -> str:
        atom = self.complement()
        while True:
            char = self.peek()
            if char in ("*", "+", "?"):
                self.position += 1
                atom = f"(?:{atom}){char}"
            elif char == "{":
                end = self.pattern.find("}", self.position)
                if end < 0:
                    raise self.fail("unclosed '{'")
                bounds = self.pattern[self.position + 1:end]
                if not all(part.isdigit() or part == "" for part in bounds.split(",")) or not bounds[:1].isdigit():
                    raise self.fail(f"bad repetition {{{bounds}}}")
                self.position = end + 1
                atom = f"(?:{atom}){{{bounds}}}"
            else:
                return atom

    def complement(self) -> str:
        if self.peek() == "~":
            raise self.fail("complement '~' is not supported")
        return self.char_class_or_atom()

    def char_class_or_atom(self) -> str:
        char = self.peek()
        if char == "[":
            return self.char_class()
        if char == "(":
            self.position += 1
            if self.peek() == ")":
                self.position += 1
                return "(?:)"
            inner = self.union()
            if self.peek() != ")":
                raise self.fail("unclosed '('")
            self.position += 1
            return f"(?:{inner})"
        if char == ".":
            self.position += 1
            return "."
        if char == "@":
            self.position += 1
            return ".*"
        if char == "#":
            self.position += 1
            return "[^\\x00-\\x{10FFFF}]"
        if char == '"':
            end = self.pattern.find('"', self.position + 1)
            if end < 0:
                raise self.fail("unclosed '\"'")
            literal = self.pattern[self.position + 1:end]
            self.position = end + 1
            return str(re2.escape(literal)) if literal else ""
        if char == "<":
            raise self.fail("numeric intervals '<n-m>' are not supported")
        return str(re2.escape(self.literal_char()))

    def literal_char(self) -> str:
        char = self.pattern[self.position]
        if char == "\\":
            if self.position + 1 >= len(self.pattern):
                raise self.fail("trailing '\\'")
            self.position += 2
            return self.pattern[self.position - 1]
        if char in "*+?{})|":
            raise self.fail(f"unexpected {char!r}")
        self.position += 1
        return char

    def char_class(self) -> str:
        self.position += 1
        negated = self.peek() == "^"
        if negated:
            self.position += 1
        items = []
        first = True
        while True:
            char = self.peek()
            if char is None:
                raise self.fail("unclosed '['")
            if char == "]" and not first:
                self.position += 1
                break
            low = self.class_char()
            if self.peek() == "-" and self.position + 1 < len(self.pattern) and self.pattern[self.position + 1] != "]":
                self.position += 1
                high = self.class_char()
                if ord(high) < ord(low):
                    raise self.fail(f"bad range {low}-{high}")
                items.append(f"{_class_escape(low)}-{_class_escape(high)}")
            else:
                items.append(_class_escape(low))
            first = False
        return ("[^" if negated else "[") + "".join(items) + "]"

    def class_char(self) -> str:
        char = self.pattern[self.position]
        if char == "\\" and self.position + 1 < len(self.pattern):
            self.position += 2
            return self.pattern[self.position - 1]
        self.position += 1
        return char


def _class_escape(char: str) -> str:
    if char in "\\]-^[":
        return "\\" + char
    if ord(char) < 0x20 or ord(char) > 0x7E:
        return f"\\x{{{ord(char):x}}}"
    return char


def lucene_to_re2(pattern: str) -> str:
    """Translate a Lucene regular expression (Elasticsearch ``regexp`` query syntax) to RE2.

    >>> lucene_to_re2("[24][0-9]{3}")
    '[24](?:[0-9]){3}'
    >>> lucene_to_re2("a\\\\d")
    'ad'
    """
    return _LuceneTranslator(pattern).translate()


@lru_cache(maxsize=8192)
def regex_matcher(pattern: str, insensitive: bool, *, lucene: bool = True) -> StringTest:
    """A test of whole strings against a regular expression.

    ``lucene`` selects Lucene syntax (``regex`` on a field); otherwise the pattern is a Java
    regular expression (``regex`` on a computed value), run on RE2.

    Raises:
        AnalysisError: the pattern is invalid or uses a feature RE2 cannot run.
    """
    source = lucene_to_re2(pattern) if lucene else pattern
    options = re2.Options()
    options.dot_nl = lucene
    options.case_sensitive = not insensitive
    try:
        compiled = re2.compile(source, options)
    except re2.error as error:
        raise AnalysisError(f"regular expression {pattern!r} cannot be compiled: {error}") from None
    return full_match_test(compiled)
