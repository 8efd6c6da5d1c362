"""Windows, catch-up and gaps of a run (detection-engine.md §3.2), and the range field of a rule."""

from __future__ import annotations

from eqlite.rules import Rule, load_builtin_rules
from eqlite.scheduler.schedule import RangeField, RuleSchedule, Window
from tests.scheduler.helpers import MINUTE

SEED = RuleSchedule.of(load_builtin_rules()[0])
T = 1_000 * MINUTE


def _rule(**fields: object) -> Rule:
    return Rule.from_dict({"rule_id": "r", "name": "n", "description": "d", "type": "eql", "language": "eql",
                           "query": "any where true", "risk_score": 1, "severity": "low", **fields})


def test_seed_rule_runs_every_5_minutes_over_9() -> None:
    assert (SEED.interval, SEED.look_back) == (5 * MINUTE, 9 * MINUTE)
    plan = SEED.plan(T, T - 5 * MINUTE)
    assert plan.windows == (Window(T - 9 * MINUTE, T),) and plan.gap == 0 and plan.gap_range is None


def test_first_run_has_no_gap() -> None:
    assert SEED.plan(T, None).windows == (Window(T - 9 * MINUTE, T),)


def test_late_run_within_look_back_needs_no_catch_up() -> None:
    assert SEED.plan(T, T - 9 * MINUTE).catch_up == 0


def test_late_run_gets_catch_up_windows_with_the_same_overlap() -> None:
    plan = SEED.plan(T, T - 12 * MINUTE)  # gap 3 min: one extra window
    assert plan.windows == (Window(T - 14 * MINUTE, T - 5 * MINUTE), Window(T - 9 * MINUTE, T))
    assert (plan.gap, plan.remaining_gap, plan.gap_range) == (3 * MINUTE, 0, None)


def test_thirty_minute_pause_gives_four_catch_up_windows_and_a_six_minute_gap() -> None:
    previous = T - 35 * MINUTE
    plan = SEED.plan(T, previous)
    assert plan.catch_up == 4
    assert plan.windows[0] == Window(T - 29 * MINUTE, T - 20 * MINUTE)
    assert plan.gap == 26 * MINUTE and plan.remaining_gap == 6 * MINUTE
    assert plan.gap_range == Window(previous, previous + 6 * MINUTE)


def test_windows_are_inclusive_at_both_ends() -> None:
    window = Window(10, 20)
    assert [window.contains(t) for t in (9, 10, 20, 21)] == [False, True, True, False]


def test_retention_is_the_earliest_instant_any_later_run_searches() -> None:
    previous = T
    earliest = SEED.retention(previous)
    for late_by in range(0, 120 * MINUTE, MINUTE):
        plan = SEED.plan(previous + 5 * MINUTE + late_by, previous)
        assert plan.windows[0].start >= earliest


def test_to_offsets_shift_windows() -> None:
    schedule = RuleSchedule.of(_rule(interval="10m", **{"from": "now-20m", "to": "now-2m"}))
    assert schedule.window(T) == Window(T - 20 * MINUTE, T - 2 * MINUTE)


def test_range_field_prefers_the_override_and_falls_back_to_timestamp() -> None:
    field = RangeField.of(_rule(timestamp_override="event.ingested"))
    assert field == RangeField("event.ingested", "@timestamp")
    assert field.instant({"@timestamp": "2024-05-14T08:00:00Z", "event": {"ingested": "2024-05-14T09:00:00Z"}}) == \
        1715677200000
    assert field.instant({"@timestamp": "2024-05-14T08:00:00Z"}) == 1715673600000
    strict = RangeField.of(_rule(timestamp_override="event.ingested", timestamp_override_fallback_disabled=True))
    assert strict.instant({"@timestamp": "2024-05-14T08:00:00Z"}) is None
    assert RangeField.of(_rule()) == RangeField()


def test_range_instants_are_milliseconds() -> None:
    assert RangeField().instant({"@timestamp": "2024-05-14T08:00:00.999999Z"}) == 1715673600999
    assert RangeField().instant({"@timestamp": 1715673600123}) == 1715673600123
    assert RangeField().instant({"message": "no time"}) is None
