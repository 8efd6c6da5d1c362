"""What every alert destination shares: its errors, the result of a write, and the sink protocol.

A sink takes alert documents (as built by :mod:`eqlite.alerts.build`) in batches and keeps
each ``kibana.alert.uuid`` at most once, as Kibana does when it drops alerts whose id is
already in the alerts index (detection-engine.md §0.8). Destinations that cannot be written
fail *before* a rule runs: callers check them first with the destination's ``check_writable``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from eqlite.errors import EqliteError

Alert = dict[str, Any]
"""An alert document: source fields (nested as in the event) plus dotted ``kibana.*`` keys."""

ALERT_UUID = "kibana.alert.uuid"


class AlertOutputError(EqliteError):
    """An alert destination that cannot be opened, written or read; names the path.

    >>> str(AlertOutputError("directory does not exist", "/nope/alerts.ndjson"))
    '/nope/alerts.ndjson: directory does not exist'
    """

    kind = "alert_output_error"

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class AlertStoreError(AlertOutputError):
    """The SQLite alert store cannot be opened, migrated, written or read."""

    kind = "alert_store_error"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How many alerts a write kept, and how many it dropped because their id was already there.

    >>> WriteResult(3, 1) + WriteResult(2, 0)
    WriteResult(written=5, duplicates=1)
    """

    written: int = 0
    duplicates: int = 0

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(self.written + other.written, self.duplicates + other.duplicates)


class AlertSink(Protocol):
    """A destination for alert documents (NDJSON file, standard output, SQLite store)."""

    def write(self, alerts: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Write one batch; alerts whose id the sink already holds are dropped."""
        ...

    def close(self) -> None:
        """Make everything written so far durable and release the destination."""
        ...


def alert_uuid(alert: Mapping[str, Any]) -> str:
    """The alert's ``kibana.alert.uuid``; a ValueError when the document has none.

    >>> alert_uuid({"kibana.alert.uuid": "ab12"})
    'ab12'
    """
    value = alert.get(ALERT_UUID)
    if not isinstance(value, str) or not value:
        raise ValueError(f"alert document has no {ALERT_UUID!r} (got {value!r})")
    return value


_DUMP_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE

# Values that many alerts hold as the same objects (a rule's values, about 15 KB of JSON with its
# investigation guide), with their JSON written once: by rule uuid, ({key: value}, {key: JSON}),
# for the SHARED_KEPT rules that shared most recently.
_SHARED: OrderedDict[str, tuple[dict[str, Any], dict[str, orjson.Fragment]]] = OrderedDict()
SHARED_KEPT = 64


def share_values(rule_uuid: str, values: Mapping[str, Any]) -> None:
    """Say that the alerts of rule ``rule_uuid`` will hold these top-level values as these very
    objects, never changed: :func:`dumps_alert` then writes each one's JSON once, not per alert."""
    _SHARED[rule_uuid] = (dict(values), {key: orjson.Fragment(orjson.dumps(value, option=orjson.OPT_SORT_KEYS,
                                                                           default=str))
                                          for key, value in values.items()})
    _SHARED.move_to_end(rule_uuid)
    while len(_SHARED) > SHARED_KEPT:
        _SHARED.popitem(last=False)


def dumps_alert(alert: Mapping[str, Any]) -> bytes:
    """One alert as a line of NDJSON: compact, keys sorted at every level, newline-terminated.

    The same document always gives the same bytes, whatever order its keys were built in
    (and whether or not its rule's values were shared, see :func:`share_values`).

    >>> dumps_alert({"kibana.alert.uuid": "a", "@timestamp": "t", "host": {"name": "h", "id": "1"}})
    b'{"@timestamp":"t","host":{"id":"1","name":"h"},"kibana.alert.uuid":"a"}\\n'
    """
    rule_uuid = alert.get("kibana.alert.rule.uuid") if _SHARED else None
    shared = _SHARED.get(rule_uuid) if isinstance(rule_uuid, str) else None
    if shared is not None:
        values, written = shared
        replaced: dict[str, Any] | None = None
        for key, value in values.items():
            if alert.get(key) is value:  # the very object shared, so unchanged: its JSON is known
                if replaced is None:
                    replaced = dict(alert)
                replaced[key] = written[key]
        if replaced is not None:
            alert = replaced
    return orjson.dumps(alert, option=_DUMP_OPTIONS, default=str)
