"""``eqlite watch``: the command on a simulated clock, the store lock, faults, and kill -9 at random moments."""

from __future__ import annotations

import bisect
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from eqlite.alerts import AlertQuery, AlertStore
from eqlite.cli.main import main
from eqlite.demo import DemoConfig, write_ndjson
from eqlite.scheduler.state import StoreLock
from tests.scheduler.helpers import MINUTE, chain, iso, ms, write_lines

T = ms("2024-05-14T08:00:00Z")


def _set_clock(path: Path, instant: int) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(iso(instant) + "\n")
    os.replace(temporary, path)


def _watch(tmp_path: Path, *extra: str) -> int:
    return main(["watch", str(tmp_path / "events"), "--store", str(tmp_path / "eqlite.db"), "--clock",
                 f"file:{tmp_path / 'clock'}", "--poll", "0.01", "--exit-when-idle", *extra])


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "events").mkdir()
    _set_clock(tmp_path / "clock", T)
    return tmp_path


def test_watch_runs_on_the_simulated_clock_and_stores_alerts_and_log(
        capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    write_lines(folder / "events" / "a.ndjson", chain(1, T - 2 * MINUTE))
    assert _watch(folder) == 0
    err = capsys.readouterr().err
    assert "2024-05-14T08:00:00.000Z  Incoming DCOM Lateral Movement with MMC: succeeded;" in err
    assert "1 matches, 3 alerts written" in err and "stopped (idle)" in err
    write_lines(folder / "events" / "b.ndjson", chain(2, T + 2 * MINUTE))
    _set_clock(folder / "clock", T + 5 * MINUTE)
    assert _watch(folder, "--tz", "Asia/Tokyo") == 0
    assert "2024-05-14 17:05:00.000+09:00" in capsys.readouterr().err
    with AlertStore(folder / "eqlite.db", readonly=True) as store:
        assert store.count() == 6
    assert main(["status", "--store", str(folder / "eqlite.db"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["running"] is False and report["clock"].startswith("file:")
    assert [f["lag_bytes"] for f in report["files"]] == [0, 0]
    assert report["rules"][0]["last_started_ms"] == T + 5 * MINUTE and report["failing"] == []
    assert main(["executions", "list", "--store", str(folder / "eqlite.db"), "--mode", "watch"]) == 0
    assert capsys.readouterr().out.count("succeeded") == 2


def test_a_second_watch_on_the_same_store_refuses_to_start(capsys: pytest.CaptureFixture[str],
                                                            folder: Path) -> None:
    lock = StoreLock(str(folder / "eqlite.db"))
    lock.acquire()
    try:
        assert _watch(folder) == 1
    finally:
        lock.release()
    assert f"another 'eqlite watch' (pid {os.getpid()}) is using this store" in capsys.readouterr().err


def test_max_executions_stops_the_watch(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    rules = folder / "rules"
    rules.mkdir()
    for name in ("a", "b"):
        (rules / f"{name}.toml").write_text(
            f'[rule]\nrule_id = "{name}"\nname = "{name}"\ndescription = "d"\ntype = "eql"\nlanguage = "eql"\n'
            f'risk_score = 1\nseverity = "low"\nquery = "process where true"\n')
    assert main(["watch", str(folder / "events"), "--store", str(folder / "eqlite.db"), "--rules", str(rules),
                 "--clock", f"file:{folder / 'clock'}", "--poll", "0.01", "--max-executions", "1"]) == 0
    assert "stopped (--max-executions 1)" in capsys.readouterr().err


def test_removed_and_truncated_files_are_reported_and_the_watch_goes_on(
        capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    kept, gone = folder / "events" / "kept.ndjson", folder / "events" / "gone.ndjson"
    write_lines(kept, [*chain(1, T - 8 * MINUTE), *chain(4, T - 30 * MINUTE)])
    write_lines(gone, chain(2, T - 7 * MINUTE))
    assert _watch(folder) == 0
    capsys.readouterr()
    gone.unlink()
    write_lines(kept, chain(3, T + 3 * MINUTE))  # rewritten in place: shorter than what was read
    _set_clock(folder / "clock", T + 5 * MINUTE)
    assert _watch(folder) == 0
    err = capsys.readouterr().err
    assert f"{gone} was removed or rotated away" in err and f"{kept} was truncated" in err
    assert "1 matches, 3 alerts written" in err
    assert main(["status", "--store", str(folder / "eqlite.db")]) == 0
    out = capsys.readouterr().out
    assert "Recent notices:" in out and "was truncated" in out and "gone.ndjson  " not in out


def test_a_rule_that_cannot_compile_fails_each_run_and_the_others_go_on(
        capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    rules = folder / "rules.ndjson"
    rules.write_text(json.dumps({"rule_id": "bad", "name": "Bad", "description": "d", "type": "eql",
                                 "language": "eql", "risk_score": 1, "severity": "low",
                                 "query": "process where process.name == "}) + "\n")
    write_lines(folder / "events" / "a.ndjson", chain(1, T - 2 * MINUTE))
    assert main(["watch", str(folder / "events"), "--store", str(folder / "eqlite.db"), "--rules", str(rules),
                 "--rules", "builtin", "--clock", f"file:{folder / 'clock'}", "--poll", "0.01",
                 "--exit-when-idle"]) == 0
    err = capsys.readouterr().err
    assert "rule 'Bad':" in err and "Bad: failed;" in err
    assert main(["status", "--store", str(folder / "eqlite.db")]) == 0
    out = capsys.readouterr().out
    assert "Failing rules:" in out and "Bad (1 failed runs in a row)" in out
    with AlertStore(folder / "eqlite.db", readonly=True) as store:
        assert store.count() == 3


def test_a_store_inside_a_watched_directory_is_not_read_as_events(capsys: pytest.CaptureFixture[str],
                                                                   folder: Path) -> None:
    write_lines(folder / "events" / "a.ndjson", chain(1, T - MINUTE))
    argv = ["watch", str(folder / "events"), "--store", str(folder / "events" / "eqlite.db"), "--clock",
            f"file:{folder / 'clock'}", "--poll", "0.01", "--exit-when-idle"]
    assert main(argv) == 0 and main(argv) == 0
    err = capsys.readouterr().err
    assert "eqlite.db" not in err.replace(f"store {folder / 'events' / 'eqlite.db'}", "")
    assert "not an event file" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--clock", "sometimes"], "use 'real', 'file:PATH'"),
    (["--store", ":memory:"], "needs a store file"),
])
def test_bad_options(capsys: pytest.CaptureFixture[str], folder: Path, argv: list[str], message: str) -> None:
    assert main(["watch", str(folder / "events"), "--store", str(folder / "eqlite.db"), "--clock",
                 f"file:{folder / 'clock'}", *argv]) == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------- kill -9


class Appender(threading.Thread):
    """Appends lines in random chunks, sometimes cutting a line in two, never past ``allowed``."""

    def __init__(self, path: Path, lines: list[bytes], seed: int) -> None:
        super().__init__(daemon=True)
        self.path, self.lines = path, lines
        self.rng = random.Random(seed)
        self.allowed = 0
        self.written = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with open(self.path, "ab", buffering=0) as handle:
                while self.written < len(self.lines):
                    if self.written >= self.allowed:
                        time.sleep(0.005)
                        continue
                    end = min(self.allowed, self.written + self.rng.randint(1, 60))
                    data = b"".join(self.lines[self.written:end])
                    cut = self.rng.randrange(len(data))
                    handle.write(data[:cut])
                    time.sleep(self.rng.uniform(0, 0.01))
                    handle.write(data[cut:])
                    self.written = end
                    time.sleep(self.rng.uniform(0, 0.02))
        except BaseException as error:  # reported by the test
            self.failure = error


def _executed(store: Path, instant: int) -> bool:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return db.execute("SELECT 1 FROM executions WHERE started_ms = ?", (instant,)).fetchone() is not None
    except sqlite3.Error:
        return False


def _running(store: Path, pid: int) -> bool:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM watch_state WHERE key = 'pid'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == str(pid)


def _log(store: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return db.execute("SELECT started_ms, windows, status, matches, alerts, written, duplicates, events "
                          "FROM executions ORDER BY started_ms").fetchall()


def _alerts(store: Path) -> dict[str, dict[str, Any]]:
    with AlertStore(store, readonly=True) as alerts:
        return {alert["kibana.alert.uuid"]: alert for alert in alerts.select(AlertQuery(building_blocks=True))}


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(20240514)
    buffer = io.BytesIO()
    write_ndjson(DemoConfig(seed=21, events=12_000, hosts=6, true_chains=12, rate_per_host=12_000 / (6 * 3600)),
                 buffer)
    lines = buffer.getvalue().splitlines(keepends=True)
    times = [ms(orjson.loads(line)["@timestamp"]) for line in lines]
    step = 5 * MINUTE
    steps = [(times[0] // step + 1) * step]
    while steps[-1] < times[-1]:
        steps.append(steps[-1] + step)
    live, clock, store, log = tmp_path / "live.ndjson", tmp_path / "clock", tmp_path / "watch.db", tmp_path / "err"
    live.touch()
    appender = Appender(live, lines, seed=7)
    appender.allowed = bisect.bisect_right(times, steps[0])
    appender.start()
    command = [sys.executable, "-m", "eqlite.cli.main", "watch", str(live), "--store", str(store), "--clock",
               f"file:{clock}", "--poll", "0.02", "--batch-events", "150"]
    with open(log, "ab") as err:
        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)

        kills = in_loop = 0
        process: subprocess.Popen[bytes] | None = None
        for number, instant in enumerate(steps):
            needed = bisect.bisect_right(times, instant)
            while appender.written < needed:
                time.sleep(0.005)
            following = steps[number + 1] if number + 1 < len(steps) else times[-1] + 1
            appender.allowed = bisect.bisect_right(times, following)  # keeps appending while the watch is killed
            _set_clock(clock, instant)
            process = process or start()
            for _ in range(2):
                time.sleep(rng.uniform(0.15, 0.8))
                in_loop += _running(store, process.pid)
                process.kill()
                process.wait()
                kills += 1
                process = start()
            deadline = time.monotonic() + 60
            while not _executed(store, instant):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.01)
        assert process is not None
        appender.join(30)
        assert appender.failure is None and appender.written == len(lines)
        while not _running(store, process.pid):  # a graceful stop needs the loop (and its handlers) started
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    assert kills >= 20 and in_loop >= 5, (kills, in_loop)  # most kills land while it reads or runs rules

    reference = tmp_path / "reference.db"
    assert main(["run", "--replay", "--quiet", "--store", str(reference), "--start", iso(steps[0]), "--end",
                 iso(steps[-1]), str(live)]) == 0
    watched, expected = _alerts(store), _alerts(reference)
    assert len(expected) >= 30 and watched == expected
    assert [row[:7] for row in _log(store)] == [row[:7] for row in _log(reference)]
    assert [row[0] for row in _log(store)] == steps
