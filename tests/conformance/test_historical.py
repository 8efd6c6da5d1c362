"""Historical spec files (Endgame-era syntax): each query parses, or is rejected as modern Elasticsearch rejects it.

Elasticsearch rejects while parsing (a ``ParsingException``) single-quoted and ``?"..."``
strings, ``=``, pipes other than head/tail, ``join``, lineage (``child of``), array
indexes, ``fork`` and the old ``sampling`` keyword; it rejects while verifying (a
``VerificationException``) functions it does not have and comparisons between fields.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from eqlite.errors import AnalysisError, ParseError, QueryError
from eqlite.semantic.analyzer import analyze
from eqlite.syntax.parser import parse
from tests.conftest import SHARED

ROOT = SHARED / "eql-conformance" / "elasticsearch"
FILES = ["test_queries_supported.toml", "test_queries_unsupported.toml", "test_between_queries.toml",
         "test_sampling.toml"]

_PARSE_REJECTED = [
    re.compile(pattern) for pattern in (
        r"'", r'\?"', r"[^=!<>]=[^=]", r"\|\s*(filter|unique|unique_count|sort|count)\b", r"^\s*join\b",
        r"\b(child|descendant|event) of\b", r"\w\[\d", r"\bfork\b", r"\bsampling\b",
    )
]
_ENDGAME_FUNCTIONS = re.compile(r"\b(match|matchLite|arrayContains|arraySearch|arrayCount|wildcard|safe)\s*\(")


def _cases() -> list[Any]:
    if not ROOT.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{ROOT} not found; set EQLITE_SHARED"))]
    cases = []
    for file in FILES:
        for number, entry in enumerate(tomllib.loads((ROOT / file).read_text(encoding="utf-8"))["queries"]):
            cases.append(pytest.param(entry["query"].strip(), id=f"{file}#{number}"))
    return cases


def _expected_kind(query: str) -> type[QueryError] | None:
    if re.search(r"\bmaxspan\s*=\s*\d*\.\d", query):
        return ParseError  # "Decimal time interval not supported"
    query = re.sub(r"\b(maxspan|runs)\s*=", "", query)
    if any(pattern.search(query) for pattern in _PARSE_REJECTED):
        return ParseError
    if _ENDGAME_FUNCTIONS.search(query):
        return AnalysisError
    return None


@pytest.mark.parametrize("query", _cases())
def test_historical_query(query: str) -> None:
    expected = _expected_kind(query)
    try:
        analyze(parse(query))
    except QueryError as error:
        if expected is None:
            assert type(error) is AnalysisError, error.describe()
        else:
            assert type(error) is expected, error.describe()
        return
    assert expected is None, f"should be rejected with {expected.__name__}: {query}"
