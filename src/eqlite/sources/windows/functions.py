"""Value transforms that the generated mappers call: argv splitting, hashes, registry, DNS, community id.

Each function reproduces one processor of the collectors' ingest pipelines (Winlogbeat 8 modules and the
Elastic Agent ``windows``/``system`` integrations) from its documented behaviour, including its quirks,
because a rule that matches in Elasticsearch must match here on the same record.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import socket
import struct
from functools import lru_cache
from typing import Any

_IP_CACHE: dict[str, bool] = {}
_IP_CACHE_MAX = 65536


def is_ip(value: str) -> bool:
    """Tell whether ``value`` is an IP address, as the ``convert`` processor's ``ip`` type accepts it.

    >>> is_ip("10.0.2.18"), is_ip("fe80::1%12"), is_ip("IEWIN7")
    (True, True, False)
    """
    known = _IP_CACHE.get(value)
    if known is not None:
        return known
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
        ok = True
    except ValueError:
        ok = False
    if len(_IP_CACHE) < _IP_CACHE_MAX:
        _IP_CACHE[value] = ok
    return ok


def parse_long(value: str) -> int | None:
    """Parse a number the way Java's ``Long.decode`` does (decimal, ``0x``/``#`` hex, leading-0 octal).

    >>> parse_long("3572"), parse_long("0x1fc"), parse_long("-"), parse_long("010")
    (3572, 508, None, 8)
    """
    text = value.strip()
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    try:
        if text[:2] in ("0x", "0X"):
            return sign * int(text[2:], 16)
        if text[:1] == "#":
            return sign * int(text[1:], 16)
        if len(text) > 1 and text[0] == "0":
            return sign * int(text[1:], 8)
        return sign * int(text, 10)
    except ValueError:
        return None


def parse_bool(value: str) -> bool | None:
    """Convert ``"true"``/``"false"`` (any case) to a bool, anything else to ``None``."""
    low = value.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    return None


_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\Z")


def sysmon_utc_time(value: str) -> str | None:
    """Turn Sysmon's ``UtcTime`` (``yyyy-MM-dd HH:mm:ss.SSS``, UTC) into the ISO form Elasticsearch stores.

    >>> sysmon_utc_time("2019-04-30 20:35:11.856")
    '2019-04-30T20:35:11.856Z'
    """
    if _UTC_TIME.match(value) is None:
        return None
    return f"{value[:10]}T{value[11:]}Z"


def basename(path: str, require_separator: bool) -> str | None:
    r"""Last ``\``-separated part of a Windows path.

    The Sysmon pipeline sets no name when the path has no backslash (``require_separator``); the Security
    pipeline takes the whole string then.

    >>> basename("C:\\Windows\\System32\\mmc.exe", True), basename("System", True), basename("System", False)
    ('mmc.exe', None, 'System')
    """
    idx = path.rfind("\\")
    if idx < 0:
        return None if require_separator else path
    name = path[idx + 1 :]
    return name if name or not require_separator else None


def file_parts(path: str) -> tuple[str, str, str | None] | None:
    r"""Split a path into name, directory and extension as the pipelines' "Adds file information" script.

    The extension is cut at the last dot of the whole path, not of the name, like the original.

    >>> file_parts("C:\\Users\\x\\a.ps1")
    ('a.ps1', 'C:\\Users\\x', 'ps1')
    """
    if len(path) <= 1:
        return None
    idx = path.rfind("\\")
    if idx < 0:
        return None
    dot = path.rfind(".")
    return path[idx + 1 :], path[:idx], (path[dot + 1 :] if dot >= 0 else None)


_ARGV_TOKEN = re.compile(r'(\\*)"|[ \t]+|\\+|[^ \t"\\]+')
_BLANKS = re.compile(r"[ \t]+")
_QUOTED_RUNS = re.compile(r'(?:[^ \t"]|"[^"]*(?:"|\Z))+')


_HASH_CACHE: dict[str, tuple[tuple[str, str], ...]] = {}
_CACHE_MAX = 4096


def command_line_to_argv(cmd: str) -> list[str]:
    r"""Split a command line with the Windows ``CommandLineToArgvW`` rules (pre-2008 double-quote rule).

    This is the "Windows-like SplitCommandLine" script of the Sysmon and PowerShell pipelines.

    >>> command_line_to_argv('"C:\\Windows\\system32\\notepad.exe" ')
    ['C:\\Windows\\system32\\notepad.exe']
    >>> command_line_to_argv('a "b c" d\\"e "f""g"')
    ['a', 'b c', 'd"e', 'f"g']
    """
    return list(_argv_once(cmd))


# The same command lines come back again and again (service hosts, parents): keep recent splits.
@lru_cache(maxsize=4096)
def _argv_once(cmd: str) -> tuple[str, ...]:
    return tuple(_split_argv(cmd))


def _split_argv(cmd: str) -> list[str]:
    if '"' not in cmd:
        return [part for part in _BLANKS.split(cmd) if part]
    if '\\"' not in cmd and '""' not in cmd:
        # Without escaped or doubled quotes, quotes only group: drop them from each blank-separated run.
        return [part.replace('"', "") for part in _QUOTED_RUNS.findall(cmd)]
    return argv_general(cmd)


def argv_general(cmd: str) -> list[str]:
    """:func:`command_line_to_argv` without its fast paths (also the reference the tests compare them with)."""
    args: list[str] = []
    buf: list[str] = []
    in_arg = False
    inquote = False
    pos = 0
    end = len(cmd)
    while pos < end:
        match = _ARGV_TOKEN.match(cmd, pos)
        assert match is not None  # the pattern matches every character class
        token = match.group(0)
        pos = match.end()
        if token[-1] == '"':
            slashes = len(match.group(1))
            buf.append("\\" * (slashes // 2))
            in_arg = True
            if slashes % 2 == 0:
                # A doubled quote inside quotes stands for one literal quote (the "prior to 2008" rule).
                if inquote and pos < end and cmd[pos] == '"':
                    buf.append('"')
                    pos += 1
                inquote = not inquote
            else:
                buf.append('"')
        elif token[0] in " \t":
            if inquote:
                buf.append(token)
            elif in_arg:
                args.append("".join(buf))
                buf = []
                in_arg = False
        else:
            buf.append(token)
            in_arg = True
    if in_arg:
        args.append("".join(buf))
    return args


_QUOTED_OR_BLANK = re.compile(r'"[^"]*(?:"|\Z)|\s')


def quote_aware_split(cmd: str) -> list[str]:
    """Split on whitespace outside double quotes, keeping quotes and empty pieces (Security 4688 rule).

    >>> quote_aware_split('"C:\\\\a b.exe" cl  x')
    ['"C:\\\\a b.exe"', 'cl', '', 'x']
    """
    return list(_quote_aware_split_once(cmd))


@lru_cache(maxsize=4096)
def _quote_aware_split_once(cmd: str) -> tuple[str, ...]:
    return tuple(_quote_aware_split(cmd))


def _quote_aware_split(cmd: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _QUOTED_OR_BLANK.finditer(cmd):
        if match.group()[0] != '"':
            out.append(cmd[start : match.start()])
            start = match.end()
    if cmd:
        out.append(cmd[start:])
    return out


def split_hashes(value: str) -> dict[str, str]:
    """Parse Sysmon's ``Hashes`` (``SHA1=..,MD5=..``) into lower-case algorithm -> lower-case digest.

    Empty and all-zero digests are dropped, as the pipeline does.

    >>> split_hashes("SHA1=AB,MD5=00000000,IMPHASH=CD")
    {'sha1': 'ab', 'imphash': 'cd'}
    """
    hit = _HASH_CACHE.get(value)
    if hit is not None:
        return dict(hit)
    hashes: dict[str, str] = {}
    for pair in value.split(","):
        key, sep, digest = pair.partition("=")
        if not sep:
            continue
        digest = digest.lower()
        if not digest.strip("0"):
            continue
        hashes[key.lower()] = digest
    if len(_HASH_CACHE) >= _CACHE_MAX:
        _HASH_CACHE.clear()
    _HASH_CACHE[value] = tuple(hashes.items())
    return hashes


def java_split(text: str, sep: str) -> list[str]:
    """``str.split`` that drops trailing empty strings, like Java's ``String.split``."""
    parts = text.split(sep)
    while parts and not parts[-1]:
        parts.pop()
    return parts


_HIVES = {
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKCR": "HKCR",
    "HKEY_CURRENT_CONFIG": "HKCC",
    "HKCC": "HKCC",
    "HKEY_CURRENT_USER": "HKCU",
    "HKCU": "HKCU",
    "HKEY_DYN_DATA": "HKDD",
    "HKDD": "HKDD",
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKLM": "HKLM",
    "HKEY_PERFORMANCE_DATA": "HKPD",
    "HKPD": "HKPD",
    "HKEY_USERS": "HKU",
    "HKU": "HKU",
}
_QWORD = re.compile(r"QWORD \(((0x[0-9A-F]{8})-(0x[0-9A-F]{8}))\)\Z", re.IGNORECASE)
_DWORD = re.compile(r"DWORD \((0x[0-9A-F]{8})\)\Z", re.IGNORECASE)


def registry_fields(target: str, details: str | None) -> dict[str, Any]:
    r"""Build ``registry.*`` from Sysmon's ``TargetObject`` and ``Details`` (events 12, 13, 14).

    The QWORD value keeps the pipeline's arithmetic (high part shifted by 8 bits), so a QWORD
    differs from its true value exactly as it does in Elasticsearch.

    >>> registry_fields("HKLM\\SOFTWARE\\Run\\x", "DWORD (0x00000001)")["data"]
    {'strings': ['1'], 'type': 'SZ_DWORD'}
    """
    registry: dict[str, Any] = {"path": target}
    tokens = java_split(target, "\\") or [""]
    hive = _HIVES.get(tokens[0])
    if hive is not None:
        registry["hive"] = hive
        if len(tokens) > 1:
            registry["key"] = "\\".join(tokens[1:])
    registry["value"] = tokens[-1]
    if details:
        match = _QWORD.match(details)
        if match:
            high, low = int(match.group(2)[2:], 16), int(match.group(3)[2:], 16)
            registry["data"] = {"strings": [str((high << 8) + low)], "type": "SZ_QWORD"}
            return registry
        match = _DWORD.match(details)
        if match:
            registry["data"] = {"strings": [str(int(match.group(1)[2:], 16))], "type": "SZ_DWORD"}
            return registry
        kind = "REG_BINARY" if details == "Binary Data" else "REG_SZ"
        registry["data"] = {"strings": [details], "type": kind}
    return registry


_V4_MAPPED = re.compile(r"\[?::ffff:([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)(?:\](?::[0-9]+)?)?\Z")


def dns_results(results: str, types: dict[str, str]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Split Sysmon's ``QueryResults`` into (answers, resolved IPs, related hosts).

    ``type:  5 host;`` entries become answers with the record type name; bare entries are resolved IPs,
    with v4-mapped IPv6 unwrapped, invalid ones dropped, and each also added as an ``A``/``AAAA`` answer.

    >>> dns_results("type:  5 a.example;::ffff:1.2.3.4;", {"5": "CNAME"})
    ([{'type': 'CNAME', 'data': 'a.example'}, {'type': 'A', 'data': '1.2.3.4'}], ['1.2.3.4'], ['a.example'])
    """
    answers: list[dict[str, Any]] = []
    ips: list[str] = []
    hosts: list[str] = []
    for answer in java_split(results, ";"):
        if not answer:
            continue
        if answer.startswith("type:"):
            parts = java_split(re.sub(r"\s+", " ", answer), " ")
            if len(parts) == 3:
                answers.append({"type": types.get(parts[1]), "data": parts[2]})
                hosts.append(parts[2])
            elif len(parts) >= 2:
                answers.append({"type": types.get(parts[1])})
            continue
        match = _V4_MAPPED.match(answer)
        ip = match.group(1) if match else answer
        if is_ip(ip):
            ips.append(ip)
    for ip in ips:
        answers.append({"type": "AAAA" if ":" in ip else "A", "data": ip})
    return answers, ips, hosts


_PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "gre": 47, "sctp": 132}


def _packed_ip(text: str) -> bytes | None:
    try:
        return socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        return socket.inet_pton(socket.AF_INET6, text.split("%", 1)[0])
    except OSError:
        return None


def community_id(src_ip: str, dst_ip: str, src_port: int, dst_port: int, transport: str) -> str | None:
    """Community ID v1 (seed 0) of a flow, as the ``community_id`` ingest processor computes it.

    >>> community_id("128.232.110.120", "66.35.250.204", 34855, 80, "tcp")
    '1:LQU9qZlK+B5F3KDmev6m5PMibrg='
    """
    proto = _PROTOCOL_NUMBERS.get(transport.lower())
    if proto is None or proto in (1, 58):
        # ICMP flows need type/code, which Sysmon does not record.
        return None
    sa, da = _packed_ip(src_ip), _packed_ip(dst_ip)
    if sa is None or da is None or len(sa) != len(da):
        return None
    # The flow is ordered so that both directions hash the same.
    if (sa, src_port) > (da, dst_port):
        sa, da, src_port, dst_port = da, sa, dst_port, src_port
    packed = b"\x00\x00" + sa + da + struct.pack("!BBHH", proto, 0, src_port, dst_port)
    return "1:" + base64.b64encode(hashlib.sha1(packed).digest()).decode("ascii")


def append_unique(target: dict[str, Any], key: str, value: Any) -> None:
    """Append ``value`` to the list ``target[key]`` unless present (``append`` with no duplicates)."""
    current = target.get(key)
    if current is None:
        target[key] = [value]
    elif not isinstance(current, list):
        # Appending to a single value turns it into a list, as in an ingest pipeline.
        if current != value:
            target[key] = [current, value]
    elif value not in current:
        current.append(value)
