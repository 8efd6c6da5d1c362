"""The measurement protocol: specs, worker output, /proc status, and in-process runs on tiny files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from enginebench.engines import EngineRef
from enginebench.measure import RESULT_MARK, RuleSource, Spec, parse_status, parse_worker_output, run_spec

from eqlite.demo import DemoConfig, write_ndjson


def test_spec_round_trips_through_json() -> None:
    spec = Spec(EngineRef("fast", "pkg:run"), "50", RuleSource(("a", "b"), paths=("x.toml", "y.toml")),
                ("events.ndjson",), None)
    assert Spec.from_json(spec.to_json()) == spec
    floor = Spec(EngineRef("floor", "floor"), None, None, ("e.ndjson",), "out.prof")
    assert Spec.from_json(floor.to_json()) == floor


def test_parse_worker_output_takes_the_last_result_line() -> None:
    stdout = f"warning: x\n{RESULT_MARK}{{\"run_s\": 1}}\nmore noise\n{RESULT_MARK}{{\"run_s\": 2}}\n"
    assert parse_worker_output(stdout) == {"run_s": 2}


def test_parse_worker_output_without_result() -> None:
    with pytest.raises(ValueError, match="no BENCH-RESULT line"):
        parse_worker_output("Traceback ...\n")


def test_parse_status_reads_kib_fields_only() -> None:
    text = "Name:\tpython3\nState:\tR (running)\nVmPeak:\t  300 kB\nVmHWM:\t 2048 kB\nThreads:\t1\n"
    assert parse_status(text) == {"VmPeak": 300, "VmHWM": 2048}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "tiny.ndjson"
    write_ndjson(DemoConfig(seed=3, events=400, hosts=2, true_chains=1, decoys=False), path)
    return path


@pytest.mark.parametrize("floor", ["floor", "floor-2w"])
def test_floor_run_in_process(tiny: Path, tmp_path: Path, floor: str) -> None:
    result = run_spec(Spec(EngineRef(floor, floor), None, None, (str(tiny),)))
    assert (result["events"], result["bytes"], result["hits"]) == (400, tiny.stat().st_size, {})
    if floor == "floor-2w":  # every line once, however the cut falls (a line at most, and a file of one line)
        one = tmp_path / "one.ndjson"
        one.write_bytes(b'{"a": 1}\n')
        assert run_spec(Spec(EngineRef(floor, floor), None, None, (str(one), str(tiny))))["events"] == 401
    assert result["peak_rss_kib"] >= result["rss_ready_kib"] > 0
    orjson.dumps(result)  # what the worker prints must be JSON


@pytest.mark.parametrize("engine", ["eqlite", "eqlite-fast", "eql", "eqlite-cli"])
def test_seed_rule_finds_the_planted_chain(tiny: Path, engine: str) -> None:
    source = RuleSource(("51ce96fb-9e52-4dad-b0ba-99b54440fc9a",), builtin=True)
    result = run_spec(Spec(EngineRef(engine, engine), "seed", source, (str(tiny),)))
    assert (result["events"], result["rules"], result["rejected"]) == (400, 1, {})
    assert result["hits"] == {"51ce96fb-9e52-4dad-b0ba-99b54440fc9a": 1}


def test_rule_source_reports_missing_rules(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="not-there"):
        RuleSource(("not-there",), builtin=True).load()
