"""``eqlite run``: alerts per true chain, determinism, the store, index visibility, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest

from eqlite.alerts import AlertStore
from eqlite.cli.main import main
from eqlite.demo import DemoConfig, write_ndjson

NOW = "2024-06-01T00:00:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]], list[object]]:
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "events.ndjson"
    truth = write_ndjson(DemoConfig(seed=3, events=5000, hosts=6, true_chains=5, decoys=True), path)
    decoys = [chain for chain in truth.chains if not chain.expected_match]
    return path, truth.expected_sequences(), decoys


def _alerts(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["run", "--no-store", "--quiet", "--format", "ndjson", "--alerts", "-", "--now", NOW, *argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_one_shell_and_two_building_blocks_per_true_chain(
        capsys: pytest.CaptureFixture[str], demo: tuple[Path, list[tuple[str, str]], list[object]]) -> None:
    path, expected, decoys = demo
    code, alerts, _ = _alerts(capsys, str(path))
    assert code == 0
    shells = [a for a in alerts if a.get("kibana.alert.group.index") is None]
    blocks = [a for a in alerts if a.get("kibana.alert.group.index") is not None]
    assert len(shells) == len(expected) and len(blocks) == 2 * len(expected)
    chains = set()
    for shell in shells:
        members = sorted((b for b in blocks if b["kibana.alert.group.id"] == shell["kibana.alert.group.id"]),
                         key=lambda b: b["kibana.alert.group.index"])  # type: ignore[arg-type,return-value]
        assert [m["event"]["category"] for m in members] == [["network"], ["process"]]  # type: ignore[index]
        assert all(m["kibana.alert.building_block_type"] == "default" for m in members)
        chains.add((members[0]["event"]["id"], members[1]["event"]["id"]))  # type: ignore[index]
    assert chains == set(expected)
    for decoy in decoys:
        assert (decoy.network_event_id, decoy.child_event_id) not in chains  # type: ignore[attr-defined]


def test_alert_fields_follow_the_seed_rule(capsys: pytest.CaptureFixture[str],
                                           demo: tuple[Path, list[tuple[str, str]], list[object]]) -> None:
    _, alerts, _ = _alerts(capsys, str(demo[0]))
    shell = next(a for a in alerts if a.get("kibana.alert.group.index") is None)
    assert shell["kibana.alert.severity"] == "high"
    assert shell["kibana.alert.risk_score"] == 73
    assert shell["kibana.alert.rule.version"] == 3
    assert shell["kibana.alert.rule.rule_id"] == "51ce96fb-9e52-4dad-b0ba-99b54440fc9a"
    threat = shell["kibana.alert.rule.threat"][0]  # type: ignore[index]
    assert threat["tactic"]["id"] == "TA0008"
    assert threat["technique"][0]["id"] == "T1021"
    assert threat["technique"][0]["subtechnique"][0]["id"] == "T1021.003"
    assert "Lateral Movement" in shell["kibana.alert.rule.tags"]  # type: ignore[operator]
    assert str(shell["kibana.alert.reason"]).endswith("created high alert Incoming DCOM Lateral Movement with MMC.")
    assert shell["event.kind"] == "signal" and shell["@timestamp"] == "2024-06-01T00:00:00.000Z"


def test_same_now_gives_byte_identical_output(demo: tuple[Path, list[tuple[str, str]], list[object]],
                                              tmp_path: Path) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    for out in (first, second):
        assert main(["run", "--no-store", "--quiet", "--alerts", str(out), "--now", NOW, str(demo[0])]) == 0
    assert first.read_bytes() == second.read_bytes() and first.stat().st_size > 0


def test_fast_and_reference_engines_write_the_same_alerts(
        demo: tuple[Path, list[tuple[str, str]], list[object]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.cli import run_cmd

    monkeypatch.setattr(run_cmd, "ALERT_BATCH", 2)  # documents read back, and let go, two hits at a time
    outputs = []
    for engine in ("fast", "reference"):
        out = tmp_path / f"{engine}.ndjson"
        assert main(["run", "--no-store", "--quiet", "--engine", engine, "--alerts", str(out), "--now", NOW,
                     str(demo[0])]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") >= 3


def test_rerun_into_store_adds_nothing(capsys: pytest.CaptureFixture[str],
                                       demo: tuple[Path, list[tuple[str, str]], list[object]], tmp_path: Path) -> None:
    store = tmp_path / "alerts.db"
    assert main(["run", "--store", str(store), "--now", NOW, "--format", "ndjson", str(demo[0])]) == 0
    with AlertStore(str(store)) as opened:
        count = opened.count()
    assert count == 3 * len(demo[1])
    assert main(["run", "--store", str(store), "--now", "2024-07-01T00:00:00Z", str(demo[0])]) == 0
    assert "0 alerts written" in capsys.readouterr().err
    with AlertStore(str(store)) as opened:
        assert opened.count() == count


def test_unwritable_store_fails_before_any_work(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["run", "--store", str(tmp_path / "missing" / "x.db"), str(tmp_path / "none.ndjson")])
    assert code == 1
    assert "missing" in capsys.readouterr().err


def _event(index: str | None, category: str = "process") -> dict[str, object]:
    source: dict[str, object] = {"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": category},
                                 "process": {"name": "x.exe"}}
    return {"_index": index, "_id": f"id-{index}", "_source": source} if index else source


def test_rules_see_only_events_of_their_indices(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rule = tmp_path / "rule.ndjson"
    rule.write_text(json.dumps({
        "rule_id": "r1", "name": "Any process", "description": "d", "type": "eql", "language": "eql",
        "query": "process where true", "index": ["logs-endpoint.events.*"], "risk_score": 1, "severity": "low",
    }) + "\n")
    events = tmp_path / "events.ndjson"
    events.write_text("".join(json.dumps(e) + "\n" for e in (
        _event("logs-endpoint.events.process-default"), _event("winlogbeat-8"), _event(None))))
    code, alerts, _err = _alerts(capsys, "--rules", str(rule), str(events))
    assert code == 0
    assert len(alerts) == 2  # the endpoint event and the event with no known index
    code = main(["run", "--no-store", "--rules", str(rule), "--now", NOW, str(events)])
    assert "1 events had no known index" in capsys.readouterr().err


def test_data_stream_fields_give_the_index(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rule = tmp_path / "rule.ndjson"
    rule.write_text(json.dumps({
        "rule_id": "r1", "name": "Any process", "description": "d", "type": "eql", "language": "eql",
        "query": "process where true", "index": ["winlogbeat-*"], "risk_score": 1, "severity": "low",
    }) + "\n")
    events = tmp_path / "events.ndjson"
    source = _event(None)
    source["data_stream"] = {"type": "logs", "dataset": "endpoint.events.process", "namespace": "default"}
    events.write_text(json.dumps(source) + "\n")
    code, alerts, _ = _alerts(capsys, "--rules", str(rule), str(events))
    assert code == 0 and alerts == []


def test_broken_rule_is_reported_and_others_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                demo: tuple[Path, list[tuple[str, str]], list[object]]) -> None:
    rules = tmp_path / "rules.ndjson"
    good = {"rule_id": "ok", "name": "Network", "description": "d", "type": "eql", "language": "eql",
            "query": "network where true | head 1", "risk_score": 1, "severity": "low"}
    bad = dict(good, rule_id="bad", name="Bad", query="network where x = 1")
    rules.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    code, alerts, err = _alerts(capsys, "--rules", str(rules), str(demo[0]))
    assert code == 1
    assert "rule 'Bad'" in err and "ParseError" in err
    assert alerts and all(a["kibana.alert.rule.name"] == "Network" for a in alerts)


def test_malformed_lines_are_counted_and_the_run_goes_on(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text("not json\n" + json.dumps(_event(None, "network")) + "\n")
    code = main(["run", "--no-store", "--now", NOW, str(events)])
    err = capsys.readouterr().err
    assert code == 0
    assert f"{events}:1: error: not valid JSON" in err


def test_table_shows_the_first_alerts_and_says_how_many_more(
        demo: tuple[Path, list[tuple[str, str]], list[object]], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from eqlite.cli import run_cmd

    monkeypatch.setattr(run_cmd, "TABLE_ROWS", 2)
    out = tmp_path / "all.ndjson"
    assert main(["run", "--no-store", "--alerts", str(out), "--format", "table", "--now", NOW, str(demo[0])]) == 0
    captured = capsys.readouterr()
    shells = [line for line in out.read_text().splitlines() if '"kibana.alert.group.index"' not in line]
    assert len(shells) >= 5
    assert f"{len(shells) - 2} more alerts not shown" in captured.err
    assert captured.out.count("└ ") == 2  # each shown shell keeps its building blocks


def test_workers_write_the_same_alerts(demo: tuple[Path, list[tuple[str, str]], list[object]], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.scheduler import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 1 << 20)
    split, cut_here = parallel.split, []
    monkeypatch.setattr(parallel, "split", lambda *args, **kwargs: cut_here.append(args) or split(*args, **kwargs))
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"{workers}.ndjson"
        assert main(["run", "--no-store", "--quiet", "--workers", workers, "--alerts", str(out), "--now", NOW,
                     str(demo[0])]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") >= 3
    assert not cut_here  # cut into ranges by a forked process while the rules were built (parallel.Presplit)


def _pool_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules.ndjson"
    common = {"description": "d", "type": "eql", "language": "eql", "risk_score": 1, "severity": "low"}
    rules.write_text("".join(json.dumps(dict(common, rule_id=name, name=name, query=query)) + "\n" for name, query in (
        ("Process", "process where true"),  # an event rule: hits read from the candidate files when asked
        ("Network", "network where true"))))
    return rules


# threshold 14: the seed rule's 13 sequences are built in the parent, the pool starts at the next rule
@pytest.mark.parametrize(("output", "threshold"),
                         [("file", 1), ("store", 1), ("table", 1), ("stdout", 1), ("file", 14), ("table", 14)])
def test_alerts_built_in_worker_processes_are_those_one_process_builds(
        output: str, threshold: int, demo: tuple[Path, list[tuple[str, str]], list[object]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from eqlite.cli import alert_pool, run_cmd

    monkeypatch.setattr(run_cmd, "PARALLEL_MIN_HITS", threshold)
    monkeypatch.setattr(alert_pool, "POOL_BATCH", 7)
    monkeypatch.setattr(run_cmd, "TABLE_ROWS", 5)
    built: list[int] = []  # the alerts of each batch built by worker processes
    real_next = alert_pool.AlertPool._next

    def next_batch(self: alert_pool.AlertPool[object]) -> tuple[object, alert_pool.BuiltBatch]:
        tag, batch = real_next(self)
        built.append(len(batch.uuids))
        return tag, batch

    monkeypatch.setattr(alert_pool.AlertPool, "_next", next_batch)
    rules = _pool_rules(tmp_path)
    results = []
    for workers in ("1", "2"):
        target = {"file": ["--no-store", "--alerts", str(tmp_path / f"{workers}.ndjson")],
                  "store": ["--store", str(tmp_path / f"{workers}.db"), "--alerts", str(tmp_path / f"{workers}.db")],
                  "table": ["--no-store", "--format", "table"],
                  "stdout": ["--no-store", "--format", "ndjson", "--alerts", "-"]}[output]
        code = main(["run", "--rules", "builtin", "--rules", str(rules), "--workers", workers, "--now", NOW,
                     *target, str(demo[0])])
        captured = capsys.readouterr()
        summary = [line for line in captured.err.splitlines() if "events in" not in line]
        if output == "file":
            kept: object = (tmp_path / f"{workers}.ndjson").read_bytes()
        elif output == "store":
            with sqlite3.connect(tmp_path / f"{workers}.db") as db:
                kept = (db.execute("SELECT * FROM alerts ORDER BY rowid").fetchall(),
                        db.execute("SELECT * FROM rule_values ORDER BY digest").fetchall())
        else:
            kept = captured.out
        results.append((code, kept, summary))
        if workers == "1":
            assert not built  # one process: no pool
    assert built and sum(built) > 100  # the second run built its alerts in worker processes
    if output == "file":  # with threshold 14, the seed rule's alerts were built in the parent
        lines = cast(bytes, results[0][1]).splitlines()
        seed = sum(b'"kibana.alert.rule.name":"Incoming DCOM' in line for line in lines)
        assert seed == 39 and sum(built) == len(lines) - (seed if threshold == 14 else 0)
    assert results[0] == results[1]
    assert results[0][0] == 0
    if output == "table":  # the shown sequence shells come with their building blocks
        assert "└ " in str(results[0][1])


def test_an_error_in_a_worker_process_stops_the_run_and_publishes_nothing(
        demo: tuple[Path, list[tuple[str, str]], list[object]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from eqlite.alerts import AlertBuilder
    from eqlite.cli import run_cmd

    monkeypatch.setattr(run_cmd, "PARALLEL_MIN_HITS", 1)
    parent = os.getpid()

    def fail(self: AlertBuilder, hits: object) -> object:
        raise RuntimeError(f"cannot build, in process {os.getpid()}")

    monkeypatch.setattr(AlertBuilder, "build_all", fail)
    target = tmp_path / "alerts.ndjson"
    target.write_bytes(b"previous\n")
    with pytest.raises(RuntimeError, match="cannot build, in process") as raised:
        main(["run", "--rules", str(_pool_rules(tmp_path)), "--workers", "2", "--no-store", "--quiet",
              "--alerts", str(target), "--now", NOW, str(demo[0])])
    assert str(parent) not in str(raised.value)  # raised in a worker, given back to the parent
    assert target.read_bytes() == b"previous\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alerts.ndjson", "rules.ndjson"]
