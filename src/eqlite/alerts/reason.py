"""``kibana.alert.reason``: the one-sentence summary Kibana writes on every alert (detection-engine.md §3.7).

The sentence names the event category, then the "fields of interest" (process, parent
process, file, source and destination address and port), the user and the host, and ends
with the alert's severity and rule name::

    network event with process mmc.exe, source 10.0.0.5:50123, destination 10.0.0.9:50124,
    by adm on wks-1 created high alert Incoming DCOM Lateral Movement with MMC.

A piece is left out when its value is falsy, has no length (a number, a boolean, an object),
is empty, or is ``"-"``/``["-"]``; arrays are joined with ``", "``. Which document is read
depends on the Kibana version: up to 8.x (and early 9.x) the hit's ``fields`` (every value an
array, so ports appear), in current versions the ``_source`` (where a numeric port has no
length and is therefore left out). Shell alerts always read the intersection document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from eqlite.runtime.access import path_parts

_INTEREST: Final = (
    "process.name", "process.parent.name", "file.name",
    "source.ip", "source.port", "destination.ip", "destination.port",
)


def reason_text(document: Mapping[str, Any], *, severity: str, rule_name: str,
                fields: Mapping[str, list[Any]] | None = None) -> str:
    """Kibana's reason sentence for an alert.

    Args:
        document: the event ``_source`` (or, for a shell, the building blocks' intersection).
        severity: the alert's severity, as written (``high``).
        rule_name: the alert's rule name (after ``rule_name_override``).
        fields: the hit's ``fields`` view (see :func:`fields_view`); when given it is read
            instead of ``document``, as Kibana up to 8.x did.

    >>> doc = {"event": {"category": ["anomoly"]}, "process": {"name": "bro"},
    ...        "user": {"name": "root"}, "host": {"name": "zeek-sensor-amsterdam"}, "source": {"port": 8}}
    >>> reason_text(doc, severity="high", rule_name="Alert Testing Query")
    'anomoly event with process bro, by root on zeek-sensor-amsterdam created high alert Alert Testing Query.'
    >>> reason_text({"user": {"name": "root"}}, severity="low", rule_name="R")
    'event by root created low alert R.'
    """
    def read(path: str) -> str | None:
        raw = fields.get(path) if fields is not None else source_value(document, path)
        return _shown(raw)

    process, parent, file, source_ip, source_port, destination_ip, destination_port = map(read, _INTEREST)
    category = read("event.category")
    text = f"{category} event" if category is not None else "event"
    if any(value is not None for value in (process, parent, file, source_ip, source_port, destination_ip,
                                           destination_port)):
        text += " with"
    if process is not None:
        text += f" process {process},"
    if parent is not None:
        text += f" parent process {parent},"
    if file is not None:
        text += f" file {file},"
    if source_ip is not None:
        text += f" source {source_ip}"
    if source_port is not None:
        text += f":{source_port},"
    if destination_ip is not None:
        text += f" destination {destination_ip}"
    if destination_port is not None:
        text += f":{destination_port},"
    user = read("user.name")
    if user is not None:
        text += f" by {user}"
    host = read("host.name")
    if host is not None:
        text += f" on {host}"
    return f"{text} created {severity} alert {rule_name}."


def source_value(document: Mapping[str, Any], path: str) -> Any:
    """The raw value at ``path``: a top-level key spelt with dots, else a walk through nested objects.

    This is how a lookup by path string reads a JSON object in Kibana (lodash ``get``): a
    field that mixes the two spellings, or sits inside an array of objects, is not found.

    >>> source_value({"host": {"name": "h"}}, "host.name"), source_value({"host.name": "d"}, "host.name")
    ('h', 'd')
    >>> source_value({"host": [{"name": "h"}]}, "host.name") is None
    True
    """
    if path in document:
        return document[path]
    node: Any = document
    for part in path_parts(path):
        if (type(node) is not dict and not isinstance(node, Mapping)) or part not in node:  # dict: no ABC check
            return None
        node = node[part]
    return node


def fields_view(document: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Every leaf of a document by dotted path, each as a flat list: the shape of a hit's ``fields``.

    >>> fields_view({"source": {"port": 50123}, "event.category": "process", "a": [{"b": 1}, {"b": [2]}]})
    {'source.port': [50123], 'event.category': ['process'], 'a.b': [1, 2]}
    """
    out: dict[str, list[Any]] = {}
    _leaves(document, "", out)
    return out


def _leaves(value: Any, path: str, out: dict[str, list[Any]]) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _leaves(child, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for item in value:
            _leaves(item, path, out)
    elif value is not None and path:
        out.setdefault(path, []).append(value)


def _shown(value: Any) -> str | None:
    """The text of a value, or None when Kibana leaves it out (falsy, no length, empty, ``-``)."""
    if not isinstance(value, (str, list)) or not value:
        return None
    if len(value) == 1 and value[0] == "-":
        return None
    if isinstance(value, str):
        return value
    return ", ".join(_js_string(item) for item in value)


def _js_string(value: Any) -> str:
    """``String(value)`` as JavaScript renders a JSON value inside ``Array.join``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, (dict, list)):
        return "[object Object]" if isinstance(value, dict) else ",".join(_js_string(item) for item in value)
    return str(value)
