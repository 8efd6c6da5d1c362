"""``eqlite run --replay``: a day of data, a burst past max_signals, a paused scheduler.

Every expectation is computed here from Kibana's documented algorithm
(``tests.scheduler.helpers.expected_runs``) and the generator's ground truth, never by the code
under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from eqlite.cli.main import main
from eqlite.demo import DemoConfig, GroundTruth, write_ndjson
from tests.scheduler.helpers import MINUTE, chain, chain_of, expected_runs, iso, ms, shells, write_lines

DAY_EVENTS = 12_000
START = ms("2024-05-14T08:00:00Z")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    path = tmp_path_factory.mktemp("day") / "day.ndjson"
    config = DemoConfig(seed=11, events=DAY_EVENTS, hosts=4, true_chains=24, rate_per_host=DAY_EVENTS / (4 * 86_400))
    return path, write_ndjson(config, path, envelopes=True)


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["run", "--replay", "--format", "ndjson", "--alerts", "-", *argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def _log(capsys: pytest.CaptureFixture[str], store: Path, *argv: str) -> list[dict[str, Any]]:
    assert main(["executions", "list", "--store", str(store), "--format", "json", "--limit", "0", *argv]) == 0
    return list(reversed([json.loads(line) for line in capsys.readouterr().out.splitlines()]))


def test_a_day_replay_gives_the_alerts_of_kibanas_algorithm(
        capsys: pytest.CaptureFixture[str], day: tuple[Path, GroundTruth], tmp_path: Path) -> None:
    path, truth = day
    times = [ms(orjson.loads(line)["_source"]["@timestamp"]) for line in path.read_bytes().splitlines()]
    first, last = min(times), max(times)
    assert last - first > 23 * 60 * MINUTE
    starts = [first]
    while starts[-1] < last:
        starts.append(starts[-1] + 5 * MINUTE)
    chains = {c.network_event_id: (ms(c.network_timestamp), ms(c.child_timestamp))
              for c in truth.chains if c.expected_match}
    runs, alerted = expected_runs(chains, starts)

    store = tmp_path / "replay.db"
    code, alerts, _ = _replay(capsys, str(path), "--store", str(store), "--quiet")
    assert code == 0
    found = {chain_of(alerts, shell): shell["@timestamp"] for shell in shells(alerts)}
    expected = {(c.network_event_id, c.child_event_id): iso(alerted[c.network_event_id])
                for c in truth.chains if c.expected_match}
    assert found == expected and len(expected) >= 30
    uuids = [alert["kibana.alert.uuid"] for alert in alerts]
    assert len(uuids) == len(set(uuids)) == 3 * len(expected)

    log = _log(capsys, store)
    assert len(log) == len(runs) > 280
    assert [(entry["started"], entry["window"]["gte"], entry["matches"], entry["written"], entry["duplicates"])
            for entry in log] == [(iso(run.started), iso(run.windows[-1][0]), run.matches, run.written,
                                   run.duplicates) for run in runs]
    assert sum(run.duplicates for run in runs) > 0  # overlapping windows re-found chains, and wrote nothing twice
    assert {entry["status"] for entry in log} == {"succeeded"}


def test_a_burst_of_150_chains_in_one_window(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "burst.ndjson"
    at = {n: START + 5 * MINUTE + n * 1600 for n in range(150)}  # 08:05:00 to 08:08:58.4
    write_lines(path, [doc for n in range(150) for doc in chain(n, at[n])])
    store = tmp_path / "burst.db"
    code, alerts, _ = _replay(capsys, str(path), "--store", str(store), "--start", iso(START),
                              "--end", iso(START + 20 * MINUTE), "--quiet")
    assert code == 0
    runs, alerted = expected_runs({f"net-{n}": (t, t + 1000) for n, t in at.items()},
                                  [START + k * 5 * MINUTE for k in range(5)])
    log = _log(capsys, store)
    assert [(e["matches"], e["written"], e["duplicates"]) for e in log] == [
        (run.matches, run.written, run.duplicates) for run in runs]
    burst = log[2]
    assert (burst["started"], burst["matches"], burst["written"]) == ("2024-05-14T08:10:00.000Z", 150, 300)
    assert burst["status"] == "partial failure"
    assert burst["warnings"] == ["This rule reached the maximum alert limit for the rule execution. "
                                 "Some alerts were not created."]
    created_in_burst = [s for s in shells(alerts) if s["@timestamp"] == "2024-05-14T08:10:00.000Z"]
    assert len(created_in_burst) == 100
    assert {chain_of(alerts, s)[0] for s in created_in_burst} == {f"net-{n}" for n in range(100)}
    assert (log[3]["written"], log[3]["duplicates"], log[3]["status"]) == (38 * 3, 62 * 3, "partial failure")
    assert {chain_of(alerts, s)[0] for s in shells(alerts)} == set(alerted) and len(alerted) == 138


def test_a_paused_scheduler_catches_up_then_records_a_gap(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    path = tmp_path / "pause.ndjson"
    at = {1: START + 56 * MINUTE + 30_000, 2: START + 62 * MINUTE, 3: START + 75 * MINUTE, 4: START + 98 * MINUTE}
    write_lines(path, [doc for n in sorted(at) for doc in chain(n, at[n])])
    store = tmp_path / "pause.db"
    code, alerts, err = _replay(capsys, str(path), "--store", str(store), "--start", iso(START),
                                "--pause", "2024-05-14T09:00:00Z/30m")
    assert code == 0
    starts = [START + k * 5 * MINUTE for k in range(12)] + [START + 90 * MINUTE + k * 5 * MINUTE for k in range(3)]
    runs, alerted = expected_runs({f"net-{n}": (t, t + 1000) for n, t in at.items()}, starts)
    assert sorted(alerted) == ["net-2", "net-3", "net-4"]
    assert sorted(chain_of(alerts, s)[0] for s in shells(alerts)) == sorted(alerted)
    log = _log(capsys, store)
    assert [e["started"] for e in log] == [iso(t) for t in starts]
    resumed = log[12]
    assert [(w["gte"], w["lte"]) for w in resumed["windows"]] == [(iso(a), iso(b)) for a, b in runs[12].windows]
    assert resumed["status"] == "failed" and resumed["gap_duration_ms"] == 6 * MINUTE
    assert resumed["gap_range"] == {"gte": "2024-05-14T08:55:00.000Z", "lte": "2024-05-14T09:01:00.000Z"}
    assert "6 minutes (360000ms) were not queried" in resumed["message"]
    assert "+4 catch-up" in err and "failed: 6 minutes (360000ms) were not queried" in err
    assert log[13]["status"] == "succeeded" and len(log[13]["windows"]) == 1


def test_the_execution_log_is_utc_unless_a_zone_is_given(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    path = tmp_path / "one.ndjson"
    write_lines(path, chain(1, START))
    _, _, utc = _replay(capsys, str(path), "--no-store", "--start", iso(START))
    _, alerts, paris = _replay(capsys, str(path), "--no-store", "--start", iso(START), "--tz", "Europe/Paris")
    assert "2024-05-14T08:00:00.000Z" in utc and "+02:00" not in utc
    assert "2024-05-14 10:00:00.000+02:00" in paris
    assert alerts[0]["@timestamp"] == "2024-05-14T08:05:00.000Z"  # documents stay in UTC


def test_replay_options_are_checked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "one.ndjson"
    write_lines(path, chain(1, START))
    assert main(["run", "--replay", "--now", "2024-01-01T00:00:00Z", "--no-store", str(path)]) == 2
    assert "--now does not apply" in capsys.readouterr().err
    assert main(["run", "--start", "2024-01-01T00:00:00Z", "--no-store", str(path)]) == 2
    assert "need --replay" in capsys.readouterr().err
    assert main(["run", "--replay", "--pause", "2024-01-01T00:00:00Z", "--no-store", str(path)]) == 2
    assert "START/DURATION" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--replay", "--tz", "Nowhere/Land", str(path)])
