"""The value transforms that reproduce single ingest processors."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from eqlite.sources.windows.functions import (
    argv_general,
    basename,
    command_line_to_argv,
    community_id,
    dns_results,
    file_parts,
    is_ip,
    parse_long,
    quote_aware_split,
    registry_fields,
    split_hashes,
    sysmon_utc_time,
)
from eqlite.sources.windows.steps import _invocation_parts


@given(st.text(alphabet=' \t"\\ab', max_size=16))
def test_argv_fast_paths_agree_with_the_general_algorithm(cmd: str) -> None:
    assert command_line_to_argv(cmd) == argv_general(cmd)


def test_argv_windows_rules() -> None:
    assert command_line_to_argv(r'"C:\Program Files\a.exe" /c "x y"') == [r"C:\Program Files\a.exe", "/c", "x y"]
    assert command_line_to_argv(r"a\\\"b") == [r"a\"b"]  # 2n+1 backslashes + quote: n backslashes, literal quote
    assert command_line_to_argv(r'a\\"b c"') == [r"a\b c"]  # 2n backslashes + quote: n backslashes, quote toggles
    assert command_line_to_argv('"a""b"') == ['a"b']  # doubled quote inside quotes: one literal quote
    assert command_line_to_argv("  \t ") == []


def test_argv_results_are_fresh_lists() -> None:
    first = command_line_to_argv("svchost.exe -k netsvcs")
    first.append("changed")
    assert command_line_to_argv("svchost.exe -k netsvcs") == ["svchost.exe", "-k", "netsvcs"]


def test_security_4688_split_keeps_quotes_and_empty_pieces() -> None:
    assert quote_aware_split('"C:\\a b.exe"  x') == ['"C:\\a b.exe"', "", "x"]
    assert quote_aware_split("") == []
    first = quote_aware_split("a b")
    first.append("changed")
    assert quote_aware_split("a b") == ["a", "b"]


def test_hashes_lower_case_and_skip_zero_digests() -> None:
    assert split_hashes("SHA1=AB,MD5=0000,IMPHASH=,bad") == {"sha1": "ab"}
    first = split_hashes("SHA1=CD")
    first["x"] = "y"
    assert split_hashes("SHA1=CD") == {"sha1": "cd"}


def test_registry_qword_keeps_the_pipeline_arithmetic() -> None:
    data = registry_fields("HKCU\\a\\b", "QWORD (0x00000001-0x00000002)")["data"]
    assert data == {"strings": [str((1 << 8) + 2)], "type": "SZ_QWORD"}


def test_registry_binary_and_unknown_hive() -> None:
    reg = registry_fields("\\REGISTRY\\MACHINE\\x", "Binary Data")
    assert reg == {
        "path": "\\REGISTRY\\MACHINE\\x",
        "value": "x",
        "data": {"strings": ["Binary Data"], "type": "REG_BINARY"},
    }


def test_dns_results_unknown_type_and_invalid_ip() -> None:
    answers, ips, hosts = dns_results("type:  999 x.example;not-an-ip;10.1.2.3;", {})
    assert answers == [{"type": None, "data": "x.example"}, {"type": "A", "data": "10.1.2.3"}]
    assert (ips, hosts) == (["10.1.2.3"], ["x.example"])


def test_community_id_is_symmetric_and_matches_the_spec_vector() -> None:
    forward = community_id("128.232.110.120", "66.35.250.204", 34855, 80, "tcp")
    assert forward == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert community_id("66.35.250.204", "128.232.110.120", 80, 34855, "tcp") == forward
    assert community_id("10.0.0.1", "fe80::1", 1, 2, "tcp") is None
    assert community_id("10.0.0.1", "10.0.0.2", 1, 2, "icmp") is None


def test_small_parsers() -> None:
    assert (parse_long("0x1fc"), parse_long("42"), parse_long("-"), parse_long("#ff")) == (508, 42, None, 255)
    assert sysmon_utc_time("2019-04-30 20:35:11.856") == "2019-04-30T20:35:11.856Z"
    assert sysmon_utc_time("2019-04-30T20:35:11Z") is None
    assert (basename("C:\\x\\", True), basename("a\\b", False)) == (None, "b")
    assert file_parts("C:\\dir.d\\noext") == ("noext", "C:\\dir.d", "d\\noext")
    assert (is_ip("::ffff:1.2.3.4"), is_ip("999.1.1.1")) == (True, False)


def _quote_aware_split_reference(cmd: str) -> list[str]:
    """The Security pipeline's character loop, written out as it reads."""
    out: list[str] = []
    start = 0
    in_quote = False
    for i, ch in enumerate(cmd):
        if ch == '"':
            in_quote = not in_quote
        if ch.isspace() and not in_quote:
            out.append(cmd[start:i])
            start = i + 1
        if i == len(cmd) - 1:
            out.append(cmd[start : i + 1])
    return out


@given(st.text(alphabet=' \t"ab\n', max_size=16))
def test_quote_aware_split_agrees_with_the_character_loop(cmd: str) -> None:
    assert quote_aware_split(cmd) == _quote_aware_split_reference(cmd)


_PIPELINE_DETAIL = {
    False: re.compile(r"(.+)\((.+)\):\s*(.+)?\Z", re.DOTALL),  # powershell_operational.yml
    True: re.compile(r"([^:(]+)\((.+)\):\s*(.+)?\Z", re.DOTALL),  # powershell.yml
}


@given(st.text(alphabet="ab():; \t", max_size=14), st.booleans())
def test_invocation_split_agrees_with_the_pipeline_regex(line: str, classic: bool) -> None:
    match = _PIPELINE_DETAIL[classic].match(line)
    expected = None if match is None else (match.group(1), match.group(2), match.group(3))
    assert _invocation_parts(line, classic) == expected
