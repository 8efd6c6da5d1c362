"""The one random source type of the generator: a seeded ``random.Random`` with cheaper draws."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

T = TypeVar("T")


class DemoRandom(random.Random):
    """``random.Random`` whose ``randint`` and ``choice`` use one ``random()`` call each.

    The stdlib versions draw rejection-sampled bits, which costs several times more and is
    not needed for synthetic telemetry. Seeding with a string is stable across processes
    and Python versions (it hashes with SHA-512), so runs stay reproducible.

    >>> DemoRandom("7:demo").randint(1, 6) == DemoRandom("7:demo").randint(1, 6)
    True
    """

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        if not len(seq):
            raise IndexError("cannot choose from an empty sequence")
        return seq[int(self.random() * len(seq))]
