"""Replay: Kibana's runs over recorded events, checked against the documented algorithm (tests/scheduler/helpers.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eqlite.rules import Rule, load_builtin_rules
from eqlite.scheduler.executor import RuleRun
from eqlite.scheduler.replay import Pause, replay
from eqlite.scheduler.runner import MAX_SIGNALS_WARNING, Executor, default_executor
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceEvent
from tests.scheduler.helpers import MINUTE, chain, chain_of, expected_runs, iso, ms, shells

START = ms("2024-05-14T08:00:00Z")
SEED = load_builtin_rules()[0]


def _events(documents: list[dict[str, object]]) -> list[SourceEvent]:
    return [SourceEvent(doc["_source"], "test.ndjson", n, doc["_index"], doc["_id"])  # type: ignore[arg-type]
            for n, doc in enumerate(documents, 1)]


def _chains(at: dict[int, int]) -> tuple[list[SourceEvent], dict[str, tuple[int, int]]]:
    documents = [doc for number, instant in sorted(at.items(), key=lambda item: item[1])
                 for doc in chain(number, instant)]
    return _events(documents), {f"net-{n}": (instant, instant + 1000) for n, instant in at.items()}


def _starts(first: int, last: int, step: int = 5 * MINUTE) -> list[int]:
    return list(range(first, last + 1, step))


def test_burst_of_150_chains_keeps_the_earliest_100_and_warns() -> None:
    at = {n: START + 5 * MINUTE + n * 1600 for n in range(150)}
    events, chains = _chains(at)
    result = replay([SEED], events, schema=Schema.ecs(), start=START, end=START + 20 * MINUTE)
    runs, alerted = expected_runs(chains, _starts(START, START + 20 * MINUTE))
    assert [(r.started, r.matches, r.written, r.duplicates) for r in result.records] == [
        (run.started, run.matches, run.written, run.duplicates) for run in runs]
    burst = result.records[2]
    assert (burst.started, burst.matches, burst.written // 3) == (START + 10 * MINUTE, 150, 100)
    assert burst.status == "partial failure" and burst.warnings == [MAX_SIGNALS_WARNING]
    assert burst.message == ("This rule reached the maximum alert limit for the rule execution. "
                             "Some alerts were not created.")
    following = result.records[3]
    assert (following.written // 3, following.duplicates // 3, following.status) == (38, 62, "partial failure")
    found = {chain_of(result.alerts, shell)[0]: shell["@timestamp"] for shell in shells(result.alerts)}
    assert found == {name: iso(started) for name, started in alerted.items()}
    assert len(found) == 138


def test_overlapping_windows_alert_each_chain_once() -> None:
    at = {n: START + n * 97 * 1000 for n in range(1, 40)}
    events, chains = _chains(at)
    result = replay([SEED], events, schema=Schema.ecs(), start=START)
    runs, alerted = expected_runs(chains, [record.started for record in result.records])
    uuids = [alert["kibana.alert.uuid"] for alert in result.alerts]
    assert len(uuids) == len(set(uuids)) == 3 * len(chains)
    assert sum(r.duplicates for r in result.records) == sum(run.duplicates for run in runs) > 0
    assert {chain_of(result.alerts, s)[0]: s["@timestamp"] for s in shells(result.alerts)} == {
        name: iso(t) for name, t in alerted.items()}


def test_pause_leads_to_catch_up_windows_and_a_recorded_gap() -> None:
    at = {1: START + 56 * MINUTE + 30_000,   # only in the 6 minutes nobody searches
          2: START + 62 * MINUTE,            # in the oldest catch-up window
          3: START + 75 * MINUTE}            # in the run that resumes
    events, _ = _chains(at)
    result = replay([SEED], events, schema=Schema.ecs(), start=START, end=START + 100 * MINUTE,
                    pauses=[Pause(START + 60 * MINUTE, START + 90 * MINUTE)])
    resumed = next(r for r in result.records if r.started == START + 90 * MINUTE)
    assert [r.started for r in result.records].index(resumed.started) == 12  # 08:00 ... 08:55, then 09:30
    assert [(w.start, w.end) for w in resumed.windows] == [
        (START + (61 + 5 * k) * MINUTE, START + (70 + 5 * k) * MINUTE) for k in range(5)]
    assert resumed.status == "failed" and resumed.gap == 6 * MINUTE
    assert resumed.gap_range is not None
    assert (resumed.gap_range.start, resumed.gap_range.end) == (START + 55 * MINUTE, START + 61 * MINUTE)
    assert resumed.message.startswith("6 minutes (360000ms) were not queried between this rule execution and the "
                                      "last execution, so signals may have been missed.")
    assert sorted(chain_of(result.alerts, s)[0] for s in shells(result.alerts)) == ["net-2", "net-3"]


def test_timestamp_override_moves_the_window_not_the_order() -> None:
    rule = Rule.from_dict({**SEED.to_dict(), "timestamp_override": "event.ingested"})
    late = chain(1, START - 120 * MINUTE)  # happened two hours ago, ingested now
    for document in late:
        document["_source"]["event"]["ingested"] = iso(START + 2 * MINUTE)  # type: ignore[index]
    events = _events(late)
    assert len(replay([rule], events, schema=Schema.ecs(), start=START, end=START + 10 * MINUTE).alerts) == 3
    assert replay([SEED], events, schema=Schema.ecs(), start=START, end=START + 10 * MINUTE).alerts == []


def test_a_failing_rule_is_recorded_and_the_others_go_on() -> None:
    broken = Rule.from_dict({**SEED.to_dict(), "rule_id": "broken", "name": "Broken"})

    def executor(rules: Sequence[Rule], schema: Schema | None) -> Executor:
        if rules[0].rule_id == "broken":
            raise OSError("disk on fire")
        return default_executor(rules, schema)

    events, _ = _chains({1: START + 3 * MINUTE})
    result = replay([broken, SEED], events, schema=None, start=START, end=START + 10 * MINUTE, executor=executor)
    failed = [r for r in result.records if r.rule_id == "broken"]
    assert [r.status for r in failed] == ["failed", "failed", "failed"]
    assert failed[0].errors == ["OSError: disk on fire"] and failed[0].message == "OSError: disk on fire"
    assert [r.status for r in result.records if r.rule_id != "broken"] == ["succeeded"] * 3
    assert len(result.alerts) == 3


def test_a_rule_that_does_not_compile_fails_every_run() -> None:
    bad = Rule.from_dict({**SEED.to_dict(), "rule_id": "bad", "name": "Bad", "query": "process where ("})
    result = replay([bad], [], schema=None, start=START, end=START + 5 * MINUTE)
    assert [r.status for r in result.records] == ["failed", "failed"]
    assert "EqlSyntaxError" in result.records[0].message or "Error" in result.records[0].message


@pytest.mark.parametrize("limit", [1, 2])
def test_max_signals_counts_sequences(limit: int) -> None:
    rule = Rule.from_dict({**SEED.to_dict(), "max_signals": limit})
    events, _ = _chains({1: START - 3 * MINUTE, 2: START - 2 * MINUTE})
    result = replay([rule], events, schema=Schema.ecs(), start=START, end=START)
    assert [(r.matches, r.written) for r in result.records] == [(2, 3 * limit)]
    assert (MAX_SIGNALS_WARNING in result.records[0].warnings) == (limit <= 2)


def test_runs_of_several_rules_interleave_in_start_order() -> None:
    hourly = Rule.from_dict({**SEED.to_dict(), "rule_id": "hourly", "name": "Hourly", "interval": "1h",
                             "from": "now-70m"})
    result = replay([hourly, SEED], [], schema=None, start=START, end=START + 60 * MINUTE)
    order = [(r.started, r.rule_id) for r in result.records]
    assert order == sorted(order, key=lambda item: item[0]) and order.count((START, "hourly")) == 1
    assert sum(1 for _, rule_id in order if rule_id == "hourly") == 2


def test_custom_executors_receive_the_window_events_in_read_order() -> None:
    seen: list[int] = []

    class Recording:
        def __init__(self, rules: Sequence[Rule], schema: Schema | None) -> None:
            self.inner = default_executor(rules, schema)

        def feed(self, record: SourceEvent) -> None:
            seen.append(record.position)
            self.inner.feed(record)

        def finish(self) -> list[RuleRun]:
            return self.inner.finish()

    events, _ = _chains({2: START - 4 * MINUTE, 1: START - 6 * MINUTE})
    replay([SEED], events, schema=None, start=START, end=START, executor=Recording)
    assert seen == [1, 2, 3, 4]
