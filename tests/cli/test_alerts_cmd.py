"""``eqlite alerts list|show``: output, filters, chains and exit codes over a store of demo alerts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eqlite.alerts import AlertBuilder, AlertStore, build_alerts
from eqlite.cli.main import main
from eqlite.demo import DemoRun
from eqlite.rules import Rule, load_builtin_rules
from eqlite.runtime.search import EventHit
from tests.alerts.helpers import DEMO, NOW, event, search

OTHER_RULE = Rule.from_dict({
    "rule_id": "bbbbbbbb-0000-0000-0000-000000000002", "name": "Lonely Logon", "description": "d", "type": "eql",
    "language": "eql", "query": "authentication where true", "risk_score": 21, "severity": "low",
})


@pytest.fixture(scope="module")
def demo_alerts() -> list[dict[str, Any]]:
    """Two seed-rule chains from demo data (shell + 2 building blocks each) and one low event alert."""
    rule = load_builtin_rules()[0]
    alerts = AlertBuilder(rule, now=NOW).build_all(search(rule, list(DemoRun(DEMO))))
    lonely = event({"@timestamp": "2024-05-14T07:00:00.000Z", "host": {"name": "srv-9", "id": "h-9"},
                    "user": {"name": "svc"}}, doc_id="logon-1")
    return alerts + build_alerts(OTHER_RULE, EventHit(lonely), now=NOW)


@pytest.fixture
def store_path(tmp_path: Path, demo_alerts: list[dict[str, Any]]) -> str:
    path = tmp_path / "eqlite.db"
    with AlertStore(path) as store:
        store.write(demo_alerts)
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line]


def _shells(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a.get("kibana.alert.group.id") == a["kibana.alert.uuid"]]


# ------------------------------------------------------------------ list


def test_list_json_hides_building_blocks(capsys: pytest.CaptureFixture[str], store_path: str,
                                         demo_alerts: list[dict[str, Any]]) -> None:
    code, out, _ = _run(capsys, "alerts", "list", "--store", store_path, "--format", "json")
    listed = _json(out)
    assert code == 0
    assert len(listed) == 3
    assert all("kibana.alert.building_block_type" not in alert for alert in listed)
    assert listed[-1]["kibana.alert.rule.name"] == "Lonely Logon"


def test_list_json_with_building_blocks_keeps_chains_together(capsys: pytest.CaptureFixture[str],
                                                              store_path: str) -> None:
    _, out, _ = _run(capsys, "alerts", "list", "--store", store_path, "--format", "json", "--building-blocks")
    listed = _json(out)
    assert len(listed) == 7
    for start in (0, 3):
        shell, first, second = listed[start:start + 3]
        assert [first["kibana.alert.group.id"], second["kibana.alert.group.id"]] == [shell["kibana.alert.uuid"]] * 2
        assert [first["kibana.alert.group.index"], second["kibana.alert.group.index"]] == [0, 1]


def test_list_table_shows_each_chain_under_its_shell(capsys: pytest.CaptureFixture[str], store_path: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    code, out, _ = _run(capsys, "alerts", "list", "--store", store_path)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["ID", "TIME", "SEVERITY", "RISK", "RULE", "HOST", "REASON"]
    body = lines[2:]
    assert len(body) == 7
    shell_rows = [line for line in body if not line.startswith(("├", "└"))]
    assert len(shell_rows) == 3
    for row in shell_rows[:2]:
        assert "high" in row and "Incoming DCOM Lateral Movement with MMC" in row
    assert body[1].startswith("├") and body[2].startswith("└")
    network_rows = [line for line in body if line.startswith("├")]
    assert all("network event with process mmc.exe" in line for line in network_rows)
    assert all("process event with process" in line for line in body if line.startswith("└"))
    assert "created high alert" not in out  # the severity and rule have their own columns


@pytest.mark.parametrize(("options", "count"), [
    (["--severity", "low"], 1),
    (["--severity", "high,critical"], 2),
    (["--rule", "51ce96fb-9e52-4dad-b0ba-99b54440fc9a"], 2),
    (["--rule", "lonely"], 1),
    (["--host", "SRV-9"], 1),
    (["--host", "h-9"], 1),
    (["--host", "nobody"], 0),
    (["--since", "2024-05-14T08:00:00Z"], 2),
    (["--until", "2024-05-14T07:30"], 1),
    (["--since", "2024-05-14"], 3),
    (["--limit", "1"], 1),
    (["--limit", "0"], 3),
    (["--building-blocks", "--limit", "4"], 4),
])
def test_list_filters(capsys: pytest.CaptureFixture[str], store_path: str, options: list[str], count: int) -> None:
    code, out, _ = _run(capsys, "alerts", "list", "--store", store_path, "--format", "json", *options)
    assert code == 0
    assert len(_json(out)) == count


def test_list_says_when_it_stops_at_the_limit(capsys: pytest.CaptureFixture[str], store_path: str) -> None:
    _, _, err = _run(capsys, "alerts", "list", "--store", store_path, "--limit", "2")
    assert "showing the newest 2" in err


def test_list_empty_result_is_not_an_error(capsys: pytest.CaptureFixture[str], store_path: str) -> None:
    code, out, err = _run(capsys, "alerts", "list", "--store", store_path, "--rule", "no such rule")
    assert (code, out) == (0, "")
    assert "no alerts match" in err


# ------------------------------------------------------------------ show


def test_show_json_prints_the_stored_document(capsys: pytest.CaptureFixture[str], store_path: str,
                                              demo_alerts: list[dict[str, Any]]) -> None:
    shell = _shells(demo_alerts)[0]
    code, out, _ = _run(capsys, "alerts", "show", shell["kibana.alert.uuid"], "--store", store_path)
    assert code == 0
    assert _json(out) == [shell]


def test_show_accepts_a_unique_prefix(capsys: pytest.CaptureFixture[str], store_path: str,
                                      demo_alerts: list[dict[str, Any]]) -> None:
    uuid = demo_alerts[1]["kibana.alert.uuid"]
    code, out, _ = _run(capsys, "alerts", "show", uuid[:12], "--store", store_path)
    assert code == 0
    assert _json(out)[0]["kibana.alert.uuid"] == uuid


def test_show_table_draws_the_chain(capsys: pytest.CaptureFixture[str], store_path: str,
                                    demo_alerts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    shell = _shells(demo_alerts)[0]
    code, out, _ = _run(capsys, "alerts", "show", shell["kibana.alert.uuid"], "--store", store_path,
                        "--format", "table")
    assert code == 0
    assert f"Alert:      {shell['kibana.alert.uuid']}" in out
    assert "sequence alert with 2 building blocks" in out
    assert "high (risk score 73)" in out
    assert "TA0008 Lateral Movement > T1021 Remote Services > T1021.003 Distributed Component Object Model" in out
    chain = out[out.index("Chain:"):].splitlines()
    assert "logs-endpoint.events.network-default/" in chain[3]
    assert "logs-endpoint.events.process-default/" in chain[4]


def test_show_unknown_id_fails(capsys: pytest.CaptureFixture[str], store_path: str) -> None:
    code, out, err = _run(capsys, "alerts", "show", "not-an-id", "--store", store_path)
    assert (code, out) == (1, "")
    assert "no alert with id 'not-an-id'" in err


def test_show_ambiguous_prefix_lists_the_candidates(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    demo_alerts: list[dict[str, Any]]) -> None:
    path = tmp_path / "eqlite.db"
    twins = [{**demo_alerts[-1], "kibana.alert.uuid": f"abc{n}"} for n in range(2)]
    with AlertStore(path) as store:
        store.write(twins)
    code, _, err = _run(capsys, "alerts", "show", "abc", "--store", str(path))
    assert code == 1
    assert "starts 2 alert ids" in err and "abc0" in err and "abc1" in err


# ------------------------------------------------------------------ exit codes


@pytest.mark.parametrize("argv", [
    ["alerts", "list", "--store", "{missing}"],
    ["alerts", "show", "abc", "--store", "{missing}"],
    ["alerts", "list", "--store", "{not_a_store}"],
])
def test_unreadable_store_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n" * 50)
    paths = {"missing": str(tmp_path / "missing.db"), "not_a_store": str(tmp_path / "notes.txt")}
    code, out, err = _run(capsys, *(arg.format(**paths) for arg in argv))
    assert (code, out) == (1, "")
    assert err.startswith("eqlite alerts: ") and str(tmp_path) in err
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("argv", [
    ["alerts", "list", "--severity", "extreme"],
    ["alerts", "list", "--since", "last tuesday"],
    ["alerts", "list", "--limit", "-3"],
    ["alerts", "list", "--format", "xml"],
    ["alerts", "show"],
    ["alerts", "frobnicate"],
])
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: eqlite alerts" in capsys.readouterr().err


def test_alerts_without_a_subcommand_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "alerts")
    assert (code, out) == (2, "")
    assert "list" in err and "show" in err


@pytest.mark.parametrize("argv", [["alerts", "--help"], ["alerts", "list", "--help"], ["alerts", "show", "--help"]])
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    assert "Exit codes" in capsys.readouterr().out
