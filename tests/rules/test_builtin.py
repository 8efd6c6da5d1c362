"""The built-in pack: the seed rule, version 3, exactly as its documentation page gives it."""

from __future__ import annotations

from typing import Any

import pytest

from eqlite.rules.builtin import SEED_RULE_ID, find_builtin_rule, load_builtin_rules
from eqlite.rules.kibana_format import rules_from_ndjson, rules_to_ndjson
from eqlite.rules.model import Rule
from eqlite.rules.toml_format import rule_from_toml, rule_to_toml
from eqlite.syntax.parser import parse
from tests.conftest import shared_path

# Verbatim from the rule's page (prebuilt rules 0.14.2, version 3).
SEED_QUERY = """sequence by host.id with maxspan=1m
 [network where event.type == "start" and process.name : "mmc.exe" and
  source.port >= 49152 and destination.port >= 49152 and source.address not in ("127.0.0.1", "::1") and
  network.direction == "incoming" and network.transport == "tcp"
 ] by process.entity_id
 [process where event.type in ("start", "process_started") and process.parent.name : "mmc.exe"
 ] by process.parent.entity_id
"""


@pytest.fixture(scope="module")
def seed() -> Rule:
    (rule,) = load_builtin_rules()
    return rule


@pytest.mark.parametrize(("attribute", "expected"), [
    ("rule_id", "51ce96fb-9e52-4dad-b0ba-99b54440fc9a"),
    ("name", "Incoming DCOM Lateral Movement with MMC"),
    ("type", "eql"),
    ("language", "eql"),
    ("index", ("winlogbeat-*", "logs-endpoint.events.*", "logs-windows.*")),
    ("severity", "high"),
    ("risk_score", 73),
    ("interval", "5m"),
    ("from_", "now-9m"),
    ("to", "now"),
    ("max_signals", 100),
    ("references", ("https://enigma0x3.net/2017/01/05/lateral-movement-using-the-mmc20-application-com-object/",)),
    ("tags", ("Elastic", "Host", "Windows", "Threat Detection", "Lateral Movement")),
    ("version", 3),
    ("author", ("Elastic",)),
    ("license", "Elastic License v2"),
    ("timestamp_override", None),
    ("building_block_type", None),
    ("exceptions_list", ()),
    ("enabled", True),
])
def test_seed_field(seed: Rule, attribute: str, expected: Any) -> None:
    assert getattr(seed, attribute) == expected


def test_seed_query_is_verbatim(seed: Rule) -> None:
    assert seed.query == SEED_QUERY


def test_seed_threat(seed: Rule) -> None:
    (threat,) = seed.threat
    assert threat.framework == "MITRE ATT&CK"
    assert (threat.tactic.id, threat.tactic.name, threat.tactic.reference) == (
        "TA0008", "Lateral Movement", "https://attack.mitre.org/tactics/TA0008/")
    (technique,) = threat.technique
    assert (technique.id, technique.name, technique.reference) == (
        "T1021", "Remote Services", "https://attack.mitre.org/techniques/T1021/")
    (sub,) = technique.subtechnique
    assert (sub.id, sub.name, sub.reference) == (
        "T1021.003", "Distributed Component Object Model", "https://attack.mitre.org/techniques/T1021/003/")


def test_seed_text_is_our_own(seed: Rule) -> None:
    page_phrases = ("Identifies the use of Distributed Component Object Model",
                    "This behavior may indicate an attacker abusing a DCOM application")
    for text in (seed.description, seed.note or ""):
        assert text.strip()
        assert not any(phrase in text for phrase in page_phrases)


def test_seed_is_active_and_executable(seed: Rule) -> None:
    assert seed.is_active and not seed.is_building_block
    assert seed.execution_support().supported
    assert seed.metadata is not None and seed.metadata.maturity == "production"


def test_seed_query_parses(seed: Rule) -> None:
    assert seed.query is not None
    parse(seed.query)


def test_seed_query_is_located_in_the_pack_file(seed: Rule) -> None:
    assert seed.source is not None and seed.source.query_line is not None
    with open(seed.source.path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    assert lines[seed.source.query_line - 1] == "sequence by host.id with maxspan=1m"


def test_seed_round_trips(seed: Rule) -> None:
    assert rule_from_toml(rule_to_toml(seed)) == seed
    assert rules_from_ndjson(rules_to_ndjson([seed])).rules == (seed,)


@pytest.mark.parametrize("key", [
    SEED_RULE_ID, SEED_RULE_ID.upper(), "Incoming DCOM Lateral Movement with MMC",
    "incoming dcom lateral movement with mmc", "  INCOMING DCOM LATERAL MOVEMENT WITH MMC  ",
])
def test_lookup(key: str) -> None:
    rule = find_builtin_rule(key)
    assert rule is not None and rule.rule_id == SEED_RULE_ID


@pytest.mark.parametrize("key", ["", "Incoming DCOM", "51ce96fb"])
def test_lookup_needs_a_whole_id_or_name(key: str) -> None:
    assert find_builtin_rule(key) is None


def test_matches_the_repository_file_of_version_3(seed: Rule) -> None:
    """Same rule as detection-rules commit cc241c0b5e, except the query line the page shows differently."""
    history = shared_path("datasets", "detection-rules", "seed-rule-history", "2021-10-13_cc241c0b5e.toml")
    upstream = rule_from_toml(history.read_text(encoding="utf-8"), str(history))
    for attribute in ("rule_id", "name", "type", "language", "index", "severity", "risk_score", "from_",
                      "interval", "max_signals", "references", "tags", "author", "license", "threat"):
        assert getattr(seed, attribute) == getattr(upstream, attribute), attribute
    assert upstream.query is not None
    assert upstream.query.replace('network.direction : ("incoming", "ingress")',
                                  'network.direction == "incoming"') == seed.query
