"""Aggregation and ratios: best of K, throughput ratios, cost of more rules, result disagreements."""

from __future__ import annotations

from typing import Any

from enginebench.report import Measurement, disagreements, render_table, rule_cost, throughput_ratios, work_rows


def _run(run_s: float, hits: dict[str, int] | None = None, rejected: dict[str, str] | None = None,
         peak_kib: int = 1000, rules: int = 2) -> dict[str, Any]:
    return {"run_s": run_s, "cpu_s": run_s, "setup_s": 0.5, "bytes": 3_000_000, "events": 1_000,
            "peak_rss_kib": peak_kib, "hits": hits or {}, "rejected": rejected or {}, "rules": rules}


def test_best_is_the_fastest_run_and_rss_the_largest() -> None:
    m = Measurement("eqlite", "all", 1_000, [_run(3.0, peak_kib=5_000), _run(2.0, peak_kib=4_000)])
    assert (m.run_s, m.events_per_s, m.mb_per_s) == (2.0, 500.0, 1.5)
    assert m.peak_rss_mb == 5_000 * 1024 / 1e6


def test_events_default_to_the_file_count() -> None:
    run = _run(2.0)
    run["events"] = None
    assert Measurement("fast", "all", 4_000, [run]).events_per_s == 2_000.0


def test_ratios_and_rule_cost() -> None:
    measurements = [
        Measurement("floor", None, 1_000, [_run(0.1)]),
        Measurement("eqlite", "seed", 1_000, [_run(1.0)]),
        Measurement("eql", "seed", 1_000, [_run(0.5)]),
        Measurement("eqlite", "all", 1_000, [_run(100.0)]),
        Measurement("eql", "all", 1_000, [_run(25.0)]),
    ]
    table = {(r["workload"], r["engine"], r["versus"]): r["ratio"] for r in throughput_ratios(measurements)}
    assert table[("seed", "eqlite", "eql")] == 0.5
    assert table[("all", "eqlite", "floor")] == 0.001
    assert table[("all", "eql", "eqlite")] == 4.0
    assert [(row["engine"], row["slowdown"], row["slowdown_cpu"]) for row in rule_cost(measurements)] == [
        ("eqlite", 100.0, 100.0), ("eql", 50.0, 50.0)]


def test_disagreements_skip_rules_either_engine_rejected() -> None:
    left = Measurement("eqlite", "w", 1, [_run(1, {"a": 2, "b": 1, "c": 5}, rules=3)])
    right = Measurement("eql", "w", 1, [_run(1, {"a": 2, "b": 4}, {"c": "compile: unknown function"}, rules=3)])
    result = disagreements(left, right)
    assert result["both_ran"] == 2
    assert result["differing"] == [{"rule_id": "b", "eqlite": 1, "eql": 4}]


def test_render_table_aligns_numbers_right() -> None:
    text = render_table(["engine", "events/s", "note"], [["eqlite", 12_345.6, None], ["eql", 0.05, "x"]])
    assert text.splitlines() == ["| engine | events/s | note |", "|---|---:|---|",
                                 "| eqlite | 12,346 | - |", "| eql | 0.050 | x |"]


def test_cpu_basis_uses_cpu_time() -> None:
    busy = _run(4.0)
    busy["cpu_s"] = 1.0  # another job held the core for three seconds of the four
    measurements = [Measurement("eqlite", "w", 1_000, [busy]), Measurement("eql", "w", 1_000, [_run(2.0)])]
    by_basis = {r["basis"]: r["ratio"] for basis in ("wall", "cpu") for r in throughput_ratios(measurements, basis)
                if r["engine"] == "eqlite"}
    assert by_basis == {"wall": 0.5, "cpu": 2.0}


def test_measurement_round_trips_through_its_dict() -> None:
    m = Measurement("eqlite", "w", 1_000, [_run(3.0, {"a": 1}), _run(2.0, {"a": 1})])
    again = Measurement.from_dict(m.to_dict())
    assert (again.run_s, again.cpu_s, again.hits, again.peak_rss_mb) == (2.0, 2.0, {"a": 1}, m.peak_rss_mb)
    summary = {key: value for key, value in m.to_dict().items() if key != "runs"}
    assert Measurement.from_dict(summary).events_per_s == m.events_per_s


def test_work_rows_come_from_the_best_runs_counts() -> None:
    slow, fast = _run(2.0), _run(1.0)
    slow["notes"] = {"lines": 1_000, "parsed": 1_000, "skipped_unparsed": 0, "evaluated_stages": 2_000}
    fast["notes"] = {"lines": 1_000, "parsed": 700, "skipped_unparsed": 50, "noted_unparsed": 250,
                     "evaluated_stages": 1_500}
    older = _run(1.0)
    older["notes"] = {"lines": 1_000, "parsed": 900, "skipped_unparsed": 100}  # before the counts it lacks
    rows = work_rows([Measurement("fast", "all", 1_000, [slow, fast]), Measurement("eql", "all", 1_000, [_run(9.0)]),
                      Measurement("old", "all", 1_000, [older])])
    assert rows == [["fast", "all", 1_000, 70.0, 25.0, 5.0, 1.5], ["old", "all", 1_000, 90.0, None, 10.0, None]]
