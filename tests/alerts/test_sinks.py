"""NDJSON sinks: byte-identical output, atomic files, early errors for unwritable paths."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from eqlite.alerts import AlertBuilder, AlertOutputError, AlertStore, NdjsonSink, check_target, open_sink
from eqlite.alerts.sinks import check_writable
from eqlite.rules import Rule
from tests.alerts.helpers import NOW, DemoHits


def _alerts(rule: Rule, demo: DemoHits) -> list[dict[str, Any]]:
    return AlertBuilder(rule, now=NOW).build_all(demo.hits)


def test_same_now_gives_byte_identical_files(tmp_path: Path, seed_rule: Rule, demo_hits: DemoHits) -> None:
    for name in ("first.ndjson", "second.ndjson"):
        with NdjsonSink(tmp_path / name) as sink:
            sink.write(_alerts(seed_rule, demo_hits))
    first = (tmp_path / "first.ndjson").read_bytes()
    assert first == (tmp_path / "second.ndjson").read_bytes()
    lines = first.splitlines()
    assert len(lines) == 6
    assert [orjson.loads(line) for line in lines] == _alerts(seed_rule, demo_hits)


def test_keys_are_sorted_at_every_level(tmp_path: Path) -> None:
    with NdjsonSink(tmp_path / "a.ndjson") as sink:
        sink.write([{"z": 1, "kibana.alert.uuid": "u", "host": {"name": "h", "id": "i"}}])
    assert (tmp_path / "a.ndjson").read_bytes() == b'{"host":{"id":"i","name":"h"},"kibana.alert.uuid":"u","z":1}\n'


def test_repeated_ids_are_written_once(tmp_path: Path) -> None:
    with NdjsonSink(tmp_path / "a.ndjson") as sink:
        first = sink.write([{"kibana.alert.uuid": "a"}, {"kibana.alert.uuid": "b"}])
        second = sink.write([{"kibana.alert.uuid": "b"}, {"kibana.alert.uuid": "c"}])
    assert (first.written, first.duplicates, second.written, second.duplicates) == (2, 0, 1, 1)
    assert len((tmp_path / "a.ndjson").read_bytes().splitlines()) == 3


def test_lines_written_elsewhere_are_deduplicated_with_the_rest(tmp_path: Path) -> None:
    from eqlite.alerts import dumps_alert

    alerts = [{"kibana.alert.uuid": uuid, "n": number} for number, uuid in enumerate("abcb")]
    with NdjsonSink(tmp_path / "a.ndjson") as sink:
        first = sink.write(alerts[:1])
        second = sink.write_lines([(str(alert["kibana.alert.uuid"]), dumps_alert(alert)) for alert in alerts])
    assert (first.written, second.written, second.duplicates) == (1, 2, 2)
    assert (tmp_path / "a.ndjson").read_bytes() == b"".join(dumps_alert(alert) for alert in alerts[:3])


def test_a_failed_run_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "alerts.ndjson"
    target.write_bytes(b"previous\n")
    with pytest.raises(RuntimeError), NdjsonSink(target) as sink:
        sink.write([{"kibana.alert.uuid": "a"}])
        raise RuntimeError("rule run failed")
    assert target.read_bytes() == b"previous\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alerts.ndjson"]


def test_nothing_is_visible_before_close(tmp_path: Path) -> None:
    target = tmp_path / "alerts.ndjson"
    sink = NdjsonSink(target)
    sink.write([{"kibana.alert.uuid": "a"}])
    assert not target.exists()
    sink.close()
    assert target.read_bytes() == b'{"kibana.alert.uuid":"a"}\n'
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_an_existing_files_mode_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "alerts.ndjson"
    target.write_bytes(b"")
    target.chmod(0o640)
    with NdjsonSink(target) as sink:
        sink.write([])
    assert target.stat().st_mode & 0o777 == 0o640


def test_stdout_sink_writes_as_it_goes() -> None:
    out = io.BytesIO()
    sink = NdjsonSink("-", stream=out)
    sink.write([{"kibana.alert.uuid": "a"}])
    assert out.getvalue() == b'{"kibana.alert.uuid":"a"}\n'
    sink.close()


def test_alerts_without_an_id_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"kibana\.alert\.uuid"), NdjsonSink(tmp_path / "a.ndjson") as sink:
        sink.write([{"@timestamp": "x"}])


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root / "missing" / "alerts.ndjson", "does not exist"),
    (lambda root: root, "is a directory"),
    (lambda root: root / "file.txt" / "alerts.ndjson", "is not a directory"),
])
def test_unwritable_paths_fail_early_naming_the_path(tmp_path: Path, make: Any, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    path = make(tmp_path)
    with pytest.raises(AlertOutputError, match=message) as caught:
        NdjsonSink(path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_directory_fails_early(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(AlertOutputError, match="not writable"):
            check_writable(folder / "alerts.ndjson")
    finally:
        folder.chmod(0o700)


def test_open_sink_picks_the_destination_by_name(tmp_path: Path) -> None:
    ndjson = open_sink(tmp_path / "a.jsonl")
    store = open_sink(tmp_path / "alerts.db")
    try:
        assert isinstance(ndjson, NdjsonSink) and isinstance(store, AlertStore)
        assert isinstance(open_sink("-"), NdjsonSink)
    finally:
        ndjson.close()
        store.close()
    with pytest.raises(AlertOutputError, match="cannot tell the output format"):
        open_sink(tmp_path / "alerts.txt")


def test_check_target_checks_both_kinds(tmp_path: Path) -> None:
    check_target(tmp_path / "a.ndjson")
    check_target(tmp_path / "a.db")
    for name in ("missing/a.ndjson", "missing/a.db"):
        with pytest.raises(AlertOutputError, match="does not exist"):
            check_target(tmp_path / name)
    assert not any(tmp_path.iterdir())
