"""cidrMatch by merged, bisected ranges agrees with testing each block's membership."""

from __future__ import annotations

import ipaddress
import random

from eqlite.runtime.functions import _network, cidr_tester
from eqlite.semantic.types import coerce_ip


def test_ranges_agree_with_membership() -> None:
    rng = random.Random(11)
    for _ in range(200):
        blocks = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.7:
                address = ipaddress.IPv4Address(rng.choice([10, 127, 172, 192, 8]) << 24 | rng.getrandbits(24))
                blocks.append(f"{address}/{rng.randint(0, 32)}")
            else:
                address6 = ipaddress.IPv6Address(rng.getrandbits(128))
                blocks.append(f"{address6}/{rng.randint(0, 128)}")
        inside = cidr_tester(tuple(blocks))
        for _ in range(40):
            if rng.random() < 0.7:
                value = str(ipaddress.IPv4Address(rng.choice([10, 127, 172, 192, 8]) << 24 | rng.getrandbits(24)))
            else:
                value = str(ipaddress.IPv6Address(rng.getrandbits(128)))
            ip = coerce_ip(value)
            expected = ip is not None and any(ip in _network(block) for block in blocks)
            assert inside(value) == expected, (blocks, value)
    assert not cidr_tester(("10.0.0.0/8",))("not an address")
