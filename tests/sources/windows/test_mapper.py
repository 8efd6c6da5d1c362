"""The mapper: EVTX records mapped straight from the evtx JSON, and which compiled function maps a record."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from evtx import PyEvtxParser

from eqlite.sources.windows import PROFILES, Mapper, render_source
from eqlite.sources.windows.codegen import analyze
from eqlite.sources.windows.profile import load_profile, parse_module
from eqlite.sources.windows.records import from_evtx
from tests.conftest import shared_path

MMC20 = ("datasets", "attack", "evtx-attack-samples", "Lateral Movement", "LM_impacket_docmexec_mmc_sysmon_01.evtx")
# Files of the common shapes: Sysmon; Security; EventIDs with qualifiers and unnamed <Data> (classic
# PowerShell 800, MSI installer); UserData (log cleared, 1149); no Channel element at all (ETW).
MIXED = (
    MMC20,
    ("datasets", "background", "evtx-attack-samples", "Command and Control", "DE_RDP_Tunnel_5156.evtx"),
    ("datasets", "background", "evtx-attack-samples", "Execution", "rogue_msi_url_1040_1042.evtx"),
    ("datasets", "background", "evtx-to-mitre-attack", "TA0005-Defense Evasion", "T1112-Modify registry",
     "ID800-4103-4104-Registry permission change via WMI (DAMP) PowerShell on source.evtx"),
    ("datasets", "background", "evtx-to-mitre-attack", "TA0005-Defense Evasion", "T1070.001-Clear Windows event logs",
     "ID104-1102-Event log cleared.evtx"),
    ("datasets", "background", "evtx-attack-samples", "Command and Control",
     "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx"),
    ("datasets", "background", "evtx-attack-samples", "Credential Access", "etw_rpc_zerologon.evtx"),
)  # fmt: skip


def _events(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(item["data"])["Event"] for item in PyEvtxParser(str(path)).records_json()]


def _normalized(mapper: Mapper, event: dict[str, Any]) -> tuple[bytes, str, str | None]:
    record = from_evtx(copy.deepcopy(event))
    source, index, known = mapper.map_tuple(record)
    return orjson.dumps(source), index, None if known else f"{record['channel'] or '?'}:{record['event_id']}"


@pytest.mark.parametrize("profile", ["winlogbeat", "agent"])
def test_evtx_json_maps_to_the_bytes_of_the_normalized_path(profile: str) -> None:
    mapper = Mapper(profile)
    events = [event for parts in MIXED for event in _events(shared_path(*parts))]
    assert len(events) > 1000
    for event in events:
        expected = _normalized(mapper, event)
        mapped = mapper.map_evtx(event)
        assert mapped is not None
        source, index, unmapped = mapped
        assert (orjson.dumps(source), index, unmapped) == expected


def test_unusual_records_are_left_to_the_normalized_path_untouched() -> None:
    mapper = Mapper("winlogbeat")
    odd = [
        "not an object",
        {"EventData": {"a": 1}},
        {"System": {"EventID": "not a number", "Channel": "Security"}, "EventData": {"a": 1}},
        {"System": {"EventID": 4688, "Channel": {"#text": "Security"}}, "EventData": {"a": 1}},
    ]
    for event in odd:
        before = copy.deepcopy(event)
        assert mapper.map_evtx(event) is None
        assert event == before


def test_string_event_ids_and_missing_event_data_map_like_from_evtx() -> None:
    mapper = Mapper("winlogbeat")
    event = {"System": {"EventID": {"#attributes": {"Qualifiers": ""}, "#text": "7045"}, "Channel": "System",
                        "Computer": "HOST"}}  # fmt: skip
    expected = _normalized(mapper, event)
    mapped = mapper.map_evtx(event)
    assert mapped is not None
    assert (orjson.dumps(mapped[0]), mapped[1], mapped[2]) == expected


@pytest.mark.parametrize("guid", ["5770385F-C22A-43E0-BF4C-06F5698FFBD9", "{ABC}", 1, True, 0, ""])
def test_odd_system_values_map_like_from_evtx(guid: Any) -> None:
    mapper = Mapper("agent")
    for _ in range(2):  # the second time from the caches
        event = {"System": {"EventID": 4624, "Channel": "Security", "Computer": "HOST",
                            "Keywords": "0x8010000000000000", "Level": True,
                            "Provider": {"#attributes": {"Name": "P", "Guid": guid}},
                            "Correlation": {"#attributes": {"ActivityID": guid, "RelatedActivityID": guid}},
                            "Execution": {"#attributes": {"ProcessID": "1", "ThreadID": 2}},
                            "Security": {"#attributes": {"UserID": "S-1-5-19"}}},
                 "EventData": {"TargetUserName": "bob", "LogonType": 3}}  # fmt: skip
        expected = _normalized(mapper, event)
        mapped = mapper.map_evtx(event)
        assert mapped is not None
        assert (orjson.dumps(mapped[0]), mapped[1], mapped[2]) == expected


def test_a_kind_that_needs_the_normalized_record_is_left_to_it() -> None:
    profile = load_profile("winlogbeat")
    module = parse_module({"events": {1: {}}, "steps": [{"set_from_record": {"provider_name": "event.provider"}}]},
                          "test.yaml", "test")  # fmt: skip
    channels = {**profile.channels, "security": replace(profile.channels["security"], module=module)}
    custom = replace(profile, channels=channels, compiled={})
    assert analyze(custom, channels["security"], 1)[1] is False
    event = {"System": {"EventID": 1, "Channel": "Security", "Computer": "HOST"}, "EventData": {"A": "1"}}
    mapper = Mapper(custom)
    assert mapper.map_evtx(event) is None
    assert event["EventData"] == {"A": "1"}


def test_layouts_that_differ_in_keys_no_step_reads_share_one_function() -> None:
    profile = PROFILES["winlogbeat"]
    channel = "Microsoft-Windows-Sysmon/Operational"
    keys, _ = analyze(profile, profile.channel(channel), 1)
    assert "Image" in keys and "LogonGuid" not in keys
    base = ["Image", "CommandLine", "Hashes"]
    assert render_source(profile, channel, 1, [*base, "LogonGuid"]) == render_source(profile, channel, 1, base)
    assert render_source(profile, channel, 1, base) != render_source(profile, channel, 1, base[1:])


def test_the_function_for_a_record_does_not_depend_on_the_records_before_it() -> None:
    """Past 32 layouts of one kind the old mapper fell back to an unspecialized function (other key order)."""
    record = {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "computer": "H",
              "time_created": "2021-01-01T00:00:00Z",
              "event_data": {"Image": "C:\\a.exe", "Hashes": "MD5=AB,IMPHASH=CD"}}  # fmt: skip
    fresh = orjson.dumps(Mapper(load_profile("winlogbeat")).map(record).source)
    mapper = Mapper(load_profile("winlogbeat"))
    for i in range(40):
        mapper.map({**record, "event_data": {**record["event_data"], f"Extra{i}": "x"}})
    assert orjson.dumps(mapper.map(record).source) == fresh
    entry = mapper.profile.compiled[(record["channel"], 1)]
    assert len(entry.specialized) == 1
