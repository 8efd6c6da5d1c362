"""Alert documents: the seed sequence rule over demo data, event rules, overrides and edge cases."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlite.alerts import KIBANA_8, AlertBuilder, build_alerts, rule_uuid
from eqlite.alerts.build import _original_time
from eqlite.rules import Rule
from eqlite.runtime.search import EventHit, SampleHit, SequenceHit
from eqlite.semantic.types import js_iso, parse_date
from tests.alerts.helpers import NOW, NOW_TEXT, DemoHits, event, search

REASON_END = " created high alert Incoming DCOM Lateral Movement with MMC."


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _event_rule(**overrides: Any) -> Rule:
    data: dict[str, Any] = {
        "rule_id": "11111111-2222-3333-4444-555555555555", "name": "MMC Child Process", "description": "d",
        "type": "eql", "language": "eql", "query": 'process where process.parent.name : "mmc.exe"',
        "risk_score": 47, "severity": "medium", "version": 2, "tags": ["Test"],
    }
    data.update(overrides)
    return Rule.from_dict(data)


@pytest.fixture(scope="module")
def chains(seed_rule: Rule, demo_hits: DemoHits) -> list[list[dict[str, Any]]]:
    builder = AlertBuilder(seed_rule, now=NOW)
    return [builder.build(hit) for hit in demo_hits.hits]


# ------------------------------------------------------------------ the seed rule


def test_each_planted_chain_gives_a_shell_and_two_building_blocks(
        chains: list[list[dict[str, Any]]], demo_hits: DemoHits) -> None:
    assert len(chains) == len(demo_hits.truth.expected_sequences()) == 2
    for alerts in chains:
        shell, *blocks = alerts
        assert "kibana.alert.group.index" not in shell
        assert "kibana.alert.building_block_type" not in shell
        assert [block["kibana.alert.group.index"] for block in blocks] == [0, 1]
        assert {block["kibana.alert.building_block_type"] for block in blocks} == {"default"}
        assert {block["kibana.alert.group.id"] for block in alerts} == {shell["kibana.alert.uuid"]}


def test_building_blocks_carry_the_network_and_the_child_process_event(
        chains: list[list[dict[str, Any]]], demo_hits: DemoHits) -> None:
    expected = demo_hits.truth.expected_sequences()
    for alerts, (network_id, child_id) in zip(chains, expected, strict=True):
        network, child = alerts[1:]
        assert network["event"]["category"] == ["network"] and network["event"]["id"] == network_id
        assert network["process"]["name"] == "mmc.exe" and network["network"]["direction"] == "incoming"
        assert child["event"]["category"] == ["process"] and child["event"]["id"] == child_id
        assert child["process"]["parent"]["name"] == "mmc.exe"
        assert network["kibana.alert.ancestors"] == [
            {"id": network_id, "type": "event", "index": "logs-endpoint.events.network-default", "depth": 0}]
        assert child["kibana.alert.ancestors"][0]["index"] == "logs-endpoint.events.process-default"


def test_rule_fields_of_the_seed_rule(chains: list[list[dict[str, Any]]], seed_rule: Rule) -> None:
    for alert in (alert for alerts in chains for alert in alerts):
        assert alert["kibana.alert.severity"] == "high"
        assert alert["kibana.alert.risk_score"] == 73
        assert alert["kibana.alert.rule.name"] == "Incoming DCOM Lateral Movement with MMC"
        assert alert["kibana.alert.rule.rule_id"] == "51ce96fb-9e52-4dad-b0ba-99b54440fc9a"
        assert alert["kibana.alert.rule.version"] == 3
        assert alert["kibana.alert.rule.uuid"] == rule_uuid(seed_rule)
        assert alert["kibana.alert.rule.references"] == [
            "https://enigma0x3.net/2017/01/05/lateral-movement-using-the-mmc20-application-com-object/"]
        assert alert["kibana.alert.rule.tags"] == ["Elastic", "Host", "Windows", "Threat Detection",
                                                   "Lateral Movement"]
        threat = alert["kibana.alert.rule.threat"][0]
        assert threat["tactic"]["id"] == "TA0008"
        assert threat["technique"][0]["id"] == "T1021"
        assert threat["technique"][0]["subtechnique"][0]["id"] == "T1021.003"
        assert (alert["kibana.alert.rule.from"], alert["kibana.alert.rule.to"]) == ("now-9m", "now")
        assert (alert["kibana.alert.rule.interval"], alert["kibana.alert.rule.max_signals"]) == ("5m", 100)
        assert alert["kibana.alert.rule.type"] == "eql"
        assert alert["kibana.alert.rule.rule_type_id"] == "siem.eqlRule"
        assert alert["kibana.alert.rule.category"] == "Event Correlation Rule"
        assert alert["kibana.alert.rule.license"] == "Elastic License v2"
        assert alert["kibana.alert.rule.author"] == ["Elastic"]
        parameters = alert["kibana.alert.rule.parameters"]
        assert parameters["query"] == seed_rule.query
        assert (parameters["severity"], parameters["risk_score"], parameters["version"]) == ("high", 73, 3)
        assert parameters["index"] == ["winlogbeat-*", "logs-endpoint.events.*", "logs-windows.*"]


def test_alert_state_and_times(chains: list[list[dict[str, Any]]], demo_hits: DemoHits) -> None:
    by_id = {document["event"]["id"]: document for document in demo_hits.documents}
    for shell, *blocks in chains:
        for alert in (shell, *blocks):
            assert alert["@timestamp"] == NOW_TEXT
            assert alert["event.kind"] == "signal"
            assert "kind" not in alert.get("event", {})
            assert alert["kibana.alert.status"] == "active"
            assert alert["kibana.alert.workflow_status"] == "open"
            assert alert["kibana.space_ids"] == ["default"]
            assert alert["kibana.alert.rule.execution.timestamp"] == NOW_TEXT
        for block in blocks:
            source = by_id[block["event"]["id"]]
            assert block["kibana.alert.original_time"] == source["@timestamp"]
            assert block["kibana.alert.depth"] == 1
            assert block["kibana.alert.original_event.kind"] == "event"
            assert block["kibana.alert.original_event.category"] == source["event"]["category"]
            assert block["kibana.alert.original_event.id"] == source["event"]["id"]
        assert shell["kibana.alert.depth"] == 2
        # Kibana takes the shell's original time from its first building block's @timestamp.
        assert shell["kibana.alert.original_time"] == NOW_TEXT


def test_shell_ancestors_interleave_events_and_building_blocks(chains: list[list[dict[str, Any]]],
                                                               seed_rule: Rule) -> None:
    for shell, network, child in chains:
        assert shell["kibana.alert.ancestors"] == [
            *network["kibana.alert.ancestors"],
            {"id": network["kibana.alert.uuid"], "type": "signal", "index": "", "depth": 1,
             "rule": rule_uuid(seed_rule)},
            *child["kibana.alert.ancestors"],
            {"id": child["kibana.alert.uuid"], "type": "signal", "index": "", "depth": 1,
             "rule": rule_uuid(seed_rule)},
        ]


def test_shell_keeps_only_what_its_building_blocks_share(chains: list[list[dict[str, Any]]]) -> None:
    for shell, network, child in chains:
        assert shell["host"] == network["host"] == child["host"]
        assert shell["user"] == network["user"]
        assert "process" not in shell and "source" not in shell
        assert "category" not in shell.get("event", {})
        assert shell["kibana.alert.original_event.module"] == "endpoint"
        assert "kibana.alert.original_event.dataset" not in shell


def test_reasons_follow_kibanas_template(chains: list[list[dict[str, Any]]]) -> None:
    for shell, network, child in chains:
        user, host = network["user"]["name"], network["host"]["name"]
        assert shell["kibana.alert.reason"] == f"event by {user} on {host}{REASON_END}"
        # Current Kibana reads _source, where numeric ports have no length and are left out.
        assert network["kibana.alert.reason"] == (
            f"network event with process mmc.exe, source {network['source']['ip']} destination "
            f"{network['destination']['ip']} by {user} on {host}{REASON_END}")
        assert child["kibana.alert.reason"] == (
            f"process event with process {child['process']['name']}, parent process mmc.exe, "
            f"by {user} on {host}{REASON_END}")


def test_kibana_8_profile_shows_ports_and_skips_original_data_stream(seed_rule: Rule, demo_hits: DemoHits) -> None:
    _, network, _ = AlertBuilder(seed_rule, now=NOW, profile=KIBANA_8).build(demo_hits.hits[0])
    source, destination = network["source"], network["destination"]
    assert (f"source {source['ip']}:{source['port']}, destination {destination['ip']}:{destination['port']},"
            in network["kibana.alert.reason"])
    assert not any(key.startswith("kibana.alert.original_data_stream") for key in network)
    assert network["kibana.version"] == KIBANA_8.version


# ------------------------------------------------------------------ ids


def test_ids_follow_kibanas_hash_recipes(chains: list[list[dict[str, Any]]], seed_rule: Rule) -> None:
    uuid = rule_uuid(seed_rule)
    for shell, network, child in chains:
        events = [(ancestor["id"], ancestor["index"]) for ancestor in
                  (network["kibana.alert.ancestors"][0], child["kibana.alert.ancestors"][0])]
        base = "".join(f"{doc_id}{index}{uuid}" for doc_id, index in events)
        assert [network["kibana.alert.uuid"], child["kibana.alert.uuid"]] == [_sha(base + "0"), _sha(base + "1")]
        (e1, i1), (e2, i2) = events
        assert shell["kibana.alert.uuid"] == _sha(
            f"{e1}{i1}{network['kibana.alert.uuid']}{e2}{i2}{child['kibana.alert.uuid']}{uuid}")


def test_ids_are_stable_across_builds_and_distinct(seed_rule: Rule, demo_hits: DemoHits,
                                                   chains: list[list[dict[str, Any]]]) -> None:
    later = AlertBuilder(seed_rule, now=NOW + dt.timedelta(minutes=5))
    again = [alert["kibana.alert.uuid"] for hit in demo_hits.hits for alert in later.build(hit)]
    first = [alert["kibana.alert.uuid"] for alerts in chains for alert in alerts]
    assert again == first
    assert len(set(first)) == len(first) == 6


def test_event_alert_id_and_shape(demo_hits: DemoHits) -> None:
    rule = _event_rule()
    hits = search(rule, demo_hits.documents)
    assert len(hits) >= 2
    builder = AlertBuilder(rule, now=NOW)
    for hit in hits:
        assert isinstance(hit, EventHit)
        (alert,) = builder.build(hit)
        index, doc_id = hit.event.index, hit.event.id
        assert alert["kibana.alert.uuid"] == _sha(f"{index}{doc_id}undefineddefault:{rule_uuid(rule)}")
        assert alert["kibana.alert.ancestors"] == [{"id": doc_id, "type": "event", "index": index, "depth": 0}]
        assert alert["kibana.alert.depth"] == 1
        assert alert["kibana.alert.severity"] == "medium" and alert["kibana.alert.risk_score"] == 47
        assert alert["kibana.alert.original_time"] == hit.event.source["@timestamp"]
        assert alert["kibana.alert.reason"].startswith("process event with process ")
        assert not any(key.startswith("kibana.alert.group") for key in alert)
        assert "kibana.alert.building_block_type" not in alert


def test_space_and_saved_object_id_change_the_ids() -> None:
    hit = EventHit(event({"@timestamp": "2024-05-14T08:00:00Z"}))
    default = build_alerts(_event_rule(), hit, now=NOW)[0]
    other_space = build_alerts(_event_rule(), hit, now=NOW, space_id="soc")[0]
    from_kibana = build_alerts(_event_rule(id="so-123"), hit, now=NOW)[0]
    assert default["kibana.alert.uuid"] != other_space["kibana.alert.uuid"]
    assert other_space["kibana.space_ids"] == ["soc"]
    assert from_kibana["kibana.alert.rule.uuid"] == "so-123"
    assert from_kibana["kibana.alert.uuid"] == _sha("logs-teste1undefineddefault:so-123")


# ------------------------------------------------------------------ overrides


@pytest.mark.parametrize(("overrides", "source", "expected"), [
    ({}, {}, ("medium", 47, "MMC Child Process")),
    ({"severity_mapping": [{"field": "labels.tier", "operator": "equals", "value": "1", "severity": "critical"},
                           {"field": "labels.tier", "operator": "equals", "value": "1", "severity": "low"}]},
     {"labels": {"tier": "1"}}, ("critical", 47, "MMC Child Process")),
    ({"severity_mapping": [{"field": "labels.tier", "operator": "equals", "value": "1", "severity": "high"}]},
     {"labels": {"tier": "2"}}, ("medium", 47, "MMC Child Process")),
    ({"severity_mapping": [{"field": "event.code", "operator": "equals", "value": "4688", "severity": "high"}]},
     {"event": {"code": 4688}}, ("high", 47, "MMC Child Process")),
    ({"risk_score_mapping": [{"field": "event.risk_score", "operator": "equals", "value": ""}]},
     {"event": {"risk_score": 88}}, ("medium", 88, "MMC Child Process")),
    ({"risk_score_mapping": [{"field": "event.risk_score", "operator": "equals", "value": ""}]},
     {"event": {"risk_score": 250}}, ("medium", 47, "MMC Child Process")),
    ({"rule_name_override": "message"}, {"message": "Named by the event"}, ("medium", 47, "Named by the event")),
    ({"rule_name_override": "message"}, {}, ("medium", 47, "MMC Child Process")),
])
def test_overrides_apply_to_event_alerts(overrides: dict[str, Any], source: dict[str, Any],
                                         expected: tuple[str, int, str]) -> None:
    document = {"@timestamp": "2024-05-14T08:00:00Z", **source}
    (alert,) = build_alerts(_event_rule(**overrides), EventHit(event(document)), now=NOW)
    assert (alert["kibana.alert.severity"], alert["kibana.alert.risk_score"],
            alert["kibana.alert.rule.name"]) == expected
    assert alert["kibana.alert.reason"].endswith(f" created {expected[0]} alert {expected[2]}.")


def test_overrides_do_not_apply_to_sequences() -> None:
    rule = _event_rule(severity_mapping=[{"field": "labels.tier", "value": "1", "severity": "critical"}],
                       rule_name_override="message")
    source = {"@timestamp": "2024-05-14T08:00:00Z", "labels": {"tier": "1"}, "message": "override"}
    alerts = build_alerts(rule, SequenceHit([event(source), event(source, doc_id="e2")], []), now=NOW)
    assert {(a["kibana.alert.severity"], a["kibana.alert.rule.name"]) for a in alerts} == {
        ("medium", "MMC Child Process")}


# ------------------------------------------------------------------ edge cases


def test_missing_event_slots_get_no_building_block() -> None:
    first = event({"@timestamp": "2024-05-14T08:00:00Z"}, doc_id="a")
    third = event({"@timestamp": "2024-05-14T08:00:02Z"}, doc_id="c")
    shell, *blocks = build_alerts(_event_rule(), SequenceHit([first, None, third], []), now=NOW)
    assert [block["kibana.alert.ancestors"][0]["id"] for block in blocks] == ["a", "c"]
    assert [block["kibana.alert.group.index"] for block in blocks] == [0, 1]
    assert len(shell["kibana.alert.ancestors"]) == 4


def test_samples_are_grouped_like_sequences() -> None:
    hit = SampleHit([event({"@timestamp": "2024-05-14T08:00:00Z"}, doc_id=name) for name in "ab"], ["k"])
    alerts = build_alerts(_event_rule(), hit, now=NOW)
    assert [alert["kibana.alert.depth"] for alert in alerts] == [2, 1, 1]


def test_building_block_rules_mark_their_alerts() -> None:
    (alert,) = build_alerts(_event_rule(building_block_type="default"),
                            EventHit(event({"@timestamp": "2024-05-14T08:00:00Z"})), now=NOW)
    assert alert["kibana.alert.building_block_type"] == "default"


def test_alert_on_another_rules_alert_extends_the_chain() -> None:
    parent = {"@timestamp": "2024-05-14T08:00:00Z", "kibana.alert.depth": 1, "kibana.alert.rule.uuid": "other",
              "kibana.alert.ancestors": [{"id": "e0", "type": "event", "index": "logs-x", "depth": 0}]}
    (alert,) = build_alerts(_event_rule(), EventHit(event(parent, index=".alerts-security.alerts-default",
                                                          doc_id="p1")), now=NOW)
    assert alert["kibana.alert.depth"] == 2
    assert alert["kibana.alert.ancestors"] == [
        {"id": "e0", "type": "event", "index": "logs-x", "depth": 0},
        {"id": "p1", "type": "signal", "index": ".alerts-security.alerts-default", "depth": 1, "rule": "other"}]


def test_a_rule_never_fires_on_its_own_alerts() -> None:
    rule = _event_rule()
    own = {"@timestamp": "2024-05-14T08:00:00Z", "kibana.alert.depth": 1, "kibana.alert.rule.uuid": rule_uuid(rule)}
    assert build_alerts(rule, EventHit(event(own)), now=NOW) == []
    assert build_alerts(rule, SequenceHit([event({"@timestamp": "2024-05-14T08:00:00Z"}), event(own)], []),
                        now=NOW) == []


def test_events_without_an_id_get_distinct_content_ids() -> None:
    builder = AlertBuilder(_event_rule(), now=NOW)
    first = builder.build(EventHit(event({"@timestamp": "2024-05-14T08:00:00Z", "n": 1}, index="", doc_id="")))
    second = builder.build(EventHit(event({"@timestamp": "2024-05-14T08:00:00Z", "n": 2}, index="", doc_id="")))
    assert first[0]["kibana.alert.uuid"] != second[0]["kibana.alert.uuid"]


def test_url_when_kibana_base_url_is_known() -> None:
    hit = EventHit(event({"@timestamp": "2024-05-14T08:00:00Z"}))
    (default,) = build_alerts(_event_rule(), hit, now=NOW, public_base_url="https://kibana.example/")
    (soc,) = build_alerts(_event_rule(), hit, now=NOW, space_id="soc", public_base_url="https://kibana.example")
    assert default["kibana.alert.url"] == (
        f"https://kibana.example/app/security/alerts/redirect/{default['kibana.alert.uuid']}"
        f"?index=.alerts-security.alerts-default&timestamp={NOW_TEXT}")
    assert soc["kibana.alert.url"].startswith("https://kibana.example/s/soc/app/security/alerts/redirect/")


def test_execution_uuid_is_used_or_derived() -> None:
    hit = EventHit(event({"@timestamp": "2024-05-14T08:00:00Z"}))
    given = build_alerts(_event_rule(), hit, now=NOW, execution_uuid="run-1")[0]
    derived = build_alerts(_event_rule(), hit, now=NOW)[0]
    assert given["kibana.alert.rule.execution.uuid"] == "run-1"
    assert derived["kibana.alert.rule.execution.uuid"] == build_alerts(
        _event_rule(), hit, now=NOW)[0]["kibana.alert.rule.execution.uuid"]


def test_alerts_share_only_the_rule_values() -> None:
    """An alert's own values are its own; the rule's (``kibana.alert.rule.*``) are shared, as documented."""
    hit = EventHit(event({"@timestamp": "2024-05-14T08:00:00Z", "host": {"ip": ["10.0.0.1"]}}))
    builder = AlertBuilder(_event_rule(), now=NOW)
    first, second = builder.build(hit)[0], builder.build(hit)[0]
    first["kibana.alert.workflow_tags"].append("changed")
    first["kibana.space_ids"].append("changed")
    first["kibana.alert.ancestors"][0]["id"] = "changed"
    first["host"]["ip"].append("10.0.0.2")
    assert second["kibana.alert.workflow_tags"] == []
    assert second["kibana.space_ids"] == ["default"]
    assert second["kibana.alert.ancestors"][0]["id"] != "changed"
    assert second["host"] == {"ip": ["10.0.0.1"]}
    assert hit.event.source["host"] == {"ip": ["10.0.0.1"]}
    assert first["kibana.alert.rule.tags"] is second["kibana.alert.rule.tags"]
    assert first["kibana.alert.rule.execution.uuid"] == second["kibana.alert.rule.execution.uuid"]


@pytest.mark.parametrize(("rule", "now", "message"), [
    (_event_rule(), dt.datetime(2024, 5, 14, 9, 0), "no time zone"),
    (_event_rule(type="esql", language="esql"), NOW, "EQL rules only"),
])
def test_bad_inputs_are_refused(rule: Rule, now: dt.datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlertBuilder(rule, now=now)


_DIGITS = st.text("0123456789", min_size=1, max_size=1)


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
        lambda moment: f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"),
    # canonical in shape, not always a real date: month 13, day 31 of April, hour 24, second 60, year 0
    st.tuples(st.sampled_from(["0000", "1970", "2023", "2024", "9999"]), st.integers(0, 13), st.integers(0, 32),
              st.integers(0, 25), st.integers(0, 60), st.integers(0, 61)).map(
        lambda t: f"{t[0]}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}.000Z"),
    st.lists(_DIGITS, min_size=1, max_size=14).map("".join)))
def test_the_original_time_shortcut_agrees_with_parsing(value: str) -> None:
    nanos = parse_date(value)
    assert _original_time({"@timestamp": value}) == (None if nanos is None else js_iso(nanos))


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)))
def test_times_are_written_as_to_iso_string_does(moment: dt.datetime) -> None:
    utc = moment.replace(tzinfo=dt.UTC)
    nanos = (utc - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1000 + 999
    assert js_iso(nanos) == f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


@pytest.mark.parametrize(("timestamp", "original"), [
    ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z"),  # year 0 parses; Python's datetime cannot hold it
    ("2024-05-14T08:00:00.5+02:00", "2024-05-14T06:00:00.500Z"),
    ("not a date", None),
])
def test_an_alert_keeps_any_original_time_javascript_can_write(timestamp: str, original: str | None) -> None:
    alert = AlertBuilder(_event_rule(), now=NOW).build(EventHit(event({"@timestamp": timestamp})))[0]
    assert alert.get("kibana.alert.original_time") == original


def test_shared_rule_values_are_written_as_they_are() -> None:
    import orjson

    from eqlite.alerts import base

    builder = AlertBuilder(_event_rule(note="a long investigation guide " * 20), now=NOW)
    alert = builder.build(EventHit(event({"@timestamp": "2024-05-14T08:00:00Z"})))[0]
    plain = orjson.dumps(alert, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    assert alert["kibana.alert.rule.uuid"] in base._SHARED
    assert base.dumps_alert(alert) == plain
    changed = {**alert, "kibana.alert.rule.tags": ["other"], "kibana.alert.rule.note": "short"}
    assert base.dumps_alert(changed) == orjson.dumps(changed, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    for number in range(base.SHARED_KEPT):  # the rule's values leave the registry: still the same bytes
        base.share_values(f"other-{number}", {"x": [number]})
    assert alert["kibana.alert.rule.uuid"] not in base._SHARED
    assert base.dumps_alert(alert) == plain
