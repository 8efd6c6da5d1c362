"""Wildcard lists matched as one RE2 expression, and RE2 called directly, agree with the one-at-a-time tests."""

from __future__ import annotations

import random

import pytest
import re2

from eqlite.plan.ir import WildcardPattern
from eqlite.plan.translate import eql_wildcard
from eqlite.runtime import patterns
from eqlite.runtime.patterns import fold, full_match_test, wildcard_matcher, wildcards_matcher

ALPHABET = ["a", "B", "é", "É", "\\", ".", "😀", "x"]


def _random_pattern(rng: random.Random) -> WildcardPattern:
    text = "".join(rng.choice([*ALPHABET, "*", "?"]) for _ in range(rng.randint(0, 6)))
    return eql_wildcard(text)


def _random_value(rng: random.Random) -> str:
    return "".join(rng.choice([*ALPHABET, "\n"]) for _ in range(rng.randint(0, 8)))


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "wrapper"])
@pytest.mark.parametrize("insensitive", [True, False], ids=["insensitive", "sensitive"])
def test_a_list_matches_as_its_patterns_do(direct: bool, insensitive: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "DIRECT", direct and patterns.DIRECT)
    rng = random.Random(7)
    for _ in range(300):
        listed = tuple(_random_pattern(rng) for _ in range(rng.randint(1, 9)))
        _assert_matches_as_its_patterns_do(listed, insensitive, [_random_value(rng) for _ in range(20)])


def _assert_matches_as_its_patterns_do(listed: tuple[WildcardPattern, ...], insensitive: bool,
                                       values: list[str]) -> None:
    """The list's test, on values as they are and folded, says what its patterns one by one say."""
    together = wildcards_matcher(listed, insensitive)
    folded_together = wildcards_matcher(listed, insensitive, folded_input=True)
    one_by_one = [wildcard_matcher(pattern, insensitive) for pattern in listed]
    for value in values:
        expected = any(test(value) for test in one_by_one)
        assert together(value) == expected, (listed, value)
        if insensitive:
            assert folded_together(fold(value)) == expected, (listed, value)


SIMPLE = ("{}", "{}*", "*{}", "*{}*", "?:{}", "?:{}*", "??{}", "?*{}", "?")  # string operations
OTHER = ("??{}*{}", "*{}*{}", "{}?{}*", "{}*{}")  # RE2


def _shaped_pattern(rng: random.Random, shapes: tuple[str, ...]) -> WildcardPattern:
    shape = rng.choice(shapes * 20 + ("*", ""))  # a lone "*" or "" now and then
    runs = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 3))) for _ in range(shape.count("{}"))]
    return eql_wildcard(shape.format(*runs))


@pytest.mark.parametrize("shapes", [SIMPLE, SIMPLE + OTHER], ids=["simple", "mixed"])
@pytest.mark.parametrize("insensitive", [True, False], ids=["insensitive", "sensitive"])
def test_long_lists_of_the_usual_shapes_match_as_their_patterns_do(insensitive: bool, shapes: tuple[str, ...]) -> None:
    # Lists of simple shapes are string operations grouped by shape (one set, one startswith, one
    # endswith, ...): every group, more infixes than are tried one by one, and values that only some
    # groups accept. Lists with other shapes are one RE2 alternation.
    rng = random.Random(11)
    for _ in range(400):
        listed = tuple(_shaped_pattern(rng, shapes) for _ in range(rng.randint(patterns.COMBINE_AT, 30)))
        _assert_matches_as_its_patterns_do(listed, insensitive, [_random_value(rng) for _ in range(25)])


def test_long_lists_match_mixed_shapes() -> None:
    listed = tuple(eql_wildcard(text) for text in ("*\\cmd.exe", "*\\powershell.exe", "?:\\x\\*", "a*b*c"))
    assert len(listed) >= patterns.COMBINE_AT
    test = wildcards_matcher(listed, True)
    assert test("C:\\Windows\\System32\\CMD.EXE")
    assert test("D:\\X\\anything")
    assert test("aXbYc")
    assert not test("C:\\Windows\\System32\\cmd.exe.bak")


def test_the_direct_call_is_available_and_agrees() -> None:
    assert patterns.DIRECT, "google-re2's wrapper changed: the direct RE2 call is not used (slower, still correct)"
    for source in ("(?s)a.c", "(?s)(?:.*\\\\x|é.)", "(?i)ab+", "(?s)"):
        compiled = re2.compile(source)
        test = full_match_test(compiled)
        for value in ("abc", "a\nc", "ABBB", "", "éé", "q\\x", "abcd"):
            assert test(value) == (compiled.fullmatch(value) is not None), (source, value)


def test_a_lone_star_matches_everything() -> None:
    # It used to be compared as a literal (a script's `concat(...) : "*"` never matched).
    for insensitive in (True, False):
        assert wildcard_matcher(eql_wildcard("*"), insensitive)("anything")
        assert wildcard_matcher(eql_wildcard("*"), insensitive)("")
