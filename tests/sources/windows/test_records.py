"""Normalization of each input form into the one record the mapper reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eqlite.sources.windows.records import (
    RecordError,
    evtx_user_data,
    from_evtx,
    from_nxlog,
    from_winlogbeat6,
    prepare_event_data,
    render_event_data,
)

EVTX_EVENT = {
    "System": {
        "Provider": {
            "#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}
        },
        "EventID": 3,
        "Version": 5,
        "Level": 4,
        "Task": 3,
        "Opcode": 0,
        "Keywords": "0x8000000000000000",
        "TimeCreated": {"#attributes": {"SystemTime": "2019-04-30T20:35:13.168589Z"}},
        "EventRecordID": 9835,
        "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": 1964, "ThreadID": 1568}},
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "IEWIN7",
        "Security": {"#attributes": {"UserID": "S-1-5-18"}},
    },
    "EventData": {
        "ProcessGuid": "365ABB72-B17F-5CC8-0000-001082A51E00",
        "ProcessId": 3572,
        "Initiated": False,
        "SourcePort": 49163,
        "RuleName": "",
        "DestinationHostname": None,
    },
}


def test_evtx_values_render_as_winlogbeat_renders_them() -> None:
    rec = from_evtx(EVTX_EVENT)
    assert rec["event_data"] == {
        "ProcessGuid": "{365ABB72-B17F-5CC8-0000-001082A51E00}",
        "ProcessId": "3572",
        "Initiated": "false",
        "SourcePort": "49163",
        "RuleName": "",
        "DestinationHostname": "",
    }
    assert rec["provider_guid"] == "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
    assert (rec["event_id"], rec["record_id"], rec["keywords"]) == (3, 9835, 0x8000000000000000)
    assert (rec["time_created"], rec["process_id"], rec["thread_id"]) == ("2019-04-30T20:35:13.168589Z", 1964, 1568)


def test_evtx_event_id_with_qualifiers_and_unnamed_data() -> None:
    event = {
        "System": {"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 400}, "Computer": "X"},
        "EventData": {"Data": {"#text": ["Available", "None", "\tNewEngineState=Available"]}, "Binary": None},
    }
    rec = from_evtx(event)
    assert rec["event_id"] == 400
    assert rec["event_data"] == {
        "param1": "Available",
        "param2": "None",
        "param3": "\tNewEngineState=Available",
        "Binary": "",
    }
    assert rec["channel"] == ""


def test_evtx_user_data_keeps_its_element_name() -> None:
    event = {
        "System": {"EventID": 1102, "Computer": "X"},
        "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "x"}, "SubjectUserName": "admin01"}},
    }
    rec = from_evtx(event)
    assert (rec["user_data_name"], rec["user_data"]) == ("LogFileCleared", {"SubjectUserName": "admin01"})


GUID = "365ABB72-B17F-5CC8-0000-001082A51E00"
SYSMON_DROP = frozenset({"", "-", "{00000000-0000-0000-0000-000000000000}"})
# EventData values as the evtx crate prints them: strings, GUIDs (bare), numbers, booleans, nulls, nested text.
_VALUES = st.one_of(
    st.sampled_from(["", "-", "x", GUID, GUID.lower(), "00000000-0000-0000-0000-000000000000", "a" * 36]),
    st.integers(min_value=-5, max_value=1 << 64),
    st.booleans(),
    st.none(),
    st.builds(lambda v: {"#text": v}, st.sampled_from(["t", GUID, ["a", GUID]])),
    st.lists(st.sampled_from(["a", "", GUID]), max_size=3),
)
_KEYS = st.sampled_from(["Image", "ProcessGuid", "RuleName", "Data", "#attributes", "param1", "param2", "Z"])


def _render_then_drop(data: dict[str, Any], drop: frozenset[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    rendered = render_event_data(copy.deepcopy(data))
    return tuple(rendered), {k: v for k, v in rendered.items() if v not in drop}


@given(st.dictionaries(_KEYS, _VALUES, max_size=6), st.sampled_from([frozenset(), frozenset({""}), SYSMON_DROP]))
def test_prepare_event_data_is_render_then_drop(data: dict[str, Any], drop: frozenset[str]) -> None:
    keys, expected = _render_then_drop(data, drop)
    assert prepare_event_data(data, drop) == keys
    assert list(data.items()) == list(expected.items())


def test_prepare_event_data_renders_in_place_and_returns_the_keys_before_dropping() -> None:
    data = {"RuleName": "-", "ProcessGuid": GUID, "ProcessId": 3572, "Initiated": False, "Z": None}
    assert prepare_event_data(data, SYSMON_DROP) == ("RuleName", "ProcessGuid", "ProcessId", "Initiated", "Z")
    assert data == {"ProcessGuid": "{" + GUID + "}", "ProcessId": "3572", "Initiated": "false"}


def test_evtx_user_data_is_what_the_normalized_record_carries() -> None:
    event = {"UserData": {"LogFileCleared": {"#attributes": {"xmlns": "x"}, "SubjectUserName": "admin01"}}}
    assert evtx_user_data(event) == {"SubjectUserName": "admin01", "xml_name": "LogFileCleared"}
    assert evtx_user_data({"UserData": {"Empty": {"#attributes": {"xmlns": "x"}}}}) is None
    assert evtx_user_data({"UserData": None}) is None


def test_evtx_without_system_is_rejected() -> None:
    with pytest.raises(RecordError):
        from_evtx({"EventData": {}})


NXLOG = {
    "EventID": 4697,
    "Channel": "security",
    "Hostname": "WORKSTATION6.theshire.local",
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "Keywords": -9214364837600034816,
    "Task": 12289,
    "Version": 0,
    "Category": "Security System Extension",
    "Opcode": "Info",
    "OpcodeValue": 0,
    "EventType": "AUDIT_SUCCESS",
    "Severity": "INFO",
    "SeverityValue": 2,
    "RecordNumber": 717712,
    "EventTime": "2020-09-20 12:16:56",
    "EventReceivedTime": "2020-09-20 12:16:58",
    "@timestamp": "2020-09-20T16:16:58.214Z",
    "host": "wec.internal.cloudapp.net",
    "port": 64545,
    "tags": ["mordorDataset"],
    "ServiceName": "Updater",
    "ServiceType": "0x10",
    "ExecutionProcessID": 760,
}


def test_nxlog_record_splits_system_and_event_data() -> None:
    rec = from_nxlog(NXLOG)
    assert rec["event_data"] == {"ServiceName": "Updater", "ServiceType": "0x10"}
    assert rec["keywords"] == 0x8020000000000000
    assert (rec["task_name"], rec["opcode_name"], rec["level_name"]) == (
        "Security System Extension",
        "Info",
        "information",
    )
    assert (rec["computer"], rec["channel"], rec["record_id"]) == ("WORKSTATION6.theshire.local", "security", 717712)


def test_nxlog_time_is_event_time_in_utc_not_ingest_time() -> None:
    # EventTime/EventReceivedTime are the collector's local time (UTC-4 here); @timestamp is ingest time.
    assert from_nxlog(NXLOG)["time_created"] == "2020-09-20T16:16:56.000Z"


def test_nxlog_user_fields_only_with_a_user_id() -> None:
    sysmon = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "UserID": "S-1-5-18",
        "AccountName": "SYSTEM",
        "Domain": "NT AUTHORITY",
        "AccountType": "User",
        "Version": 5,
    }
    rec = from_nxlog(sysmon)
    assert (rec["user_sid"], rec["user_name"], rec["user_domain"], rec["user_type"]) == (
        "S-1-5-18",
        "SYSTEM",
        "NT AUTHORITY",
        "User",
    )
    assert rec["event_data"] == {}
    session = {"EventID": 4778, "Channel": "Security", "AccountName": "bob", "Version": "10.2"}
    assert from_nxlog(session)["event_data"] == {"AccountName": "bob", "Version": "10.2"}


def test_winlogbeat6_record() -> None:
    raw = {
        "event_id": 4624,
        "log_name": "Security",
        "computer_name": "DC1",
        "source_name": "Microsoft-Windows-Security-Auditing",
        "record_number": "12",
        "event_data": {"LogonType": "3"},
        "keywords": ["Audit Success"],
        "level": "Information",
        "@timestamp": "2019-05-01T00:00:00.000Z",
        "user": {"identifier": "S-1-5-18", "name": "SYSTEM"},
    }
    rec = from_winlogbeat6(raw)
    assert (rec["record_id"], rec["keyword_names"], rec["level_name"]) == (12, ["Audit Success"], "information")
    assert (rec["user_sid"], rec["user_name"], rec["event_data"]) == ("S-1-5-18", "SYSTEM", {"LogonType": "3"})
