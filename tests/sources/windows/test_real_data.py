"""The real recordings under shared/datasets: record-level checks and whole-corpus reads.

Record-level expectations come from research/ecs-mapping.md (sections 2.2 and 4 and the MMC20 row of
attack/SOURCES.md); per-file counts from the tables in background/SOURCES.md.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eqlite.sources.base import SourceStats
from eqlite.sources.windows import Mapper, iter_windows_records, read_windows_file
from eqlite.sources.windows.codegen import compile_mapper
from tests.conftest import shared_path

MMC20 = ("datasets", "attack", "evtx-attack-samples", "Lateral Movement", "LM_impacket_docmexec_mmc_sysmon_01.evtx")
MMC_GUID = "{365ABB72-B17F-5CC8-0000-001082A51E00}"
ABBREVIATIONS = {"Sysmon": "Microsoft-Windows-Sysmon/Operational", "PS-Op": "Microsoft-Windows-PowerShell/Operational",
                 "WinPS": "Windows PowerShell", "?": ""}  # fmt: skip


def _docs(path: Path, profile: str) -> list[dict[str, Any]]:
    stats = SourceStats()
    docs = [event.source for event in read_windows_file(path, profile, stats=stats)]
    assert stats.problems == []
    return docs


@pytest.mark.parametrize("profile", ["winlogbeat", "agent"])
def test_mmc20_process_start_matches_the_field_table(profile: str) -> None:
    docs = _docs(shared_path(*MMC20), profile)
    mmc = next(d for d in docs if d["event"]["code"] == "1" and d["process"]["name"] == "mmc.exe")
    assert mmc["@timestamp"] == "2019-04-30T20:35:11.856Z"  # UtcTime, not TimeCreated
    assert mmc["process"]["entity_id"] == MMC_GUID
    assert (mmc["process"]["pid"], mmc["process"]["executable"]) == (3572, "C:\\Windows\\System32\\mmc.exe")
    assert mmc["process"]["command_line"] == "C:\\Windows\\system32\\mmc.exe -Embedding"
    assert mmc["process"]["args"] == ["C:\\Windows\\system32\\mmc.exe", "-Embedding"]
    parent = mmc["process"]["parent"]
    assert (parent["entity_id"], parent["pid"], parent["name"]) == (
        "{365ABB72-2586-5CC9-0000-001087700000}",
        612,
        "svchost.exe",
    )
    assert parent["command_line"] == "C:\\Windows\\system32\\svchost.exe -k DcomLaunch"
    assert (mmc["user"]["domain"], mmc["user"]["name"]) == ("IEWIN7", "IEUser")
    assert (mmc["host"]["id"], mmc["host"]["os"]["type"]) == ("IEWIN7", "windows")
    assert mmc["event"]["type"] == ["start"] and mmc["event"]["category"] == ["process"]


@pytest.mark.parametrize("profile", ["winlogbeat", "agent"])
def test_mmc20_incoming_connection_matches_the_field_table(profile: str) -> None:
    docs = _docs(shared_path(*MMC20), profile)
    conn = next(d for d in docs if d["event"]["code"] == "3" and d["process"].get("name") == "mmc.exe")
    assert conn["@timestamp"] == "2019-04-30T20:35:11.980Z"
    assert conn["network"]["direction"] == "ingress"  # never "incoming"
    assert conn["network"]["transport"] == "tcp"
    assert "start" in conn["event"]["type"]
    # Win7 Sysmon puts the local side in Source*; the mapper does not swap.
    assert (conn["source"]["ip"], conn["source"]["port"]) == ("10.0.2.18", 49163)
    assert (conn["destination"]["ip"], conn["destination"]["port"]) == ("10.0.2.19", 33474)
    assert conn["process"]["entity_id"] == MMC_GUID
    assert "address" not in conn["source"]
    # The rule's join: three cmd.exe children carry the mmc GUID as parent entity id.
    children = [d for d in docs if d["event"]["code"] == "1" and d["process"]["parent"].get("entity_id") == MMC_GUID]
    assert [c["process"]["name"] for c in children] == ["cmd.exe", "cmd.exe", "cmd.exe"]
    assert all(c["@timestamp"] > conn["@timestamp"] for c in children)


def _sources_table(name: str) -> dict[str, tuple[int, list[tuple[str, int, int]]]]:
    text = shared_path("datasets", name, "SOURCES.md").read_text(encoding="utf-8")
    rows = {}
    for path, summary in re.findall(r"^\| `([^`]+\.evtx)` \|[^|]*\|[^|]*\|[^|]*\| (\d+ records;[^|]*)\|", text, re.M):
        total = int(summary.split()[0])
        pairs = re.findall(r"(\S+) (\d+)×(\d+)", summary.split(";", 1)[1])
        rows[path] = (total, [(ch, int(eid), int(n)) for ch, eid, n in pairs])
    return rows


def test_every_background_evtx_reads_fully_with_the_documented_counts() -> None:
    root = shared_path("datasets", "background")
    table = _sources_table("background")
    assert len(table) > 500
    stats = SourceStats()
    for folder in ("evtx-attack-samples", "evtx-to-mitre-attack"):
        for path in sorted((root / folder).rglob("*.evtx")):
            relative = str(path.relative_to(root / folder))
            histogram = Counter((r["channel"], r["event_id"]) for _, _, r in iter_windows_records(path, stats))
            total, listed = table[relative]
            assert sum(histogram.values()) == total, relative
            for short, event_id, count in listed:
                # The table shortens channel names ("Defender/Operational"); match on the name's end.
                name = ABBREVIATIONS.get(short, short)
                found = sum(n for (ch, eid), n in histogram.items() if eid == event_id and ch.endswith(name))
                assert found == count, (relative, short, event_id)
    assert stats.problems == []


@pytest.mark.parametrize("profile", ["winlogbeat", "agent"])
def test_every_attack_evtx_maps_without_problems(profile: str) -> None:
    stats = SourceStats()
    files = sorted(shared_path("datasets", "attack").rglob("*.evtx"))
    counts = {str(f.name): sum(1 for _ in read_windows_file(f, profile, stats=stats)) for f in files}
    assert stats.problems == []
    assert counts["LM_impacket_docmexec_mmc_sysmon_01.evtx"] == 9
    assert all(n > 0 for n in counts.values())
    assert stats.events == sum(counts.values())


def test_specialized_functions_agree_with_the_generic_ones() -> None:
    """Differential check of the key-set specialization over a mixed slice of the corpus."""
    root = shared_path("datasets", "background", "evtx-to-mitre-attack")
    files = [*sorted(root.rglob("*.evtx"))[:80], shared_path(*MMC20)]
    records = [record for file in files for _, _, record in iter_windows_records(file)]
    for profile in ("winlogbeat", "agent"):
        mapper = Mapper(profile)
        generic: dict[tuple[str, int], Any] = {}
        for record in records:
            key = (record["channel"], record["event_id"])
            if key not in generic:
                generic[key] = compile_mapper(mapper.profile, mapper.profile.channel(key[0]), key[1])[0]
            assert mapper.map(record).source == generic[key](record, None), key


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["winlogbeat", "agent"])
def test_every_zip_reads_without_problems(profile: str) -> None:
    stats = SourceStats()
    zips = sorted(shared_path("datasets").rglob("*.zip"))
    counts: Counter[str] = Counter()
    for archive in zips:
        counts[archive.name] = sum(1 for _ in read_windows_file(archive, profile, stats=stats))
    assert stats.problems == []
    assert counts["empire_dcom_shellwindows_stager.zip"] == 32706
    assert counts["covenant_dcom_iertutil_dll_hijack.zip"] == 37814
    assert len(counts) == 5


@pytest.mark.slow
def test_shellwindows_sibling_rule_shape_in_the_mordor_export() -> None:
    """attack/SOURCES.md: explorer.exe takes 172.18.39.5:58406 -> 172.18.39.6:49913, then spawns cmd.exe."""
    archive = shared_path("datasets", "attack", "security-datasets", "datasets", "atomic", "windows",
                          "lateral_movement", "host", "empire_dcom_shellwindows_stager.zip")  # fmt: skip
    conn = None
    children = []
    for event in read_windows_file(archive, "agent"):
        doc = event.source
        if doc["event"]["code"] == "3" and doc.get("source", {}).get("port") == 58406:
            conn = doc
        elif doc["event"]["code"] == "1" and doc["winlog"]["channel"].startswith("Microsoft-Windows-Sysmon"):
            children.append(doc)
    assert conn is not None
    assert (conn["process"]["name"], conn["network"]["direction"]) == ("explorer.exe", "ingress")
    assert (conn["destination"]["ip"], conn["destination"]["port"]) == ("172.18.39.6", 49913)
    assert conn["@timestamp"] == "2020-09-18T17:08:35.806Z"
    explorer = conn["process"]["entity_id"]
    after = [
        c
        for c in children
        if c["process"]["parent"].get("entity_id") == explorer and c["@timestamp"] > conn["@timestamp"]
    ]
    child = min(after, key=lambda c: c["@timestamp"])
    assert (child["process"]["name"], child["@timestamp"]) == ("cmd.exe", "2020-09-18T17:08:36.030Z")
    assert conn["event"]["dataset"] == "windows.sysmon_operational"
