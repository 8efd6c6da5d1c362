"""Every rule file of elastic/detection-rules (shared data set): loads, is located, round-trips.

Needs ../shared/datasets/detection-rules; skipped with a message when it is absent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eqlite.rules.kibana_format import rules_from_ndjson, rules_to_ndjson
from eqlite.rules.loader import check_queries, load_rules
from eqlite.rules.model import Rule, RuleLoadResult
from eqlite.rules.toml_format import rule_from_toml, rule_to_toml
from tests.conftest import shared_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus_root() -> Path:
    return shared_path("datasets", "detection-rules")


@pytest.fixture(scope="module")
def corpus(corpus_root: Path) -> RuleLoadResult:
    return load_rules(corpus_root)


def _folder(rule: Rule, root: Path) -> str:
    assert rule.source is not None
    return Path(rule.source.path).relative_to(root).parts[0]


def test_file_counts(corpus_root: Path) -> None:
    counts = Counter(path.relative_to(corpus_root).parts[0] for path in corpus_root.rglob("*.toml"))
    assert counts == {"rules": 2064, "rules_building_block": 128, "seed-rule-history": 24}
    assert len(list((corpus_root / "rules" / "_deprecated").glob("*.toml"))) == 124


def test_every_file_loads(corpus: RuleLoadResult) -> None:
    assert [str(error) for error in corpus.errors] == []
    assert (len(corpus.rules), corpus.files) == (2216, 2216)


def test_active_eql_rules(corpus: RuleLoadResult, corpus_root: Path) -> None:
    # Active = rules/ and rules_building_block/ minus deprecated; seed-rule-history holds old versions.
    shipped = [rule for rule in corpus.rules if _folder(rule, corpus_root) != "seed-rule-history"]
    active_eql = [rule for rule in shipped if rule.is_active and rule.language == "eql"]
    assert len(active_eql) == 1024
    assert sum(rule.is_building_block for rule in active_eql) == 70
    assert all(rule.type == "eql" and rule.metadata and rule.metadata.maturity == "production"
               for rule in active_eql)
    assert all(rule.execution_support().supported for rule in active_eql)


def test_deprecated_rules(corpus: RuleLoadResult) -> None:
    deprecated = [rule for rule in corpus.rules if rule.is_deprecated]
    assert len(deprecated) == 124
    assert all(rule.metadata and rule.metadata.maturity == "deprecated" for rule in deprecated)
    assert all(rule.source and "/_deprecated/" in rule.source.path for rule in deprecated)


def test_only_eql_is_executable(corpus: RuleLoadResult) -> None:
    verdicts = Counter((rule.type, rule.execution_support().supported) for rule in corpus.rules)
    assert {kind for kind, supported in verdicts if supported} == {"eql"}
    assert not any(kind == "eql" for kind, supported in verdicts if not supported)
    assert all(rule.execution_support().reason for rule in corpus.rules if rule.type != "eql")


def test_every_query_line_is_located(corpus: RuleLoadResult) -> None:
    texts: dict[str, list[str]] = {}
    for rule in corpus.rules:
        if rule.query is None:
            continue
        assert rule.source is not None
        lines = texts.setdefault(rule.source.path, Path(rule.source.path).read_text(encoding="utf-8").split("\n"))
        for number, line in enumerate(rule.query.split("\n"), 1):
            if not line:
                continue
            position = rule.source.file_position(number, len(line))
            assert position is not None
            assert lines[position[0] - 1][position[1] - 1] in (line[-1], "\\"), (rule.source.path, number)


def test_toml_round_trip(corpus: RuleLoadResult) -> None:
    mismatched = [rule.source.path for rule in corpus.rules
                  if rule.source and rule_from_toml(rule_to_toml(rule)) != rule]
    assert mismatched == []


def test_ndjson_round_trip(corpus: RuleLoadResult) -> None:
    text = rules_to_ndjson(corpus.rules, summary=True)
    again = rules_from_ndjson(text, "corpus.ndjson")
    assert again.errors == ()
    assert again.rules == corpus.rules


def test_every_executable_query_parses(corpus: RuleLoadResult) -> None:
    assert [str(error) for error in check_queries(corpus.rules)] == []


def test_the_fast_toml_reader_agrees_with_tomllib_on_every_file(corpus_root: Path) -> None:
    import tomllib

    from eqlite.rules.toml_format import _parse

    files = sorted(corpus_root.rglob("*.toml"))
    assert len(files) > 2000
    differing = [path for path in files
                 if _parse(text := path.read_text(encoding="utf-8")) != tomllib.loads(text)]
    assert differing == []
