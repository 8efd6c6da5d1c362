"""The fast path gives exactly the reference engine's results (differential tests)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eqlite.demo import DemoConfig, write_ndjson
from eqlite.errors import QueryError
from eqlite.plan.prefilter import key_literals
from eqlite.rules import Rule, load_builtin_rules, load_rules
from eqlite.runtime.search import EventHit, SearchResult
from eqlite.scheduler import fast as fast_module
from eqlite.scheduler.executor import Execution, RuleRun
from eqlite.scheduler.fast import SAMPLE_LINES, FastExecution, read_sample, run_paths
from eqlite.semantic.schema import Schema
from eqlite.sources.base import SourceStats
from eqlite.sources.reader import read_events
from tests.conformance import harness
from tests.conftest import SHARED, shared_path

CONFORMANCE = SHARED / "eql-conformance" / "elasticsearch"


def _signature(run: RuleRun) -> Any:
    if run.result is None:
        return (run.status, run.error)
    hits = []
    for hit in run.result.hits:
        events = [hit.event] if isinstance(hit, EventHit) else hit.events  # type: ignore[union-attr]
        hits.append(tuple((e.id, json.dumps(e.source, sort_keys=True)) if e else None for e in events))
    return hits


def _reference(rules: list[Rule], schema: Schema | None, path: Path) -> list[RuleRun]:
    execution = Execution.of(rules, schema)
    for record in read_events([str(path)], SourceStats(), index_from_file_name=False):
        execution.feed(record)
    return execution.finish()


_LAST_BUDGET_SPILLS: list[int] = []


def _fast(rules: list[Rule], schema: Schema | None, path: Path) -> list[RuleRun]:
    execution = FastExecution(rules, schema, read_sample([str(path)]))
    run_paths(execution, [str(path)], SourceStats())
    _LAST_BUDGET_SPILLS.append(execution.budget.spills)
    return execution.finish()


def _rule(number: int, query: str, tiebreaker: str | None) -> Rule:
    data = {"rule_id": f"q{number}", "name": f"q{number}", "description": "d", "type": "eql", "language": "eql",
            "query": query, "risk_score": 1, "severity": "low"}
    if tiebreaker:
        data["tiebreaker_field"] = tiebreaker
    return Rule.from_dict(data)


@pytest.mark.parametrize("dataset_name,files", [
    ("endgame", ["test_queries.toml", "additional_test_queries.toml"]),
    ("extra", ["test_extra.toml"]),
    ("missing-events", ["test_missing_events.toml"]),
    ("sample-multi", ["test_sample_multi.toml"]),
])
def test_conformance_queries_agree(dataset_name: str, files: list[str], tmp_path: Path) -> None:
    if not CONFORMANCE.exists():
        pytest.skip(f"needs {CONFORMANCE}")
    data = harness.dataset(CONFORMANCE, dataset_name)
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(document) + "\n" for document in data.documents))
    rules = []
    for file in files:
        for spec in harness.load_specs(CONFORMANCE / file):
            try:
                rules.append(_rule(len(rules), spec.query, data.tiebreaker))
            except QueryError:
                continue
    reference = _reference(rules, data.schema, path)
    fast = _fast(rules, data.schema, path)
    assert sum(1 for run in reference if run.status == "ok") >= 9
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fast") / "events.ndjson"
    write_ndjson(DemoConfig(seed=5, events=6000, hosts=6, true_chains=5, decoys=True), path)
    return path


# Corpus rules that fire on the generated data (discovery commands, the MMC20 chains), so that
# differential tests compare real hits.
FIRING = ("e0881d20-54ac-457f-8733-fe0bc5d44c55",
          "c4e9ed3e-55a2-4309-a012-bc3c78dad10a", "51176ed2-2d90-49f2-9f3d-17196428b169",
          "4982ac3e-d0ee-4818-b95d-d9522d689259", "089db1af-740d-4d84-9a5b-babd6de143b0")


def _corpus_rules(limit: int | None = None) -> list[Rule]:
    root = shared_path("datasets", "detection-rules")
    rules = [r for r in load_rules([str(root / "rules"), str(root / "rules_building_block")]).rules
             if r.is_active and r.language == "eql"]
    if limit is None:
        return rules
    # The rules that see the generated Windows endpoint data come first.
    firing = [r for r in rules if r.rule_id in FIRING]
    endpoint = [r for r in rules if any("logs-endpoint.events" in pattern for pattern in r.index or ())]
    return (firing + [r for r in endpoint if r not in firing])[:limit]


def test_demo_with_builtin_rule_agrees(demo_file: Path) -> None:
    rules = list(load_builtin_rules())
    reference, fast = _reference(rules, Schema.ecs(), demo_file), _fast(rules, Schema.ecs(), demo_file)
    assert _signature(fast[0]) == _signature(reference[0]) and _signature(fast[0])


@pytest.fixture(scope="module")
def small_demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fast") / "small.ndjson"
    write_ndjson(DemoConfig(seed=9, events=3712, hosts=4, true_chains=4, decoys=True), path)
    return path


@pytest.mark.slow
def test_demo_with_every_endpoint_rule_agrees(small_demo_file: Path) -> None:
    rules = _corpus_rules(700)
    reference, fast = _reference(rules, Schema.ecs(), small_demo_file), _fast(rules, Schema.ecs(), small_demo_file)
    assert sum(len(_signature(run)) for run in reference if run.result) > 0
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.name


def test_unsorted_input_and_spilled_candidates_agree(small_demo_file: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lines = small_demo_file.read_bytes().splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    shuffled = tmp_path / "shuffled.ndjson"
    shuffled.write_bytes(b"".join(lines))
    rules = _corpus_rules(120)
    reference = _reference(rules, Schema.ecs(), small_demo_file)
    budget = fast_module.Budget
    monkeypatch.setattr(fast_module, "Budget", lambda: budget(limit=8))  # the data hold about 50 candidates
    fast = _fast(rules, Schema.ecs(), shuffled)
    assert _LAST_BUDGET_SPILLS[-1] > 10
    for ours, theirs in zip(fast, reference, strict=True):
        if ours.result is None:
            continue
        # Shuffling changes line numbers and so generated ids: compare documents, in order.
        assert [[item[1] for item in hit if item] for hit in _signature(ours)] == \
            [[item[1] for item in hit if item] for hit in _signature(theirs)], ours.rule.name
    assert any(run.result and run.result.hits for run in reference)


def test_free_stages_tried_together_or_one_by_one_agree(small_demo_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Free stages (no selective literal) run in one generated function per combination of index and
    categories; past FREE_COMBINATIONS_COMPILED they are tried one by one. Both match what each
    stage's own filter says."""
    rules = _corpus_rules()
    lines = small_demo_file.read_bytes().splitlines()
    # (with every category checked, few stages of the corpus are free on this data: more are made free)
    monkeypatch.setattr(fast_module, "TRIGGER_MAX", 0.02)
    execution = FastExecution(rules, Schema.ecs(), lines[:500])
    assert execution.stats.free_stages >= 10
    free_refs = {ref for refs in execution._free.values() for ref in refs}
    held = tried = 0
    for compiled in (True, False):
        monkeypatch.setattr(fast_module, "FREE_COMBINATIONS_COMPILED", 1_000 if compiled else 0)
        monkeypatch.setattr(fast_module, "GENERATE_AFTER", 1)
        execution._free_runners.clear()
        for line in lines[:1500]:
            document = json.loads(line)
            view = fast_module.EventView(document)
            index = fast_module.data_stream_index(document)
            visible = execution._visible_rules(index)
            runner = execution._free_runner(view, index, visible)
            met = [ref for ref in free_refs if ref[0] in visible and _categories_allow(execution, ref, view)]
            deferred = [ref for ref in met if execution._rules[ref[0]].deferring
                        and ref[1] in execution._rules[ref[0]].deferred_stages]
            expected = sorted(ref for ref in met if ref not in deferred
                              and execution._rules[ref[0]].bound.filters[ref[1]](view))
            assert sorted(runner.run(view)) == expected
            noted = runner.noting.deferred if runner.noting is not None else []
            assert sorted((rule, stage) for rule, bits in noted for stage in range(bits.bit_length())
                          if bits >> stage & 1) == sorted(deferred)
            held += len(expected)
            tried += runner.size
    assert 0 < held < tried


def _categories_allow(execution: FastExecution, ref: tuple[int, int], view: Any) -> bool:
    """Whether an event's categories are among those the free stage ``ref`` was filed under."""
    for key, refs in execution._free.items():
        if ref in refs and (key is None or key[1] in execution._category_readers[key[0]](view)):
            return True
    return False


@pytest.mark.slow
def test_demo_with_every_active_rule_agrees(demo_file: Path) -> None:
    rules = _corpus_rules()
    reference, fast = _reference(rules, Schema.ecs(), demo_file), _fast(rules, Schema.ecs(), demo_file)
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.name


@pytest.mark.parametrize("block_bytes", [1, 700, 1 << 20])
@pytest.mark.parametrize("layout", ["crlf", "blank-lines", "no-final-newline", "gzip"])
def test_block_scanning_keeps_lines_ids_and_results(demo_file: Path, tmp_path: Path, block_bytes: int,
                                                    layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines skipped a block at a time: numbering, offsets, counts and ids are those of line-by-line reading."""
    import gzip

    lines = demo_file.read_bytes().splitlines()[:1500]
    if layout == "crlf":
        data = b"".join(line + b"\r\n" for line in lines)
    elif layout == "blank-lines":
        data = b"".join(line + (b"\n\n  \t\n" if number % 7 == 0 else b"\n") for number, line in enumerate(lines))
        data = b"\n \n" + data
    elif layout == "no-final-newline":
        data = b"\n".join(lines)
    else:
        data = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / ("events.ndjson.gz" if layout == "gzip" else "events.ndjson")
    path.write_bytes(data)
    rules = list(load_builtin_rules())
    monkeypatch.setattr(fast_module, "BLOCK_BYTES", block_bytes)
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.scans_blocks
    stats = SourceStats()
    run_paths(execution, [str(path)], stats)
    fast = execution.finish()
    reference = _reference(rules, Schema.ecs(), path)
    assert execution.stats.lines == len(lines) == stats.file(str(path)).events
    assert execution.stats.skipped > len(lines) // 2
    assert _signature(fast[0]) == _signature(reference[0]) and _signature(fast[0])


EDGE_EVENTS = [
    {"process": {"name": 123, "args": [True, "x"]}, "file": {"name": "-5"}},
    {"process": {"name": "MMC.EXE", "args": ["/c", "whoami"]}, "file": {"name": "true"}},
    {"process": {"name": "cmd.exe", "command_line": "mmc.exe -Embedding"}, "file": {"name": False}},
    {"process": {"name": "C:\\Windows\\mmc.exe"}, "file": {"name": 1.5}},
    {"process": {"name": "  padded.exe "}, "file": {"name": "a\"quote\""}},
    {"process": {"name": "x.exe", "args": ["-y", -7]}, "file": {"name": -7.5}},
]
EDGE_QUERIES = [
    'any where process.name == "123"', 'any where process.name : "12*"', 'any where process.name : "*23"',
    'any where process.args == "true"', 'any where process.args : "tr*"', 'any where file.name : "*ue"',
    'any where file.name == "false"', 'any where file.name : "*alse"', 'any where file.name : "-5"',
    'any where file.name == "1.5"', 'any where process.name : "mmc.exe"', 'any where process.name == "mmc.exe"',
    'any where process.name : "*mmc.exe"', 'any where startsWith(process.name, "c:")',
    'any where process.name : "*padded.exe "', 'any where file.name : "a\\"quote\\""',
    'any where process.name in~ ("MMC.exe", "CMD.EXE")', 'any where process.name like~ "mmc.*"',
    'any where process.name regex~ "mm[c]\\\\.exe"', 'any where process.name regex "123"',
    'any where process.args == "-7"', 'any where process.args : "-7*"', 'any where file.name : "-7.5"',
    'any where process.args : "-y"', 'any where process.args == "-y"',
    'any where length(process.command_line) > 3', 'any where length(file.name) != 100',
    'any where 2 < length(process.args)', 'any where length(?file.path) == 0',
    'any where file.name regex~ "tru."', 'any where process.name regex~ "c:\\\\\\\\win.*"',
]


def test_quoted_literals_never_skip_unquoted_scalars(tmp_path: Path) -> None:
    """Literals with quotes are not required where a keyword holds a JSON number or boolean."""
    path = tmp_path / "edge.ndjson"
    path.write_text("".join(json.dumps({"@timestamp": f"2024-01-01T00:00:0{n}Z", "event": {"category": ["process"]},
                                        **event}) + "\n" for n, event in enumerate(EDGE_EVENTS)))
    rules = [_rule(number, query, None) for number, query in enumerate(EDGE_QUERIES)]
    reference, fast = _reference(rules, Schema.ecs(), path), _fast(rules, Schema.ecs(), path)
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query
    assert sum(len(_signature(run)) for run in reference) >= 10


def test_a_caseless_character_is_found_raw_and_escaped(tmp_path: Path) -> None:
    """A pattern with no ASCII run, only a right-to-left override, is triggered by the character written
    as it is (UTF-8) or as a \\u escape, and never skips a line either way."""
    rtlo = "\u202e"
    names = [f"x{rtlo}gpj.exe", f"ab{rtlo}", rtlo, "plain.exe", "\u212a.exe"]
    lines = []
    for number, name in enumerate(names * 2):
        event = {"@timestamp": f"2024-01-01T00:00:{number:02}Z", "event": {"category": ["process"]},
                 "process": {"name": name}}
        lines.append(json.dumps(event, ensure_ascii=number < len(names)))
        lines.extend(json.dumps({"@timestamp": "2024-01-01T00:01:00Z", "event": {"category": ["process"]},
                                 "process": {"name": f"p{n}.exe"}}) for n in range(20))
    path = tmp_path / "rtlo.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    queries = ['any where process.name : "*\\u{202E}*"', 'any where process.name == "\\u{202E}"',
               'any where process.name in~ ("AB\\u{202E}", "zz.exe")', 'any where process.name like "x\\u{202E}*"']
    rules = [_rule(number, query, None) for number, query in enumerate(queries)]
    reference, fast = _reference(rules, Schema.ecs(), path), _fast(rules, Schema.ecs(), path)
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query
    assert [len(_signature(run)) for run in reference] == [6, 2, 2, 2]
    assert {rtlo, "\\u202e"} <= set(FastExecution(rules, Schema.ecs(), read_sample([str(path)]))._literals)


KEY_EVENTS = [
    {"process": {"pid": 7, "parent": {"pid": 3}}, "source": {"ip": "10.0.0.1", "port": 80}},
    {"process.pid": 8, "process": {"parent.pid": 4}, "destination.ip": "192.168.1.5"},
    {"process": [{"pid": 9}, {"parent": [{"pid": 5}]}], "dns": {"question": {"name": None}}},
    {"Process": {"PID": 10}, "dns.question": {"name": "x.example"}, "b": {"c": 2}},
    {"user": {"name": "root"}, "dns": {"question.name": "y.example"}, "b.c": 5, "tag": "other"},
    {"labels": {"env": "prod"}, "nested": {"deep": {"leaf": [1, 2]}}},
    {"process": {"parent": {"Ext": {"real": {"pid": 11}}}}},
    {"process.parent.Ext.real.pid": 12, "process": {"parent": {"Ext": {"user": "x"}}}},
    {"process": {"parent.Ext": {"real.pid": 13}}},
    {"process": [{"parent": {"Ext": [{"real": {"pid": 15}}, {"other": 1}]}}]},
    {"process": {"PARENT": {"ext": {"REAL": {"pid": 14}}}}},
]
KEY_QUERIES = [
    "any where process.pid > 6", "any where process.parent.pid == 3", "any where process.parent.pid >= 4",
    "any where process.parent != null", "any where dns.question != null",
    "any where process.pid != null", "any where dns.question.name != null", 'any where dns.question.name : "*.example"',
    'any where cidrMatch(source.ip, "10.0.0.0/8") or cidrMatch(destination.ip, "192.168.0.0/16")',
    "any where source.port in (80, 443)", 'any where labels.env == "prod"', "any where nested.deep.leaf == 2",
    "any where alias_of_bc > 1", 'any where constant == "fixed"', 'any where constant == "fixed" and b.c == 2',
    'any where process.pid == 9 and dns.question.name == null', 'any where user.name regex~ "ro+t"',
    "any where process.parent.Ext.real.pid > 10", "any where process.parent.Ext.real.pid == 13",
]


def test_key_literals_never_skip_a_field_written_any_way(tmp_path: Path) -> None:
    """A line is skipped for a missing field only when the field's keys are not in it: fields written nested,
    dotted at any level, in arrays of objects, in another case, behind an alias, or given by a constant."""
    path = tmp_path / "keys.ndjson"
    filler = [{"host": {"name": f"h{n}"}, "message": "pid process dns source"} for n in range(30)]
    events = [event for key_event in KEY_EVENTS for event in (key_event, *filler)]  # keys rare in the sample
    path.write_text("".join(json.dumps({"@timestamp": f"2024-01-01T00:{n // 60:02}:{n % 60:02}Z",
                                        "event": {"category": ["process"]}, **event}) + "\n"
                            for n, event in enumerate(events)))
    mapping = {"properties": {"alias_of_bc": {"type": "alias", "path": "b.c"},
                              "b": {"properties": {"c": {"type": "long"}}},
                              "constant": {"type": "constant_keyword", "value": "fixed"}}}
    schema = Schema.merge(Schema.ecs(), Schema.from_mapping(mapping))
    rules = [_rule(number, query, None) for number, query in enumerate(KEY_QUERIES)]
    reference, fast = _reference(rules, schema, path), _fast(rules, schema, path)
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query
    assert sum(len(_signature(run)) for run in reference) >= 15
    # Keys were the literals chosen (the alias's target's, not the alias's), and no constant's value
    literals = set(FastExecution(rules, schema, read_sample([str(path)]))._literals)
    for name in ("process.pid", "dns.question.name", "source.port", "labels.env", "nested.deep.leaf", "b.c"):
        assert set(key_literals(name)) & literals, name
    assert {"ext", "real"} & literals  # a middle part: rarer than the first and last here
    assert not any("alias_of_bc" in literal or "fixed" in literal for literal in literals)


def test_damaged_lines_are_reported_even_when_skipped(demo_file: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lines = demo_file.read_bytes().splitlines()[:400]
    damaged = {10: lines[10][:57], 20: b"[1, 2]", 30: b"garbage", 40: lines[40] + b"x"}
    path = tmp_path / "damaged.ndjson"
    path.write_bytes(b"".join(damaged.get(number, line) + b"\n" for number, line in enumerate(lines)))
    monkeypatch.setattr(fast_module, "BLOCK_BYTES", 5000)
    rules = list(load_builtin_rules())
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    stats = SourceStats()
    run_paths(execution, [str(path)], stats)
    reference_stats = SourceStats()
    list(read_events([str(path)], reference_stats, index_from_file_name=False))
    assert [(p.position, p.message.split(":")[0]) for p in stats.problems] == \
        [(p.position, p.message.split(":")[0]) for p in reference_stats.problems]
    assert [p.position for p in stats.problems] == [11, 21, 31, 41]
    assert stats.events == reference_stats.events == 396


def test_directory_walk_skips_what_the_reference_reader_skips(demo_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "events.ndjson").write_bytes(b"".join(demo_file.read_bytes().splitlines(True)[:300]))
    (folder / "README.md").write_text("# Recordings\n- one\n")
    (folder / "empty.ndjson").write_bytes(b"")
    execution = FastExecution(list(load_builtin_rules()), Schema.ecs(), read_sample([str(folder)]))
    stats = SourceStats()
    run_paths(execution, [str(folder)], stats)
    reference = SourceStats()
    events = list(read_events([str(folder)], reference, index_from_file_name=False))
    assert [str(problem) for problem in stats.problems] == [str(problem) for problem in reference.problems]
    assert len(stats.problems) == 2 and stats.events == len(events) == 300


# Small background recordings on which Windows rules fire (event rules and sequences).
FIRING_RECORDINGS = [
    "evtx-attack-samples/Credential Access/remote_sam_registry_access_via_backup_operator_priv.evtx",
    "evtx-attack-samples/Execution/sysmon_mshta_sharpshooter_stageless_meterpreter.evtx",
    "evtx-attack-samples/Persistence/sysmon_1_persist_bitsjob_SetNotifyCmdLine.evtx",
    "evtx-attack-samples/Execution/exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx",
    "evtx-attack-samples/Privilege Escalation/samaccount_spoofing_CVE-2021-42287_CVE-2021-42278_DC_securitylogs.evtx",
    "evtx-attack-samples/Execution/temp_scheduled_task_4698_4699.evtx",
    "evtx-attack-samples/Credential Access/tutto_malseclogon.evtx",
    "evtx-attack-samples/Privilege Escalation/privesc_sysmon_cve_20201030_spooler.evtx",
]


def _events_read_by_the_parent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Windows event files the parent reads itself (not its workers), as it reads them."""
    read_here: list[str] = []
    real_feed = fast_module.feed_events

    def feed(execution: FastExecution, path: str, *args: Any) -> None:
        read_here.append(path)
        real_feed(execution, path, *args)

    monkeypatch.setattr(fast_module, "feed_events", feed)
    return read_here


@pytest.mark.parametrize("workers", [1, 2])
def test_windows_records_meet_the_same_rules(workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed records (EVTX) go through the literal prefilter as JSON, with the reference engine's results;
    with two workers, each file is read and mapped by one of them (with the same counts and problems)."""
    from eqlite.scheduler import parallel

    background = shared_path("datasets", "background")
    files = sorted(str(path) for path in shared_path("datasets", "attack").rglob("*.evtx"))
    files += [str(background / name) for name in FIRING_RECORDINGS]
    damaged = tmp_path / "damaged.evtx"  # its first chunk's header wiped: a problem reported
    data = Path(files[0]).read_bytes()
    damaged.write_bytes(data[:0x1000] + bytes(5000) + data[0x1000 + 5000:])
    files.insert(3, str(damaged))
    rules = [rule for rule in _corpus_rules() if "windows" in " ".join(rule.index or ()).lower()
             or "logs-endpoint" in " ".join(rule.index or ())]
    reference = Execution.of(rules, Schema.ecs())
    reference_stats = SourceStats()
    for record in read_events(files, reference_stats, index_from_file_name=False):
        reference.feed(record)
    expected = reference.finish()
    monkeypatch.setattr(parallel, "MIN_EVENT_BYTES", 0)
    read_here = _events_read_by_the_parent(monkeypatch)
    execution = FastExecution(rules, Schema.ecs(), read_sample(files))
    stats = SourceStats()
    run_paths(execution, files, stats, workers=workers)
    assert bool(read_here) == (workers == 1)
    counts = {path: (f.format, f.records, f.events, f.errors, f.warnings, dict(f.unmapped))
              for path, f in stats.files.items()}
    assert counts == {path: (f.format, f.records, f.events, f.errors, f.warnings, dict(f.unmapped))
                      for path, f in reference_stats.files.items()}
    assert [str(problem) for problem in stats.problems] == [str(problem) for problem in reference_stats.problems]
    assert counts[str(damaged)][3] >= 1 and stats.events == reference.events
    every_stage = sum(len(run.compiled._stages) for run in execution.runs if run.compiled is not None)
    assert execution.stats.evaluated_stages < execution.stats.lines * every_stage / 20
    fast = execution.finish()
    for ours, theirs in zip(fast, expected, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.name
    assert sum(1 for run in expected if run.result and run.result.hits) >= 7


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("rule_set", ["builtin", "corpus"])
def test_workers_give_the_same_results(small_demo_file: Path, tmp_path: Path, workers: int, rule_set: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte ranges read by forked workers and merged: the same hits, ids, counts and problems as one reader."""
    from eqlite.scheduler import parallel

    lines = small_demo_file.read_bytes().splitlines(keepends=True)
    lines[100] = lines[100][:40] + b"\n"  # damaged
    lines[2000] = b"\n"  # blank
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(lines))
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", len(b"".join(lines)) // 7)
    rules = list(load_builtin_rules()) if rule_set == "builtin" else _corpus_rules(150)
    results = []
    for count in (1, workers):
        execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
        stats = SourceStats()
        run_paths(execution, [str(path)], stats, workers=count)
        assert bool(execution.spill_folders) == (count > 1)
        runs = execution.finish()
        # Which lines are parsed depends on when each range stops deferring stages: only the sum is fixed
        # (a damaged line is counted skipped when a block scan finds it, else only as a problem).
        counted = execution.stats
        accounted = counted.skipped + counted.parsed + counted.noted_only
        assert counted.lines - len(stats.problems) <= accounted <= counted.lines
        results.append(([_signature(run) for run in runs], [str(p) for p in stats.problems], stats.events,
                        counted.lines, execution.events_without_index))
        assert not execution.spill_folders
    assert results[0] == results[1]
    assert results[0][1] and any(results[0][0])


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_read_a_folder_of_small_files_as_one_reader_does(small_demo_file: Path, tmp_path: Path, workers: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Files too small to cut, read whole by the workers when those that follow one another add up to
    MIN_BYTES: the same hits, ids, problems and counts, file by file, as one reader. A compressed file
    (read in the parent) ends a run of them; a large one among them is cut into ranges."""
    import gzip

    from eqlite.scheduler import parallel

    lines = small_demo_file.read_bytes().splitlines(keepends=True)
    lines[150] = lines[150][:40] + b"\n"  # damaged
    folder = tmp_path / "logs"
    folder.mkdir()
    cuts = [0, 300, 900, 1000, 1300, 2800, 3000, len(lines)]
    names = ["a.ndjson", "b.ndjson", "c.ndjson.gz", "d.ndjson", "e.ndjson", "f.ndjson", "g.ndjson"]
    for name, start, end in zip(names, cuts, cuts[1:], strict=False):
        data = b"".join(lines[start:end])
        (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    (folder / "empty.ndjson").write_bytes(b"")
    sizes = {name: (folder / name).stat().st_size for name in names}
    # a and b together are worth the workers; so are d, e, f and g, and e is cut into ranges
    monkeypatch.setattr(parallel, "MIN_BYTES", sizes["a.ndjson"] + sizes["b.ndjson"])
    monkeypatch.setattr(parallel, "RANGE_BYTES", sizes["e.ndjson"] // 3)
    assert sizes["e.ndjson"] >= parallel.MIN_BYTES > max(sizes["a.ndjson"], sizes["b.ndjson"], sizes["d.ndjson"])
    fed_by_parent: list[str] = []
    real_feed = fast_module.feed_ndjson_file

    def feed(execution: FastExecution, path: str, *args: Any) -> None:
        fed_by_parent.append(Path(path).name)
        real_feed(execution, path, *args)

    monkeypatch.setattr(fast_module, "feed_ndjson_file", feed)
    rules = _corpus_rules(150)
    results = []
    for count in (1, workers):
        fed_by_parent.clear()
        execution = FastExecution(rules, Schema.ecs(), read_sample([str(folder / "a.ndjson")]))
        stats = SourceStats()
        run_paths(execution, [str(folder)], stats, workers=count)
        runs = execution.finish()
        files = {Path(path).name: (f.format, f.records, f.events, f.errors) for path, f in stats.files.items()}
        results.append(([_signature(run) for run in runs], [str(p) for p in stats.problems], stats.events,
                        execution.stats.lines, files))
        if count > 1:
            assert fed_by_parent == ["c.ndjson.gz"]
    assert results[0] == results[1]
    assert results[0][4]["a.ndjson"] == ("ndjson", 300, 299, 1)  # the damaged line: a problem, not an event
    assert results[0][4]["g.ndjson"][1] == len(lines) - 3000 and any(results[0][0])


def test_streamed_hits_read_in_batches_match_the_reference(small_demo_file: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """finish_each(hydrated=False), as eqlite run reads it: event rules' hits are read from the store a
    batch at a time (after spills), and give the reference engine's hits in its order."""
    from eqlite.scheduler.fast import StreamedHits

    rules = _corpus_rules(120)
    reference = _reference(rules, Schema.ecs(), small_demo_file)
    budget = fast_module.Budget
    monkeypatch.setattr(fast_module, "Budget", lambda: budget(limit=8))  # the data hold about 50 candidates
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(small_demo_file)]))
    run_paths(execution, [str(small_demo_file)], SourceStats())
    assert execution.budget.spills > 10
    streamed = 0
    for run, theirs in zip(execution.finish_each(hydrated=False), reference, strict=True):
        if run.result is None:
            assert _signature(run) == _signature(theirs)
            continue
        hits = run.result.hits
        streamed += isinstance(hits, StreamedHits) and len(hits) > 7
        batches = [hits[start:start + 7] for start in range(0, len(hits), 7)]
        read = [hit for batch in batches for hit in batch]
        assert len(read) == len(hits) == len(theirs.result.hits)  # type: ignore[union-attr]
        execution.hydrate(read)
        run.result = SearchResult(run.result.kind, read, run.result.stats)
        assert _signature(run) == _signature(theirs), run.rule.name
    assert streamed >= 3


def _deferral_file(tmp_path: Path) -> Path:
    """Broad network events first (later in time), then the rare process event that starts each sequence."""
    lines = []
    for number in range(400):
        lines.append({"@timestamp": f"2024-05-14T08:{10 + number // 60:02d}:{number % 60:02d}.000Z",
                      "event": {"category": ["network"], "action": "connection_attempted"},
                      "host": {"id": f"h{number % 4}"}, "destination": {"port": 443 + number % 3}})
    for host in range(3):  # h3 never starts one
        lines.append({"@timestamp": "2024-05-14T08:00:00.000Z", "event": {"category": ["process"]},
                      "host": {"id": f"h{host}"}, "process": {"name": "mmc.exe"}})
    path = tmp_path / "deferral.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


DEFERRAL_QUERIES = [
    'sequence by host.id with maxspan=1h [process where process.name == "mmc.exe"] '
    '[network where event.action == "connection_attempted"]',
    'sequence by host.id with maxspan=1h [process where process.name == "mmc.exe"] '
    '![network where destination.port == 444] [network where destination.port == 445]',
    'sequence by host.id [network where destination.port == 443] [process where process.name == "notepad.exe"]',
]


def test_a_check_is_kept_when_the_stages_it_spares_outweigh_its_literals_found(tmp_path: Path) -> None:
    """Each literal found costs the scan a callback: a check literal found in most lines is not looked
    for unless it spares a stage on many of them (CHECK_WORTH); the results do not change."""
    lines = []
    for number in range(1000):
        odd = number % 2 == 1  # "a.exe"; else "b.exe"
        lines.append({"@timestamp": f"2024-05-14T08:{number // 60 % 60:02d}:{number % 60:02d}.000Z",
                      "event": {"category": ["process"]}, "host": {"id": "h1"},
                      "process": {"name": "a.exe" if odd else "b.exe",
                                  # in 55% of lines, 10% of the "b.exe" ones
                                  "args": ["qq" if odd or number % 20 == 0 else "yy"]},
                      # in 90% of lines, 80% of the "a.exe" ones
                      "user": {"name": "other" if number % 10 == 9 else "svcacct"}})
    path = tmp_path / "checks.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = [_rule(0, 'process where process.name == "a.exe" and user.name == "svcacct"', None),
             _rule(1, 'process where process.name == "b.exe" and process.args == "qq"', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    literals = " ".join(execution._literals)
    assert "a.exe" in literals and "b.exe" in literals  # the triggers
    assert "qq" in literals  # found in 55% of lines, sparing a stage on 45%
    assert "svcacct" not in literals  # found in 90% of lines, sparing a stage on 10%
    run_paths(execution, [str(path)], SourceStats())
    reference = _reference(rules, Schema.ecs(), path)
    assert [len(run.result.hits) for run in reference if run.result] == [400, 50]
    for ours, theirs in zip(execution.finish(), reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


def test_category_values_are_told_whole_and_spare_lines_of_other_categories(tmp_path: Path) -> None:
    """Category values are looked for as whole values, each by its own pattern, even when a literal is
    written the same way (a literal is found in keys too). A free stage's categories say whether a line
    is noted for it; a triggered stage's, whether its trigger counts: the lines of other categories that
    hold the trigger are neither parsed nor tried."""
    lines = []
    for number in range(1000):
        network = number < 600
        user = "rareuser" if (number % 10 == 0 if network else number < 900) else "someone"
        lines.append({"@timestamp": f"2024-05-14T08:{10 + number // 60 % 40:02d}:{number % 60:02d}.000Z",
                      "event": {"category": ["network" if network else "process"]},
                      "host": {"id": f"h{number % 4}"}, "user": {"name": user},
                      "process": {"name": "other.exe"}, "network": {"transport": "tcp"}})
    for host in range(3):  # what makes the sequence rule read its notes again
        lines.append({"@timestamp": "2024-05-14T08:00:00.000Z", "event": {"category": ["process"]},
                      "host": {"id": f"h{host}"}, "process": {"name": "mmc.exe"}})
    path = tmp_path / "values.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = [_rule(0, 'sequence by host.id with maxspan=1h [process where process.name == "mmc.exe"] '
                      '[network where true]', None),
             _rule(1, 'network where user.name == "rareuser"', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.free_stages == 1 and execution.stats.deferring_rules == 1
    assert execution._scanner.values == ['"network"', '"process"']
    literals = len(execution._literals)
    assert execution._value_ids == {literals: "network", literals + 1: "process"}
    run_paths(execution, [str(path)], SourceStats())
    assert execution.stats.noted_only == 540  # the network lines the other rule does not trigger on
    # parsed: the 60 network lines of "rareuser" and the 3 of mmc.exe; the process lines (300 of them
    # with "rareuser", and a "network" key) are skipped unparsed
    assert (execution.stats.parsed, execution.stats.skipped) == (63, 400)
    reference = _reference(rules, Schema.ecs(), path)
    assert [len(run.result.hits) for run in reference if run.result] == [3, 60]
    for ours, theirs in zip(execution.finish(), reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


def _notes_held(execution: FastExecution) -> int:
    """The notes an execution holds in memory, counted from its backlogs and note groups."""
    return (sum(len(rule.backlog) for rule in execution._rules if rule.deferring)
            + sum(len(group.backlog) for group in execution._live_groups))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_line_noted_for_several_rules_is_held_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     workers: int) -> None:
    """Lines noted for the same stages of the same rules are noted once for all of them (a note group),
    with each rule's stages; each rule that reads them again gets its own."""
    from eqlite.scheduler import parallel

    path = _deferral_file(tmp_path)
    with path.open("a") as out:  # a fourth host whose sequences start after the others' ended
        out.write(json.dumps({"@timestamp": "2024-05-14T08:00:00.000Z", "event": {"category": ["process"]},
                              "host": {"id": "h3"}, "process": {"name": "mmc.exe"}}) + "\n")
    rules = [_rule(number, query, None) for number, query in enumerate(DEFERRAL_QUERIES[:2])]
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", path.stat().st_size // 5)
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    seen: list[tuple[int, int]] = []
    real_read = FastExecution._read_backlog

    def read_backlog(self: FastExecution, rule: Any, *args: Any) -> None:
        seen.append((rule.number, self._deferred_total))
        real_read(self, rule, *args)

    monkeypatch.setattr(FastExecution, "_read_backlog", read_backlog)
    run_paths(execution, [str(path)], SourceStats(), workers=workers)
    # both rules defer every network line (400): noted 800 times, held once each until a rule reads them
    assert execution.stats.deferred == 800
    assert seen and seen[0][1] == 400 if workers == 1 else seen
    assert execution._deferred_total == _notes_held(execution) == 0  # each rule read them: none held
    reference = _reference(rules, Schema.ecs(), path)
    for ours, theirs in zip(execution.finish(), reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


@pytest.mark.parametrize("limit", [fast_module.DEFER_LIMIT, 7])
@pytest.mark.parametrize("workers", [1, 2])
def test_deferred_stages_read_again_give_the_reference_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               limit: int, workers: int) -> None:
    """A sequence's broad stages wait for its selective one: lines noted before it matched are read again."""
    from eqlite.scheduler import parallel

    path = _deferral_file(tmp_path)
    rules = [_rule(number, query, None) for number, query in enumerate(DEFERRAL_QUERIES)]
    monkeypatch.setattr(fast_module, "DEFER_LIMIT", limit)
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", path.stat().st_size // 5)
    reference = _reference(rules, Schema.ecs(), path)
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.deferring_rules == 3
    run_paths(execution, [str(path)], SourceStats(), workers=workers)
    assert execution.stats.deferred > 0 and execution.stats.read_again > 0
    if workers == 1:  # notes past the limit written out (a worker evaluates them instead)
        assert (execution._backlog_file is not None) == (limit < 100)
    assert execution._deferred_total == _notes_held(execution)
    fast = execution.finish()
    assert execution._deferred_total == 0
    assert [len(run.result.hits) for run in reference if run.result] == [3, 1, 0]
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


@pytest.mark.parametrize("workers", [1, 2])
def test_lines_noted_unparsed_count_only_for_the_rules_that_see_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     workers: int) -> None:
    """A line whose every possible stage is deferred is noted without being parsed, for every rule whose
    stages it may meet: its data stream, which says which rules see it, is read when it is read again."""
    from eqlite.scheduler import parallel

    lines = []
    for number in range(400):  # broad events first (later in time), of two data streams
        dataset = "endpoint.events.network" if number % 2 else "other.network"
        lines.append({"@timestamp": f"2024-05-14T08:{10 + number // 60:02d}:{number % 60:02d}.000Z",
                      "event": {"category": ["network"], "action": "connection_attempted"},
                      "data_stream": {"type": "logs", "dataset": dataset, "namespace": "default"},
                      "host": {"id": f"h{number % 4}"}})
    for host in range(3):
        lines.append({"@timestamp": "2024-05-14T08:00:00.000Z", "event": {"category": ["process"]},
                      "data_stream": {"type": "logs", "dataset": "endpoint.events.process", "namespace": "default"},
                      "host": {"id": f"h{host}"}, "process": {"name": "mmc.exe"}})
    path = tmp_path / "streams.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = []
    for number, patterns in enumerate([["logs-endpoint.events.*"], ["logs-other.*", "logs-endpoint.events.*"]]):
        rule = _rule(number, DEFERRAL_QUERIES[0], None)
        rules.append(Rule.from_dict({**rule.to_dict(), "index": patterns}))
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", path.stat().st_size // 5)
    reference = _reference(rules, Schema.ecs(), path)
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    run_paths(execution, [str(path)], SourceStats(), workers=workers)
    assert execution.stats.noted_only >= 400 and execution.stats.read_again > 0
    fast = execution.finish()
    # Only h1 has endpoint connections: the first rule ends one sequence there; the second, which sees
    # both streams, ends each host's sequence with its first connection.
    ends = [[hit.events[1].source["data_stream"]["dataset"] for hit in run.result.hits]  # type: ignore[union-attr]
            for run in reference if run.result]
    assert ends == [["endpoint.events.network"], ["other.network", "endpoint.events.network", "other.network"]]
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.index


RUNNER_LIMITS = [(4096, 1024), (4096, 0), (0, 0), (2, 1)]  # (runners kept, of which generated after 1 use)


@pytest.mark.parametrize("kept,compiled", RUNNER_LIMITS)
def test_triggered_runners_give_the_reference_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      kept: int, compiled: int) -> None:
    """The stages a line's literals trigger run in one generated function per set of literals and index
    (closures past TRIGGERED_RUNNERS_COMPILED, one by one past TRIGGERED_RUNNERS_KEPT). A runner made
    while a rule deferred stages is dropped when the rule stops deferring them."""
    # Broad network events (a quarter of the lines: triggered, not free), the rare process events that
    # make the rules stop deferring them, then more broad events that come first in time: a runner
    # still deferring them would lose them.
    def network(minute: int, second: int, number: int) -> dict[str, Any]:
        return {"@timestamp": f"2024-05-14T08:{minute:02d}:{second:02d}.000Z",
                "event": {"category": ["network"], "action": "connection_attempted"},
                "host": {"id": f"h{number % 4}"}, "destination": {"port": 443 + number % 3}}

    lines = [{"@timestamp": "2024-05-14T07:00:00.000Z", "event": {"category": ["process"]},
              "host": {"id": "h9"}, "process": {"name": f"other{number}.exe"}} for number in range(600)]
    lines += [network(10 + number // 60, number % 60, number) for number in range(200)]
    lines += [{"@timestamp": "2024-05-14T08:00:00.000Z", "event": {"category": ["process"]},
               "host": {"id": f"h{host}"}, "process": {"name": "mmc.exe"}} for host in range(3)]
    lines += [network(5, number, number) for number in range(40)]
    path = tmp_path / "runners.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = [_rule(number, query, None) for number, query in enumerate(DEFERRAL_QUERIES)]
    monkeypatch.setattr(fast_module, "TRIGGERED_RUNNERS_KEPT", kept)
    monkeypatch.setattr(fast_module, "TRIGGERED_RUNNERS_COMPILED", compiled)
    monkeypatch.setattr(fast_module, "GENERATE_AFTER", 1)
    reference = _reference(rules, Schema.ecs(), path)
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.free_stages == 0
    run_paths(execution, [str(path)], SourceStats())
    assert execution.stats.deferred > 0 and execution.stats.read_again > 0
    assert [len(run.result.hits) for run in reference if run.result] == [3, 1, 0]
    for ours, theirs in zip(execution.finish(), reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


@pytest.mark.slow
@pytest.mark.parametrize("kept,compiled", RUNNER_LIMITS)
def test_triggered_runners_agree_with_many_rules(small_demo_file: Path, monkeypatch: pytest.MonkeyPatch,
                                                 kept: int, compiled: int) -> None:
    monkeypatch.setattr(fast_module, "TRIGGERED_RUNNERS_KEPT", kept)
    monkeypatch.setattr(fast_module, "TRIGGERED_RUNNERS_COMPILED", compiled)
    # GENERATE_AFTER as it is: runners switch to a generated function during the run
    rules = _corpus_rules(300)
    reference, fast = _reference(rules, Schema.ecs(), small_demo_file), _fast(rules, Schema.ecs(), small_demo_file)
    assert sum(len(_signature(run)) for run in reference if run.result) > 0
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.name


@pytest.mark.parametrize("seed", range(4))
def test_backlog_notes_come_back_in_order_from_memory_and_file(tmp_path: Path, seed: int) -> None:
    import random as _random

    rng = _random.Random(seed)
    expected = []
    backlog, other = fast_module.Backlog(), fast_module.Backlog()
    last_where: dict[int, tuple[str, str | None, int]] = {}  # by backlog: the place it was last noted in

    def note_or_add(target: Any, number: int, same_place: bool = False) -> None:
        path, index = rng.choice([("a.ndjson", None), ("b.ndjson", "logs-x")])
        # runs of lines at the same distance from their position, as a file read line by line gives
        position, line = number * 3 + rng.choice([0, 0, 0, 0, 1, 2]), number * 3
        if same_place:
            path, index, delta = last_where[id(target)]
            position = line + delta
        entry = (position, line, rng.randint(0, 1 << 40), path, index, rng.randint(1, (1 << 23) - 1))
        if not same_place and rng.random() < 0.5:
            target.add(entry[0], entry[1], entry[2], path, index, entry[5])
        else:  # the hot path's form: the same place object while it holds, or an equal new one
            where = (path, index, position - line)
            known = last_where.get(id(target))
            if known == where and (same_place or rng.random() < 0.8):
                where = known
            last_where[id(target)] = where
            target.note(position | entry[5] << 40, entry[2], where)
        expected.append(entry)

    with open(tmp_path / "spill", "w+b") as spill:
        for number in range(3000):
            note_or_add(backlog if number < 2000 else other, number, same_place=number in (501, 1501, 1999))
            if number in (500, 1500):
                backlog.spill(spill)
        note_or_add(other, 3000, same_place=True)
        backlog.extend(other)
        # the place noted last before the other's notes came in is not the last one now
        note_or_add(backlog, 3001, same_place=True)
        assert len(backlog) == 1501  # 499 since the second spill, 1,001 from the other, then one more
        assert list(backlog.entries()) == expected


def test_positions_too_large_for_a_note_are_evaluated_at_once(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = _deferral_file(tmp_path)
    rules = [_rule(number, query, None) for number, query in enumerate(DEFERRAL_QUERIES)]
    monkeypatch.setattr(fast_module, "NOTED_POSITIONS", 151)  # notes hold positions up to 150 only
    reference = _reference(rules, Schema.ecs(), path)
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    run_paths(execution, [str(path)], SourceStats())
    assert 0 < execution.stats.deferred <= 3 * 151  # positions 0 to 150, three rules; 1,200 without the cap
    fast = execution.finish()
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs), ours.rule.query


def test_triggered_stages_cached_by_literal_set_match_fresh_ones(small_demo_file: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The stages a set of literals triggers are worked out once; answers from the cache, across its
    clearing when full, are those worked out afresh."""
    monkeypatch.setattr(fast_module, "STAGES_FOUND_KEPT", 5)
    rules = _corpus_rules(200)
    cached = FastExecution(rules, Schema.ecs(), read_sample([str(small_demo_file)]))
    lines = small_demo_file.read_bytes().splitlines()[:400]
    seen = 0
    for line in lines:
        fresh = FastExecution.__new__(FastExecution)  # the same index, an empty cache
        fresh.__dict__.update(cached.__dict__)
        fresh._stages_found = {}
        first, second = cached._triggered(line), cached._triggered(line)
        assert first == fresh._triggered(line) == second
        assert len(cached._stages_found) <= 5
        seen += bool(first)
    assert seen > 100


@pytest.mark.parametrize("source,expected", [
    ({"data_stream": {"type": "logs", "dataset": "endpoint.events.process", "namespace": "default"}},
     "logs-endpoint.events.process-default"),
    ({"data_stream.type": "logs", "data_stream.dataset": "windows.sysmon", "data_stream.namespace": "x"},
     "logs-windows.sysmon-x"),
    ({"data_stream": {"type": "logs", "dataset": "", "namespace": "x"}}, None),
    ({"data_stream": {"type": "logs", "dataset": 5, "namespace": "x"}}, None),
    ({"data_stream": {"type": "logs", "namespace": "x"}}, None),
    ({"data_stream": "logs-a-b"}, None),
    ({}, None),
])
def test_data_stream_index_needs_three_non_empty_strings(source: dict[str, Any], expected: str | None) -> None:
    assert fast_module.data_stream_index(source) == expected


def test_a_query_that_fails_to_compile_is_reported_as_the_reference_reports_it(tmp_path: Path) -> None:
    # The fast path compiles only its own filters; what the reference's compiling would raise (a block
    # that is no CIDR block, found when the filter is compiled) must still stop that rule alone.
    rules = [_rule(0, 'process where process.name : "cmd.exe"', None),
             _rule(1, 'network where cidrMatch(source.ip, "10.0.0.0/8", "not-a-block")', None),
             _rule(2, 'sequence by host.id [process where true] [network where cidrMatch(source.ip, "10.0.0.0/8")]',
                   None)]
    path = tmp_path / "events.ndjson"
    events = [{"@timestamp": f"2024-01-01T00:00:0{n}Z", "event": {"category": [category]}, "host": {"id": "h"},
               "process": {"name": "cmd.exe"}, "source": {"ip": "10.1.2.3"}}
              for n, category in enumerate(["process", "network", "process", "network"])]
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    reference, fast = _reference(rules, Schema.ecs(), path), _fast(rules, Schema.ecs(), path)
    assert [run.status for run in fast] == ["ok", "error", "ok"]
    assert fast[1].error == reference[1].error
    assert "cidrMatch" in (fast[1].error or "") and "q1" in (fast[1].error or "")
    for ours, theirs in zip(fast, reference, strict=True):
        assert _signature(ours) == _signature(theirs)
    assert len(fast[0].result.hits) == 2 and len(fast[2].result.hits) == 2  # type: ignore[union-attr]


def test_building_the_rules_runs_no_garbage_collection(small_demo_file: Path) -> None:
    import gc

    collections: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    rules = list(load_builtin_rules()) + ([] if SHARED is None else _corpus_rules(100))
    schema, sample = Schema.ecs(), read_sample([str(small_demo_file)])
    gc.callbacks.append(counted)
    try:
        assert gc.isenabled()
        FastExecution(rules, schema, sample)
        during = collections[:]  # (copying allocates: the collection owed since the pause may run first)
        assert gc.isenabled()  # as it was
        gc.disable()
        FastExecution(rules[:1], schema)
        assert not gc.isenabled()  # as it was
    finally:
        gc.enable()
        gc.callbacks.remove(counted)
    # at most the one owed as the collector resumes, of whichever generation is due (some 20 without the pause)
    assert len(during) <= 1


def _four_files(demo: Path, tmp_path: Path) -> Path:
    """A folder of four NDJSON files, a to d, of 800 lines of ``demo`` each."""
    lines = demo.read_bytes().splitlines(keepends=True)
    folder = tmp_path / "logs"
    folder.mkdir()
    for number, name in enumerate("abcd"):
        (folder / f"{name}.ndjson").write_bytes(b"".join(lines[number * 800:(number + 1) * 800]))
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_fails_to_read_is_reported_and_the_others_go_on(small_demo_file: Path, tmp_path: Path,
                                                                     workers: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.scheduler import parallel

    folder = _four_files(small_demo_file, tmp_path)
    # none large enough to be cut into ranges, all of them together worth the workers
    monkeypatch.setattr(parallel, "MIN_BYTES", sum(path.stat().st_size for path in folder.iterdir()))
    real = fast_module.feed_ndjson

    def failing(execution: FastExecution, handle: Any, path: str, *args: Any) -> None:
        if path.endswith("b.ndjson"):
            raise OSError("the disk went away")
        real(execution, handle, path, *args)

    monkeypatch.setattr(fast_module, "feed_ndjson", failing)  # (the forked workers call it too)
    execution = FastExecution(_corpus_rules(60), Schema.ecs(), read_sample([str(folder)]))
    stats = SourceStats()
    run_paths(execution, [str(folder)], stats, workers=workers)
    assert bool(execution.spill_folders) == (workers > 1)
    execution.finish()
    assert [str(problem) for problem in stats.problems] == [
        f"{folder / 'b.ndjson'}: error: read failed: the disk went away"]
    counts = {Path(path).name: (f.records, f.events, f.errors) for path, f in stats.files.items()}
    assert counts == {"a.ndjson": (800, 800, 0), "b.ndjson": (0, 0, 1), "c.ndjson": (800, 800, 0),
                      "d.ndjson": (800, 800, 0)}


def test_workers_read_zip_archives_of_windows_events_as_one_reader_does(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Zip archives (security-datasets' JSON) among EVTX files, each read whole by a worker: the same hits,
    problems and counts as one reader, a damaged archive among them included."""
    from eqlite.scheduler import parallel

    archives = sorted((str(path) for path in shared_path("datasets").rglob("*.zip")), key=os.path.getsize)[:3]
    files = [*archives[:2], str(shared_path("datasets", "background") / FIRING_RECORDINGS[0]), archives[2]]
    rules = [rule for rule in _corpus_rules() if "windows" in " ".join(rule.index or ()).lower()][:200]
    monkeypatch.setattr(parallel, "MIN_EVENT_BYTES", 0)
    read_here = _events_read_by_the_parent(monkeypatch)
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(Path(archives[0]).read_bytes()[:-200])  # its central directory cut off
    inputs = [*files, str(damaged)]
    results = []
    for workers in (1, 2):
        read_here.clear()
        execution = FastExecution(rules, Schema.ecs())
        stats = SourceStats()
        run_paths(execution, inputs, stats, workers=workers)
        counts = {path: (f.format, f.records, f.events, f.errors, f.warnings, dict(f.unmapped))
                  for path, f in stats.files.items()}
        results.append(([_signature(run) for run in execution.finish()], [str(p) for p in stats.problems],
                        counts))
        assert read_here == ([] if workers == 2 else inputs)
    assert results[0] == results[1]
    assert sum(count[2] for count in counts.values()) > 5_000  # (an archive's events are counted by member)
    assert any(str(damaged) in problem for problem in results[0][1]) and any(results[0][0])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_cannot_be_opened_is_reported_and_the_others_are_read(small_demo_file: Path, tmp_path: Path,
                                                                          workers: int,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from eqlite.scheduler import parallel
    from eqlite.sources.windows import detect as windows_detect

    folder = _four_files(small_demo_file, tmp_path)
    monkeypatch.setattr(parallel, "MIN_BYTES", sum(path.stat().st_size for path in folder.iterdir()) // 2)
    real = windows_detect.detect_format

    def gone(path: str) -> str:  # as if the file went away after the folder was listed
        if str(path).endswith("b.ndjson"):
            raise FileNotFoundError(2, "No such file or directory")
        return real(path)

    monkeypatch.setattr("eqlite.sources.windows.detect_format", gone)
    execution = FastExecution(_corpus_rules(60), Schema.ecs(), read_sample([str(folder)]))
    stats = SourceStats()
    run_paths(execution, [str(folder)], stats, workers=workers)
    execution.finish()
    assert [str(problem) for problem in stats.problems] == [
        f"{folder / 'b.ndjson'}: error: cannot read: No such file or directory"]
    assert {Path(path).name: f.events for path, f in stats.files.items()} == {
        "a.ndjson": 800, "b.ndjson": 0, "c.ndjson": 800, "d.ndjson": 800}


def test_stages_tried_on_many_events_take_the_order_the_sample_says(tmp_path: Path) -> None:
    """Statically, ``not process.name : "*.exe"`` is guessed usually true and a term usually false; on
    these events the term always holds and the negation almost never does. The stage is generated
    again with the negation first, and gives the reference engine's results; a script's errors met
    while measuring are not the rule's."""
    lines = [{"@timestamp": f"2024-05-14T08:{number // 60:02d}:{number % 60:02d}.000Z",
              "event": {"category": ["process"], "type": ["start"]}, "host": {"os": {"type": "windows"}},
              "process": {"name": "run.bat" if number % 50 == 1 else f"p{number}.exe", "pid": number}}
             for number in range(1000)]
    path = tmp_path / "order.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = [_rule(0, 'process where host.os.type == "windows" and event.type == "start" and '
                      'not process.name : "*.exe" and 10 / (process.pid % 2) >= 0', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.ordered_stages == 1
    rule = execution._rules[0]
    expression = rule.generator.expression_of(rule.bound.filters[0])  # type: ignore[union-attr]
    assert expression is not None
    negation = expression.index("(not ")
    assert negation < expression.index("'host.os.type'") and negation < expression.index("'event.type'")
    assert rule.compiled.script_errors.count == 0  # the sample's divisions by zero were counted apart
    run_paths(execution, [str(path)], SourceStats())
    reference = _reference(rules, Schema.ecs(), path)
    ours = execution.finish()
    assert [len(run.result.hits) for run in reference if run.result] == [20]
    assert _signature(ours[0]) == _signature(reference[0])
    assert ours[0].result is not None and reference[0].result is not None
    assert ours[0].result.stats.script_errors == reference[0].result.stats.script_errors


def test_stages_tried_on_few_events_keep_the_static_order(small_demo_file: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rules, sample = _corpus_rules(), read_sample([str(small_demo_file)])
    assert FastExecution(rules, Schema.ecs(), sample).stats.ordered_stages > 0  # the share is what decides
    monkeypatch.setattr(fast_module, "ORDER_MIN_SHARE", 2.0)  # no stage is tried that often
    execution = FastExecution(rules, Schema.ecs(), sample)
    assert execution.stats.ordered_stages == 0


def test_a_number_check_spares_lines_without_the_number_and_never_one_written_otherwise(tmp_path: Path) -> None:
    """``destination.port == 445`` needs 445 in the line: lines of other ports are not parsed for the
    stage. Integer fields index strings, fractions (truncated) and exponents too, and a JSON escape
    can spell digits: every way of writing 445 below is found, as the reference engine finds it."""
    written = ['445', '445.0', '445.7', '"445"', '"+0445"', '4.45e2', '"4.45e2"', '444.99999999999999',
               '"\\u0034\\u0034\\u0035"', '0.445e3', '[80, 445]', '44.5E+1', '"0445"', '4450e-1 ', '[445 ]']
    # other numbers that hold 445's digits, and hexadecimal text that reads like an exponent: not 445
    others = ['1445', '4450', '"44500"', '44.5', '[80, 4451]', '"fe80::4e5:30e7:1"']
    lines = []
    for number in range(1000):
        smb = number % 10 < 3  # 300 lines trigger the stage; 700 are other network lines
        port = (written[number // 10 % len(written)] if smb and number % 70 == 0
                else others[number % len(others)] if smb else str(80 + number % 7))
        name = "smb.exe" if smb else "other.exe"
        lines.append(f'{{"@timestamp": "2024-05-14T08:{number // 60 % 60:02d}:{number % 60:02d}.000Z", '
                     f'"event": {{"category": ["network"]}}, "process": {{"name": "{name}"}}, '
                     f'"source": {{"ip": "fe80::8fe4:30e7:44de:fe48"}}, "destination": {{"port": {port}}}}}')
    for extra, port in enumerate(written):  # each way again, past the sample's lines
        lines.append(f'{{"@timestamp": "2024-05-14T09:00:{extra:02d}.000Z", "event": {{"category": ["network"]}}, '
                     f'"process": {{"name": "smb.exe"}}, "destination": {{"port": {port}}}}}')
    path = tmp_path / "numbers.ndjson"
    path.write_text("".join(line + "\n" for line in lines))
    rules = [_rule(0, 'network where process.name == "smb.exe" and destination.port == 445', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.number_checks == 1 and execution.stats.triggered_stages == 1
    run_paths(execution, [str(path)], SourceStats())
    reference = _reference(rules, Schema.ecs(), path)
    hits = [len(run.result.hits) for run in reference if run.result]
    assert hits == [len(written) + 15]  # the 15 ways, and the 15 lines among the first 1,000 that hold one
    # of the 315 lines of smb.exe, only those: none of the others (their numbers are not 445, their
    # addresses no exponent) is parsed
    assert execution.stats.parsed == len(written) + 15
    ours = execution.finish()
    assert _signature(ours[0]) == _signature(reference[0])


def test_a_number_check_counts_when_choosing_the_stage_of_a_sequence_to_evaluate_first(tmp_path: Path) -> None:
    """``[network where process.name == "smb.exe" and destination.port == 445]`` is triggered by as many
    lines as the first stage, but its number check spares most of them: it is tried on fewer lines, so
    it is the one evaluated first (the other deferred), and the results are the reference's."""
    lines = []
    for number in range(1200):
        second = f"2024-05-14T08:{number // 60 % 60:02d}:{number % 60:02d}"
        if number % 4 == 0:  # a process start of smb.exe, a quarter of the lines
            lines.append(f'{{"@timestamp": "{second}.000Z", "event": {{"category": ["process"], "type": ["start"]}}, '
                         f'"process": {{"name": "smb.exe", "entity_id": "p{number // 40}"}}}}')
        else:  # its connections (a quarter, to port 445 one time in 10), and other processes' (a half)
            port = 445 if number % 40 == 1 else 8000 + number % 50
            name = "smb.exe" if number % 4 == 1 else "other.exe"
            lines.append(f'{{"@timestamp": "{second}.500Z", "event": {{"category": ["network"]}}, "process": '
                         f'{{"name": "{name}", "entity_id": "p{number // 40}"}}, "destination": {{"port": {port}}}}}')
    path = tmp_path / "smb.ndjson"
    path.write_text("".join(line + "\n" for line in lines))
    rules = [_rule(0, 'sequence by process.entity_id with maxspan=1m '
                      '[process where process.name == "smb.exe"] '
                      '[network where process.name == "smb.exe" and destination.port == 445]', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    rule = execution._rules[0]
    assert execution.stats.number_checks == 1
    assert rule.deferring and rule.eager_stage == 1 and rule.deferred_stages == {0}
    run_paths(execution, [str(path)], SourceStats())
    reference = _reference(rules, Schema.ecs(), path)
    assert [len(run.result.hits) for run in reference if run.result] == [30]  # a start, then 445, each 40 lines
    assert _signature(execution.finish()[0]) == _signature(reference[0])


def test_a_line_scanned_for_its_category_s_literals_alone_misses_no_stage(tmp_path: Path) -> None:
    """A line is scanned for the literals of the stages of the category its first ``"category":[...]``
    names (and of stages of no category); a line that holds a value of a category the scanner does not
    cover is scanned again for every literal. Whatever the guess, the results are the reference's."""
    shapes = [
        '{{"event": {{"category": ["process"]}}, "process": {{"name": "{name}"}}}}',
        '{{"event": {{"category": ["network"]}}, "process": {{"name": "{name}"}}}}',
        # the first "category" is not the event's, and names another category
        '{{"rule": {{"category": ["network"]}}, "event": {{"category": ["process"]}}, '
        '"process": {{"name": "{name}"}}}}',
        '{{"event": {{"category": ["network", "process"]}}, "process": {{"name": "{name}"}}}}',
        '{{"event": {{"category": "process"}}, "process": {{"name": "{name}"}}}}',  # a string, not a list
        '{{"event.category": ["process"], "rule": {{"category": ["network"]}}, "process": {{"name": "{name}"}}}}',
    ]
    lines = []
    for number in range(3000):
        # the sample (the first 2,000 lines) has the plain shapes only: the scanners cover one category each
        shape = shapes[number % 2] if number < SAMPLE_LINES or number % 5 == 0 else shapes[number % len(shapes)]
        name = ("run.exe", "talk.exe", "other.exe")[number % 3]
        compact = shape.format(name=name).replace(": ", ":").replace(", ", ",")
        lines.append(compact[:-1] + f',"@timestamp":"2024-05-14T{number // 3600:02d}:{number // 60 % 60:02d}:'
                                    f'{number % 60:02d}.000Z"}}')
    path = tmp_path / "categories.ndjson"
    path.write_text("".join(line + "\n" for line in lines))
    rules = [_rule(0, 'process where process.name == "run.exe"', None),
             _rule(1, 'network where process.name == "talk.exe"', None),
             _rule(2, 'any where process.name == "other.exe"', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.category_scanners == 2  # process and network
    run_paths(execution, [str(path)], SourceStats())
    reference = _reference(rules, Schema.ecs(), path)
    assert [len(run.result.hits) for run in reference if run.result] == [634, 500, 1000]
    assert [_signature(run) for run in execution.finish()] == [_signature(run) for run in reference]


_LITERALS_OF_A_BUILD = """
import json, sys
from eqlite.rules import Rule
from eqlite.scheduler.fast import FastExecution
from eqlite.semantic.schema import Schema
queries = ['process where process.name : ("a1.exe", "b2.exe", "c3.exe", "d4.exe", "e5.exe", "f6.exe")',
           'process where process.args : ("-aa", "-bb", "-cc", "-dd") and process.parent.name : ("p.exe", "q.exe")',
           'network where destination.domain : ("x.example", "y.example", "z.example") and process.name != null']
rules = [Rule.from_dict({"rule_id": f"q{n}", "name": f"q{n}", "description": "d", "type": "eql", "language": "eql",
                         "query": query, "risk_score": 1, "severity": "low"}) for n, query in enumerate(queries)]
lines = [json.dumps({"event": {"category": ["process"]}, "process": {"name": "x.exe"}}).encode()] * 50
execution = FastExecution(rules, Schema.ecs(), lines)
print(json.dumps([execution._literals, sorted(map(list, execution._category_scanners))]))
"""


def test_the_scanners_of_a_rule_set_are_the_same_in_every_process(tmp_path: Path) -> None:
    """Literal ids follow the rules and each literal set sorted, not a set's order, which depends on
    the process's hash seed: the same rules and sample make the same scanners, which the cache of
    compiled scanners can then find in the next run."""
    built, kept = [], []
    for seed in ("1", "2", "3"):
        environment = dict(os.environ, PYTHONHASHSEED=seed, EQLITE_CACHE_DIR=str(tmp_path))
        done = subprocess.run([sys.executable, "-c", _LITERALS_OF_A_BUILD], capture_output=True, check=True,
                              env=environment)
        built.append(json.loads(done.stdout))
        kept.append(len(list(tmp_path.glob("hyperscan/*.hsdb"))))
    assert len(built[0][0]) >= 8
    assert built[0] == built[1] == built[2]
    assert kept[0] > 0 and kept[0] == kept[1] == kept[2]  # the later processes compiled nothing new


def test_a_regex_ending_in_a_group_of_alternatives_is_a_trigger(tmp_path: Path) -> None:
    """``dns.question.name regex ".*\\.(top|xyz)"`` needs the name to end with ``.top`` or ``.xyz``: only
    lines holding ``.top"`` or ``.xyz"`` (in some case) are parsed, and the results are the reference's."""
    names = ["a.top", "b.xyz", "c.com", "top.com", "d.top.net", "e.TOP", "f.xyz.top", "g.topx", "xyz"]
    lines = [f'{{"@timestamp": "2024-05-14T08:00:{number % 60:02d}.000Z", "event": {{"category": ["network"]}}, '
             f'"dns": {{"question": {{"name": "{names[number % len(names)]}"}}}}}}' for number in range(450)]
    path = tmp_path / "dns.ndjson"
    path.write_text("".join(line + "\n" for line in lines))
    rules = [_rule(0, 'network where dns.question.name regex """.*\\.(top|xyz)"""', None)]
    execution = FastExecution(rules, Schema.ecs(), read_sample([str(path)]))
    assert execution.stats.triggered_stages == 1 and execution.stats.free_stages == 0
    run_paths(execution, [str(path)], SourceStats())
    assert execution.stats.parsed == 200  # a.top, b.xyz, e.TOP (the scan ignores case) and f.xyz.top
    reference = _reference(rules, Schema.ecs(), path)
    assert [len(run.result.hits) for run in reference if run.result] == [150]  # a.top, b.xyz, f.xyz.top
    assert _signature(execution.finish()[0]) == _signature(reference[0])


def test_number_checks_only_for_integer_fields_whose_values_the_line_holds() -> None:
    execution = FastExecution([], Schema.ecs())
    needed = execution._needed_numbers
    from eqlite.plan.translate import translate
    from eqlite.syntax.parser import parse

    def numbers(condition: str) -> list[tuple[str, ...]]:
        return needed(translate(parse(f"any where {condition}").body.condition))

    assert numbers("destination.port in (445, -139)") == [("139", "445")]
    assert numbers('destination.port == "3389" and process.name == "x"') == [("3389",)]
    assert numbers("destination.port == 445 or source.port == 445") == []  # not a conjunct
    assert numbers("not destination.port == 445") == []
    assert numbers('process.name == "445"') == []  # a keyword: the literal prefilter's
    assert numbers("destination.bytes == 1.5") == [("1",)]  # a long field indexes 1 for 1.5
