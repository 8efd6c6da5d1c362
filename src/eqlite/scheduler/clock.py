"""The watch's notion of *now*: the wall clock, or a simulated clock for tests and demos.

``--clock real`` (the default) is the system clock in UTC. ``--clock file:PATH`` reads the
current instant from a file (ISO-8601, e.g. ``2024-05-14T08:05:00Z``) that a test or a demo
rewrites: runs start when that instant passes their due time, and a jump of half an hour
looks to the scheduler exactly like half an hour of downtime (catch-up windows, then a gap).
Because nothing but the file moves simulated time, a test can drive the watch step by step
and get the same runs, at the same instants, on every attempt. ``--clock
speed:FACTOR@ISO`` starts at ``ISO`` when the watch starts and runs ``FACTOR`` times faster
than the wall clock (a one-hour demo in a minute with ``speed:60``); it is not resumable
across restarts, so checkpoints written with it should not be reused with another clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from eqlite.scheduler.datemath import TimeError, parse_instant


class Clock(Protocol):
    """Where the watch reads the current instant (epoch ms, UTC)."""

    @property
    def simulated(self) -> bool: ...

    @property
    def spec(self) -> str: ...

    def now(self) -> int: ...


@dataclass(slots=True)
class RealClock:
    """The system clock.

    >>> RealClock().now() > 1_700_000_000_000
    True
    """

    simulated: bool = False
    spec: str = "real"

    def now(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass(slots=True)
class FileClock:
    """Simulated time read from a file on every call.

    A file that cannot be read or parsed (being rewritten, say) leaves the clock where it was;
    time never goes back.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "clock")
    >>> _ = Path(path).write_text("2024-05-14T08:05:00Z\\n")
    >>> clock = FileClock(path)
    >>> clock.now()
    1715673900000
    >>> _ = Path(path).write_text("2024-05-14T08:00:00Z")
    >>> clock.now()
    1715673900000
    """

    path: str
    simulated: bool = True
    _last: int | None = field(default=None, repr=False)

    @property
    def spec(self) -> str:
        return f"file:{self.path}"

    def now(self) -> int:
        try:
            instant = parse_instant(Path(self.path).read_text(encoding="utf-8").strip())
        except (OSError, TimeError):
            if self._last is None:
                raise TimeError(f"clock file {self.path}: cannot read an ISO-8601 time from it (write e.g. "
                                "2024-05-14T08:00:00Z into it)") from None
            return self._last
        if self._last is None or instant > self._last:
            self._last = instant
        return self._last


@dataclass(slots=True)
class SpeedClock:
    """Simulated time that starts at ``start`` and runs ``factor`` times faster than the wall clock.

    >>> clock = SpeedClock(1715673600000, 60.0)
    >>> 0 <= clock.now() - 1715673600000 < 60_000
    True
    """

    start: int
    factor: float
    simulated: bool = True
    _origin: float = field(default_factory=time.monotonic, repr=False)

    @property
    def spec(self) -> str:
        return f"speed:{self.factor:g}"

    def now(self) -> int:
        return self.start + int((time.monotonic() - self._origin) * 1000 * self.factor)


def parse_clock(text: str) -> Clock:
    """``--clock``: ``real``, ``file:PATH`` or ``speed:FACTOR@ISO``.

    >>> parse_clock("real").simulated, parse_clock("speed:60@2024-05-14T08:00:00Z").factor
    (False, 60.0)
    """
    if text == "real":
        return RealClock()
    if text.startswith("file:") and len(text) > 5:
        return FileClock(text[5:])
    if text.startswith("speed:") and "@" in text:
        factor, _, start = text[6:].partition("@")
        try:
            value = float(factor)
        except ValueError:
            value = 0.0
        if value <= 0:
            raise TimeError(f"--clock {text!r}: the speed factor must be a positive number (e.g. speed:60@...)")
        return SpeedClock(parse_instant(start), value)
    raise TimeError(f"--clock {text!r}: use 'real', 'file:PATH' (simulated time read from PATH) or "
                    "'speed:FACTOR@ISO' (simulated time from ISO, FACTOR times faster)")
