"""The runs :func:`regex_runs` takes from a Lucene regular expression are in every value it matches."""

from __future__ import annotations

import random

import pytest

from eqlite.plan.prefilter import regex_alternatives, regex_runs
from eqlite.runtime.patterns import regex_matcher

CHARACTERS = ["a", "b", "C", ":", "x"]
ESCAPED = {"\\\\": "\\", "\\.": ".", "\\*": "*", "\\d": "d"}


def _atom(rng: random.Random, depth: int) -> tuple[str, str]:
    """A random atom of a Lucene expression, and a string it matches."""
    kind = rng.choice(["char"] * 5 + ["escaped", "dot", "class", "negated"] + (["group"] if depth < 2 else []))
    if kind == "char":
        char = rng.choice(CHARACTERS)
        return char, char
    if kind == "escaped":
        source, text = rng.choice(list(ESCAPED.items()))
        return source, text
    if kind == "dot":
        return ".", rng.choice([*CHARACTERS, "\\", "é"])
    if kind == "class":
        members = rng.sample(CHARACTERS, 2)
        return "[" + "".join(members) + "]", rng.choice(members)
    if kind == "negated":
        return "[^a]", rng.choice(["b", "C", "é"])
    alternatives = [_sequence(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return "(" + "|".join(source for source, _ in alternatives) + ")", rng.choice(alternatives)[1]


def _sequence(rng: random.Random, depth: int = 0) -> tuple[str, str]:
    source, text = [], []
    for _ in range(rng.randint(1, 5)):
        atom, matched = _atom(rng, depth)
        quantifier = rng.choice([""] * 6 + ["?", "*", "+", "{0,2}", "{1,2}", "{2}"])
        low, high = {"": (1, 1), "?": (0, 1), "*": (0, 3), "+": (1, 3), "{0,2}": (0, 2), "{1,2}": (1, 2),
                     "{2}": (2, 2)}[quantifier]
        source.append(atom + quantifier)
        text.append(matched * rng.randint(low, high))
    return "".join(source), "".join(text)


@pytest.mark.parametrize("insensitive", [True, False], ids=["insensitive", "sensitive"])
def test_every_run_is_in_every_match(insensitive: bool) -> None:
    rng = random.Random(5)
    checked = runs_seen = 0
    for _ in range(3000):
        if rng.random() < 0.1:  # a top-level alternation: no run can be required
            pattern, value = _sequence(rng) if rng.random() < 0.5 else ("a|b", "a")
            pattern = pattern + "|" + _sequence(rng)[0]
        else:
            pattern, value = _sequence(rng)
        if insensitive and rng.random() < 0.5:
            value = value.swapcase()
        assert regex_matcher(pattern, insensitive)(value), (pattern, value)
        runs = regex_runs(pattern)
        if runs is None:
            continue
        checked += 1
        runs_seen += len(runs)
        seen = value.lower() if insensitive else value
        for text, starts, ends in runs:
            run = text.lower() if insensitive else text
            assert run in seen, (pattern, value, runs)
            assert not starts or seen.startswith(run), (pattern, value, runs)
            assert not ends or seen.endswith(run), (pattern, value, runs)
    assert checked > 2000 and runs_seen > 2500


def test_what_it_does_not_follow_gives_nothing() -> None:
    for pattern in ("a|b", "ab&cd", "~ab", '"ab"c', "a<1-5>", "a#", "@ab", "(ab&c)d", "[ab"):
        assert regex_runs(pattern) is None, pattern


def _holds_runs(pattern: str, value: str, insensitive: bool) -> bool:
    """Whether ``value`` holds every run :func:`regex_runs` reads in ``pattern`` (where it says, at the start
    or the end); True when it reads none."""
    runs = regex_runs(pattern)
    seen = value.lower() if insensitive else value
    for text, starts, ends in runs or ():
        run = text.lower() if insensitive else text
        if run not in seen or (starts and not seen.startswith(run)) or (ends and not seen.endswith(run)):
            return False
    return True


@pytest.mark.parametrize("insensitive", [True, False], ids=["insensitive", "sensitive"])
def test_every_match_holds_the_runs_of_one_alternative(insensitive: bool) -> None:
    """The alternatives of an expression (its groups of alternatives written out) are a prefilter only if
    every value that matches it matches one of them, and so holds that one's runs."""
    rng = random.Random(11)
    expanded = grouped = 0
    for _ in range(3000):
        pattern, value = _sequence(rng)
        if rng.random() < 0.2:  # a top-level alternation
            other, other_value = _sequence(rng)
            pattern, value = (pattern + "|" + other, rng.choice([value, other_value]))
        if insensitive and rng.random() < 0.5:
            value = value.swapcase()
        assert regex_matcher(pattern, insensitive)(value), (pattern, value)
        alternatives = regex_alternatives(pattern)
        if alternatives is None:
            continue
        expanded += len(alternatives) > 1
        grouped += "(" in pattern and any("(" not in alternative for alternative in alternatives)
        assert any(regex_matcher(alternative, insensitive)(value) and _holds_runs(alternative, value, insensitive)
                   for alternative in alternatives), (pattern, value, alternatives)
    assert expanded > 800 and grouped > 300


def test_alternatives_of_a_group_that_may_not_occur_are_not_written_out() -> None:
    assert regex_alternatives(".*\\.(top|xyz)") == [".*\\.top", ".*\\.xyz"]
    for pattern in ("a(b|c)?d", "a(b|c)*d", "a(b|c)+d", "a(b|c){0,2}d", "a(b|c){1}d", "a(bc)d"):
        assert regex_alternatives(pattern) == [pattern], pattern
    assert regex_alternatives("(a|b)(c|d)(e|f)") == ["ace", "acf", "ade", "adf", "bce", "bcf", "bde", "bdf"]
    assert regex_alternatives("(a|b|c)(d|e|f)(g|h|i)(j|k|l)", limit=64) is None  # 81 would be too many
