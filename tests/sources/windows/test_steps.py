"""Step functions whose results are memoized: each call still gets values of its own."""

from __future__ import annotations

from typing import Any

from eqlite.sources.windows.steps import access_mask, split_privileges, strip_key_spaces

TABLE = {"0x00000001": "ReadData", "0x00000002": "WriteData", "0x00000080": "ReadAttributes"}


def test_access_mask_tokens_and_descriptions_are_fresh_per_record() -> None:
    first: dict[str, Any] = {"AccessMask": "0x3"}
    access_mask(first, {}, {"table": TABLE})
    assert first == {"AccessMask": ["0x3"], "AccessMaskDescription": ["ReadData", "WriteData"]}
    first["AccessMask"].append("changed")
    first["AccessMaskDescription"].clear()
    second: dict[str, Any] = {"AccessMask": "0x3"}
    access_mask(second, {}, {"table": TABLE})
    assert second == {"AccessMask": ["0x3"], "AccessMaskDescription": ["ReadData", "WriteData"]}


def test_access_mask_memo_tells_tables_apart() -> None:
    other = {"0x00000001": "ListDirectory"}
    ed: dict[str, Any] = {"AccessMask": "%%4416 0x1"}
    access_mask(ed, {}, {"table": other})
    assert ed["AccessMaskDescription"] == ["ListDirectory"]
    ed = {"AccessMask": "%%4416 0x1"}
    access_mask(ed, {}, {"table": TABLE})
    assert ed == {"AccessMask": ["%%4416", "0x1"], "AccessMaskDescription": ["ReadData"]}


def test_privilege_lists_are_fresh_per_record() -> None:
    first: dict[str, Any] = {"PrivilegeList": "SeDebugPrivilege\n\t\t\tSeBackupPrivilege"}
    split_privileges(first, {}, {})
    assert first["PrivilegeList"] == ["SeDebugPrivilege", "SeBackupPrivilege"]
    first["PrivilegeList"].pop()
    second: dict[str, Any] = {"PrivilegeList": "SeDebugPrivilege\n\t\t\tSeBackupPrivilege"}
    split_privileges(second, {}, {})
    assert second["PrivilegeList"] == ["SeDebugPrivilege", "SeBackupPrivilege"]


def test_strip_key_spaces_keeps_order_and_values() -> None:
    ed: dict[str, Any] = {"Host Application": "powershell", "Engine\tVersion": "5.1", "Plain": "x"}
    strip_key_spaces(ed, {}, {})
    assert list(ed.items()) == [("HostApplication", "powershell"), ("EngineVersion", "5.1"), ("Plain", "x")]
