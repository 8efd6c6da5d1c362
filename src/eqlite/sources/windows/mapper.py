"""Turn normalized records, or EVTX records straight from the evtx JSON, into ECS documents.

A :class:`Mapper` holds one profile and a cache of compiled functions keyed by (channel, event id) and the
event data keys the kind's steps test; the first record of each kind and layout compiles its function
(see :mod:`.codegen`), every later one just calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eqlite.sources.windows.codegen import (
    EvtxMapFn,
    MapFn,
    analyze,
    compile_evtx_mapper,
    compile_mapper,
    drop_values,
)
from eqlite.sources.windows.profile import PROFILES, Profile
from eqlite.sources.windows.records import WinRecord, evtx_event_id, prepare_event_data

# Layouts (event data key tuples) remembered per kind; past that the table starts afresh.
_MAX_LAYOUTS = 256


@dataclass(slots=True)
class _Entry:
    """What the profile compiled for one (channel, event id), each function when first needed.

    A function is specialized to the record's event data keys, as far as the kind's steps look at them
    (``relevant``): layouts that differ only in other keys share it, so there are few per kind. Which
    function maps a record depends on the record alone, never on the records mapped before it.
    """

    index: str
    known: bool
    # ``channel:event_id`` for the unmapped counts; None when the profile lists the event id.
    unmapped: str | None
    # Event data values the module removes up front.
    drop: frozenset[str]
    relevant: frozenset[str]
    # Whether the kind's steps can read the evtx JSON directly (see :func:`.codegen.analyze`).
    evtx_compilable: bool
    # Functions by layout, and by relevant key set; for normalized records and for evtx JSON records.
    layouts: dict[tuple[str, ...], MapFn] = field(default_factory=dict)
    specialized: dict[frozenset[str], MapFn] = field(default_factory=dict)
    evtx_layouts: dict[tuple[str, ...], EvtxMapFn] = field(default_factory=dict)
    evtx_specialized: dict[frozenset[str], EvtxMapFn] = field(default_factory=dict)


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
        known = spec.module is not None and event_id in spec.module.events
        unmapped = None if known else f"{channel or '?'}:{event_id}"
        relevant, evtx_compilable = analyze(self.profile, spec, event_id)
        entry = _Entry(self.profile.index_for(spec), known, unmapped, drop_values(spec), relevant, evtx_compilable)
        self._cache[(channel, event_id)] = entry
        return entry

    def _specialize(self, entry: _Entry, channel: str, event_id: int, keys: tuple[str, ...]) -> MapFn:
        present = entry.relevant.intersection(keys)
        fn = entry.specialized.get(present)
        if fn is None:
            spec = self.profile.channel(channel)
            fn = entry.specialized[present] = compile_mapper(self.profile, spec, event_id, present)[0]
        if len(entry.layouts) >= _MAX_LAYOUTS:
            entry.layouts.clear()
        entry.layouts[keys] = fn
        return fn

    def _specialize_evtx(self, entry: _Entry, channel: str, event_id: int, keys: tuple[str, ...]) -> EvtxMapFn:
        present = entry.relevant.intersection(keys)
        fn = entry.evtx_specialized.get(present)
        if fn is None:
            fn = entry.evtx_specialized[present] = compile_evtx_mapper(self.profile, channel, event_id, present)[0]
        if len(entry.evtx_layouts) >= _MAX_LAYOUTS:
            entry.evtx_layouts.clear()
        entry.evtx_layouts[keys] = fn
        return fn

    def map_evtx(self, event: Any) -> tuple[dict[str, Any], str, str | None] | None:
        """Map one record of the ``evtx`` package's JSON (``orjson.loads(record["data"])["Event"]``) directly.

        The same document as :func:`~.records.from_evtx` then :meth:`map_tuple`, without the normalized
        record in between. Returns ``(source, index, unmapped)``, where ``unmapped`` is the
        ``channel:event_id`` label of an event id the profile does not list (else None); or None, with
        ``event`` untouched, for a record that :func:`~.records.from_evtx` must look at (no ``System``, no
        numeric event id, ...) or whose kind the profile maps from normalized records only. Otherwise
        ``event`` is changed in place and its ``EventData`` may become part of the document, so it must not
        be used again after a call that returned a document or raised.

        >>> mapper = Mapper("winlogbeat")
        >>> event = {"System": {"EventID": 4688, "Channel": "Security", "Computer": "HOST"},
        ...          "EventData": {"NewProcessName": "C:\\\\Windows\\\\mmc.exe", "NewProcessId": "0x10"}}
        >>> source, index, unmapped = mapper.map_evtx(event)
        >>> source["process"]["pid"], index, unmapped
        (16, 'winlogbeat-8.17.0', None)
        """
        if type(event) is not dict:
            return None
        system = event.get("System")
        if type(system) is not dict:
            return None
        event_id = evtx_event_id(system)
        if event_id is None:
            return None
        channel = system.get("Channel") or ""
        if type(channel) is not str:
            return None
        entry = self._cache.get((channel, event_id))
        if entry is None:
            entry = self._compile(channel, event_id)
        if not entry.evtx_compilable:
            return None
        data = event.get("EventData")
        if type(data) is dict:
            keys = prepare_event_data(data, entry.drop)
        else:
            data = {}
            keys = ()
        fn = entry.evtx_layouts.get(keys)
        if fn is None:
            fn = self._specialize_evtx(entry, channel, event_id, keys)
        return fn(event, system, data, self.host_id), entry.index, entry.unmapped

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
        fn = entry.layouts.get(keys)
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
