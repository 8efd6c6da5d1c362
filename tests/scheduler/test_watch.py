"""The watch loop in-process, on a clock the test moves: schedule, ingest times, gaps, failures, restarts."""

from __future__ import annotations

import bisect
import io
from collections.abc import Sequence
from pathlib import Path

import orjson

from eqlite.alerts import AlertQuery, AlertStore
from eqlite.demo import DemoConfig, write_ndjson
from eqlite.rules import Rule, load_builtin_rules
from eqlite.scheduler.log import LogQuery, rule_states, select_records
from eqlite.scheduler.replay import replay
from eqlite.scheduler.runner import Executor, RuleRunner, default_executor
from eqlite.scheduler.watch import Watcher, WatchOptions
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceStats
from eqlite.sources.reader import read_events
from tests.scheduler.helpers import MINUTE, ManualClock, chain, chain_of, iso, ms, noise, shells, write_lines

T = ms("2024-05-14T08:00:00Z")
SEED = load_builtin_rules()[0]


def _watcher(store: AlertStore, paths: list[Path], clock: ManualClock, rules: Sequence[Rule] = (SEED,),
             runners: Sequence[RuleRunner] | None = None) -> tuple[Watcher, list[str]]:
    lines: list[str] = []
    chosen = runners if runners is not None else [RuleRunner(rule, Schema.ecs()) for rule in rules]
    return Watcher(chosen, store, clock, WatchOptions(tuple(map(str, paths)), poll=0.01), lines.append), lines


def _records(store: AlertStore) -> list[tuple[str, str, str, int]]:
    return [(r.rule_id, iso(r.started), r.status, r.written)
            for r in reversed(select_records(store.connection, LogQuery()))]


def test_rules_run_at_once_then_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    write_lines(path, chain(1, T - 3 * MINUTE))
    clock = ManualClock(T)
    with AlertStore(tmp_path / "s.db") as store:
        watcher, lines = _watcher(store, [path], clock)
        assert watcher.cycle() and not watcher.cycle()
        clock.instant = T + 4 * MINUTE
        assert not watcher.cycle()
        clock.instant = T + 5 * MINUTE
        write_lines(path, chain(2, T + 4 * MINUTE), mode="ab")
        assert watcher.cycle()
        assert _records(store) == [(SEED.rule_id, "2024-05-14T08:00:00.000Z", "succeeded", 3),
                                   (SEED.rule_id, "2024-05-14T08:05:00.000Z", "succeeded", 3)]
        assert lines[0].startswith("2024-05-14T08:00:00.000Z  Incoming DCOM Lateral Movement with MMC: succeeded;")
        state = rule_states(store.connection)[watcher.runners[0].rule_uuid]
        assert (state.last_started, state.next_due) == (T + 5 * MINUTE, T + 10 * MINUTE)


def test_a_clock_jump_gives_catch_up_windows_and_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    write_lines(path, [noise(0, T)])
    clock = ManualClock(T)
    with AlertStore(tmp_path / "s.db") as store:
        watcher, lines = _watcher(store, [path], clock)
        watcher.cycle()
        write_lines(path, chain(1, T + 2 * MINUTE) + chain(2, T + 12 * MINUTE), mode="ab")
        clock.instant = T + 35 * MINUTE  # 30 minutes late
        watcher.cycle()
        (late,) = [r for r in select_records(store.connection) if r.started == T + 35 * MINUTE]
        assert [(w.start - T) // MINUTE for w in late.windows] == [6, 11, 16, 21, 26]
        assert late.status == "failed" and late.gap == 6 * MINUTE
        alerts = store.select(AlertQuery(building_blocks=True))
        assert [chain_of(alerts, shell) for shell in shells(alerts)] == [("net-2", "child-2")]
        assert "were not queried" in lines[-1]


def test_events_without_ingest_time_are_stamped_when_read(tmp_path: Path) -> None:
    ingest_rule = Rule.from_dict({"rule_id": "late", "name": "Late", "description": "d", "type": "eql",
                                  "language": "eql", "risk_score": 21, "severity": "low",
                                  "query": 'process where process.name == "cmd.exe"', "from": "now-6m",
                                  "timestamp_override": "event.ingested"})
    path = tmp_path / "events.ndjson"
    write_lines(path, [noise(0, T)])
    clock = ManualClock(T)
    with AlertStore(tmp_path / "s.db") as store:
        watcher, _ = _watcher(store, [path], clock, rules=(SEED, ingest_rule))
        watcher.cycle()
        clock.instant = T + 3 * MINUTE
        write_lines(path, chain(1, T - 120 * MINUTE), mode="ab")  # two hours old, read now
        watcher.cycle()
        clock.instant = T + 5 * MINUTE
        watcher.cycle()
        alerts = store.select()
        assert [a["kibana.alert.rule.rule_id"] for a in alerts] == ["late"]
        assert alerts[0]["event"]["ingested"] == iso(T + 3 * MINUTE)


def test_a_failing_rule_is_recorded_retried_and_does_not_stop_the_others(tmp_path: Path) -> None:
    broken = Rule.from_dict({**SEED.to_dict(), "rule_id": "broken", "name": "Broken"})

    def executor(rules: Sequence[Rule], schema: Schema | None) -> Executor:
        if rules[0].rule_id == "broken":
            raise RuntimeError("out of memory")
        return default_executor(rules, schema)

    path = tmp_path / "events.ndjson"
    write_lines(path, chain(1, T - MINUTE))
    clock = ManualClock(T)
    with AlertStore(tmp_path / "s.db") as store:
        runners = [RuleRunner(broken, None, executor=executor), RuleRunner(SEED, Schema.ecs())]
        watcher, _ = _watcher(store, [path], clock, runners=runners)
        watcher.cycle()
        clock.instant = T + 5 * MINUTE
        watcher.cycle()
        assert [(rule, status) for rule, _, status, _ in _records(store)] == [
            ("broken", "failed"), (SEED.rule_id, "succeeded"), ("broken", "failed"), (SEED.rule_id, "succeeded")]
        assert select_records(store.connection, LogQuery(statuses=("failed",)))[0].message == \
            "RuntimeError: out of memory"
        assert rule_states(store.connection)[runners[0].rule_uuid].failures == 2
        assert store.count() == 3


def test_a_restart_resumes_without_rerunning_or_rereading(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    write_lines(path, chain(1, T - MINUTE))
    clock = ManualClock(T)
    with AlertStore(tmp_path / "s.db") as store:
        first, _ = _watcher(store, [path], clock)
        first.cycle()
        first.tailer.close()
        write_lines(path, chain(2, T + MINUTE), mode="ab")
        second, _ = _watcher(store, [path], clock)
        assert second.cycle()  # it reads the new lines, and no run is due yet
        assert second.summary.events == 2 and second.summary.executions == 0
        clock.instant = T + 5 * MINUTE
        second.cycle()
        assert [written for *_, written in _records(store)] == [3, 3]


def test_buffered_events_are_pruned_once_no_window_can_reach_them(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    write_lines(path, [noise(n, T - 60 * MINUTE + n * MINUTE) for n in range(70)])
    clock = ManualClock(T)
    with AlertStore(tmp_path / "s.db") as store:
        watcher, _ = _watcher(store, [path], clock)
        watcher.cycle()
        assert watcher.state.buffered() == 70 - (60 - 5)  # kept: from T - 5 min (the earliest later window)


def test_an_uninterrupted_watch_writes_what_the_replay_computes(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_ndjson(DemoConfig(seed=4, events=4000, hosts=4, true_chains=8, rate_per_host=4000 / (4 * 1800)), buffer)
    lines = buffer.getvalue().splitlines(keepends=True)
    times = [ms(orjson.loads(line)["@timestamp"]) for line in lines]
    steps = [(times[0] // (5 * MINUTE) + 1) * 5 * MINUTE]
    while steps[-1] < times[-1]:
        steps.append(steps[-1] + 5 * MINUTE)
    path = tmp_path / "live.ndjson"
    path.touch()
    clock = ManualClock(steps[0])
    written = 0
    with AlertStore(tmp_path / "watch.db") as store:
        watcher, _ = _watcher(store, [path], clock)
        for instant in steps:
            upto = bisect.bisect_right(times, instant + MINUTE)  # a little of the future is already there
            with open(path, "ab") as handle:
                handle.write(b"".join(lines[written:upto]))
            written, clock.instant = upto, instant
            watcher.cycle()
        watched = {a["kibana.alert.uuid"]: a for a in store.select(AlertQuery(building_blocks=True))}
        log = [(r.started, r.matches, r.written, r.duplicates) for r in reversed(select_records(store.connection))]
    events = list(read_events([str(path)], SourceStats(), index_from_file_name=False))
    expected = replay([SEED], events, schema=Schema.ecs(), start=steps[0], end=steps[-1])
    assert watched == {a["kibana.alert.uuid"]: a for a in expected.alerts} and len(watched) >= 30
    assert log == [(r.started, r.matches, r.written, r.duplicates) for r in expected.records]
