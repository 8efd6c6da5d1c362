"""What activities and planted chains share: the fleet, the document factory and a random source."""

from __future__ import annotations

import random
from dataclasses import dataclass

from eqlite.demo.documents import Doc, DocFactory
from eqlite.demo.world import Fleet, Host

Planned = tuple[int, Host, Doc]
"""A document waiting for delivery: its timestamp (ms), the host that logged it, the document."""


@dataclass(slots=True)
class Scene:
    """The context handed to every activity; ``rng`` is the only source of randomness it may use."""

    fleet: Fleet
    docs: DocFactory
    rng: random.Random
