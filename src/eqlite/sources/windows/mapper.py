"""Turn normalized records into ECS documents with a compiled profile.

A :class:`Mapper` holds one profile and a cache of compiled functions keyed by (channel, event id); the
first record of each kind compiles its function (see :mod:`.codegen`), every later one just calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eqlite.sources.windows.codegen import MapFn, compile_mapper
from eqlite.sources.windows.profile import PROFILES, Profile
from eqlite.sources.windows.records import WinRecord

_MAX_VARIANTS = 32


@dataclass(slots=True)
class _Entry:
    """What the profile compiled for one (channel, event id)."""

    generic: MapFn
    index: str
    known: bool
    # Functions specialized to one set of event data keys (records of one Sysmon/Windows version).
    variants: dict[tuple[str, ...], MapFn]


@dataclass(frozen=True, slots=True)
class Mapped:
    """One mapped event: the ECS document, its index, and whether the profile lists its event id."""

    source: dict[str, Any]
    index: str
    known: bool


class Mapper:
    """Map records with one profile, compiling each (channel, event id) once.

    >>> mapper = Mapper("winlogbeat")
    >>> rec = {"channel": "Security", "event_id": 4688, "computer": "HOST", "time_created": "2021-01-01T00:00:00Z",
    ...        "event_data": {"NewProcessName": "C:\\\\Windows\\\\System32\\\\mmc.exe", "NewProcessId": "0x10"}}
    >>> doc = mapper.map(rec).source
    >>> doc["process"]["name"], doc["process"]["pid"], doc["event"]["category"], "entity_id" in doc["process"]
    ('mmc.exe', 16, ['process'], False)
    """

    def __init__(self, profile: str | Profile = "winlogbeat", host_id: str | None = None) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.host_id = host_id
        self._cache: dict[tuple[str, int], _Entry] = self.profile.compiled

    def _compile(self, channel: str, event_id: int) -> _Entry:
        spec = self.profile.channel(channel)
        fn, known = compile_mapper(self.profile, spec, event_id)
        entry = _Entry(fn, self.profile.index_for(spec), known, {})
        self._cache[(channel, event_id)] = entry
        return entry

    def _specialize(self, entry: _Entry, channel: str, event_id: int, keys: tuple[str, ...]) -> MapFn:
        if len(entry.variants) >= _MAX_VARIANTS:
            # Records of this kind vary too much for specializing to pay off.
            return entry.generic
        fn = compile_mapper(self.profile, self.profile.channel(channel), event_id, keys)[0]
        entry.variants[keys] = fn
        return fn

    def map(self, record: WinRecord) -> Mapped:
        """Map one record to an ECS document (a new dict; the record is not changed)."""
        return Mapped(*self.map_tuple(record))

    def map_tuple(self, record: WinRecord) -> tuple[dict[str, Any], str, bool]:
        """:meth:`map` as a plain ``(source, index, known)`` tuple, for readers' inner loops."""
        channel = record["channel"]
        event_id = record["event_id"]
        entry = self._cache.get((channel, event_id))
        if entry is None:
            entry = self._compile(channel, event_id)
        keys = tuple(record["event_data"])
        fn = entry.variants.get(keys)
        if fn is None:
            fn = self._specialize(entry, channel, event_id, keys)
        return fn(record, self.host_id), entry.index, entry.known


def map_record(record: WinRecord, profile: str | Profile = "winlogbeat", host_id: str | None = None) -> dict[str, Any]:
    """Map one normalized record to the ECS document the collector of ``profile`` would ship.

    The function compiled for each (channel, event id) is kept with the profile, so repeated calls are cheap.

    Args:
        record: the normalized record (System fields and an ``event_data`` dict), as both readers produce.
        profile: ``"winlogbeat"`` or ``"agent"``, or a loaded :class:`Profile`.
        host_id: value of ``host.id``; defaults to the record's computer name.

    Returns:
        The document (``_source``), nested as the collector ships it.

    >>> rec = {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 3, "computer": "IEWIN7",
    ...        "time_created": "2019-04-30T20:35:13.168589Z",
    ...        "event_data": {"UtcTime": "2019-04-30 20:35:11.980", "Initiated": "false", "SourcePort": "49163"}}
    >>> doc = map_record(rec, "agent")
    >>> doc["@timestamp"], doc["network"]["direction"], doc["source"]["port"], doc["data_stream"]["dataset"]
    ('2019-04-30T20:35:11.980Z', 'ingress', 49163, 'windows.sysmon_operational')
    """
    return Mapper(profile, host_id).map(record).source
