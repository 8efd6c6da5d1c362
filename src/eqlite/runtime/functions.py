"""Bodies of Elasticsearch's EQL functions, with their documented edge cases.

Every function returns None (null) when a required argument is null. Case-insensitive
variants (``~``) compare lower-cased text but return slices of the original.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from eqlite.runtime import java
from eqlite.semantic.types import coerce_ip, utf16_len

Function = Callable[..., Any]


def _between(source: Any, left: Any, right: Any, greedy: Any = False, insensitive: bool = False) -> Any:
    if source is None or left is None or right is None:
        return None
    if source == "" or left == "" or right == "":
        return source
    haystack = java.lower(source) if insensitive else source
    left_key = java.lower(left) if insensitive else left
    right_key = java.lower(right) if insensitive else right
    index = haystack.find(left_key)
    if index < 0:
        return ""
    start = index + len(left_key)
    end = haystack.rfind(right_key) if greedy else haystack.find(right_key, start)
    if end < 0 or end < start:
        return ""
    return source[start:end]


def _starts_with(source: Any, prefix: Any, insensitive: bool = False) -> Any:
    if source is None or prefix is None:
        return None
    if insensitive:
        return java.lower(source).startswith(java.lower(prefix))
    return bool(source.startswith(prefix))


def _ends_with(source: Any, suffix: Any, insensitive: bool = False) -> Any:
    if source is None or suffix is None:
        return None
    if insensitive:
        return java.lower(source).endswith(java.lower(suffix))
    return bool(source.endswith(suffix))


def _string_contains(source: Any, substring: Any, insensitive: bool = False) -> Any:
    if source is None or substring is None:
        return None
    if source == "" or substring == "":
        return False
    if insensitive:
        return java.lower(substring) in java.lower(source)
    return substring in source


def _index_of(source: Any, substring: Any, start: Any = 0, insensitive: bool = False) -> Any:
    if source is None or substring is None:
        return None
    # A null start counts as 0, as Elasticsearch's own folding tests expect.
    start = 0 if start is None else max(int(start), 0)
    if start > len(source):
        return None
    if insensitive:
        source, substring = java.lower(source), java.lower(substring)
    found = source.find(substring, start)
    return None if found < 0 else found


def _length(source: Any) -> Any:
    return None if source is None else utf16_len(source)


def _substring(source: Any, start: Any, end: Any = None) -> Any:
    if source is None:
        return None
    start = 0 if start is None else int(start)
    return source[start:] if end is None else source[start:int(end)]


def _concat(*values: Any) -> Any:
    if any(value is None for value in values):
        return None
    return "".join(java.to_string(value) or "" for value in values)


def _string(value: Any) -> Any:
    return java.to_string(value)


def _number(source: Any, base: Any = None) -> Any:
    """Parse a long, or a double in base 10; a ``0x`` prefix means base 16."""
    if source is None:
        return None
    text = str(source).strip()
    radix = 10 if base is None else int(base)
    sign = ""
    body = text
    if body[:1] in "+-":
        sign, body = body[:1], body[1:]
    if body.lower().startswith("0x") and base in (None, 16):
        radix, body = 16, body[2:]
    try:
        value = int(sign + body, radix)
    except ValueError:
        if radix != 10:
            raise ValueError(f"cannot parse {source!r} as a number in base {radix}") from None
        return float(text)
    if not java.LONG_MIN <= value <= java.LONG_MAX:
        return float(value)
    return value


@lru_cache(maxsize=4096)
def _network(block: str) -> ipaddress.IPv6Network:
    network = ipaddress.ip_network(block, strict=False)
    if isinstance(network, ipaddress.IPv4Network):
        mapped = ipaddress.IPv6Address(f"::ffff:{network.network_address}")
        return ipaddress.IPv6Network(f"{mapped}/{96 + network.prefixlen}", strict=False)
    return network


def cidr_contains(address: Any, blocks: tuple[str, ...]) -> bool:
    """Whether ``address`` (text or an address object) lies in one of the CIDR ``blocks``.

    >>> cidr_contains("10.6.48.157", ("10.6.48.157/8",)), cidr_contains("::1", ("10.0.0.0/8",))
    (True, False)
    """
    return cidr_tester(blocks)(address)


@lru_cache(maxsize=1024)
def cidr_tester(blocks: tuple[str, ...]) -> Callable[[Any], bool]:
    """:func:`cidr_contains` for fixed ``blocks``: merged into sorted ranges once, each address found by bisection.

    Raises:
        ValueError: a block is not a CIDR block.

    >>> inside = cidr_tester(("10.0.0.0/8", "192.168.0.0/16", "10.1.0.0/16"))
    >>> inside("10.200.0.1"), inside("192.169.0.1"), inside("::ffff:192.168.3.4"), inside("x")
    (True, False, True, False)
    """
    spans = sorted((int(network.network_address), int(network.broadcast_address))
                   for network in (_network(block) for block in blocks))
    starts: list[int] = []
    ends: list[int] = []
    for start, end in spans:
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)

    def contains(address: Any) -> bool:
        ip = address if isinstance(address, ipaddress.IPv6Address) else coerce_ip(address)
        if ip is None:
            return False
        number = int(ip)
        slot = bisect_right(starts, number) - 1
        return slot >= 0 and number <= ends[slot]

    return contains


def _cidr_match(address: Any, *blocks: Any) -> Any:
    if address is None or any(block is None for block in blocks):
        return None
    return cidr_contains(address, tuple(blocks))


def _arithmetic(operation: Callable[[Any, Any], Any]) -> Function:
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        return operation(a, b)

    return apply


FUNCTIONS: dict[str, tuple[Function, bool]] = {
    # name (lower case): (body, whether it takes the case-insensitive flag)
    "add": (_arithmetic(java.add), False),
    "subtract": (_arithmetic(java.subtract), False),
    "multiply": (_arithmetic(java.multiply), False),
    "divide": (_arithmetic(java.divide), False),
    "modulo": (_arithmetic(java.modulo), False),
    "between": (_between, True),
    "cidrmatch": (_cidr_match, False),
    "concat": (_concat, False),
    "endswith": (_ends_with, True),
    "indexof": (_index_of, True),
    "length": (_length, False),
    "number": (_number, False),
    "startswith": (_starts_with, True),
    "string": (_string, False),
    "stringcontains": (_string_contains, True),
    "substring": (_substring, False),
}


def call(name: str, args: list[Any], insensitive: bool = False) -> Any:
    """Call an EQL function by name.

    >>> call("between", ["C:\\\\Windows\\\\System32\\\\cmd.exe", "System32\\\\", ".exe"])
    'cmd'
    >>> call("indexOf", ["abc", "z"]) is None, call("substring", ["hello world", 5, -1])
    (True, ' worl')
    """
    body, takes_flag = FUNCTIONS[name.lower()]
    if takes_flag:
        if name.lower() == "between":
            padded = [*args, *([False] if len(args) == 3 else [])]
            return body(*padded, insensitive=insensitive)
        if name.lower() == "indexof":
            padded = [*args, *([0] if len(args) == 2 else [])]
            return body(*padded, insensitive=insensitive)
        return body(*args, insensitive=insensitive)
    return body(*args)
