"""The normalized Windows event record, and how each input form is turned into it.

Both readers (EVTX through the ``evtx`` package, and the flattened JSON of NXLog/Mordor/HELK exports)
produce a :class:`WinRecord`: the ``System`` part as named fields plus the event data as a flat dict of
strings. The mapper never sees the input form, so one profile serves every reader.

Values are rendered as Winlogbeat renders them: every event data value is a string, booleans are
``"true"``/``"false"`` and GUIDs are upper case in braces (``{365ABB72-...}``). NXLog exports keep their own
GUID spelling (lower case): it is what the record says, and joins inside one export stay consistent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict


class WinRecord(TypedDict, total=False):
    """One Windows event, independent of the file format it came from.

    Only ``channel``, ``event_id``, ``computer``, ``time_created`` and ``event_data`` are always present.
    ``level_name``, ``task_name``, ``opcode_name`` and the ``user_*`` names are set only when the source
    rendered them (EVTX files carry numbers only; NXLog exports carry the rendered names).
    """

    channel: str
    provider_name: str
    provider_guid: str
    event_id: int
    version: int
    level: int
    level_name: str
    task: int
    task_name: str
    opcode: int
    opcode_name: str
    keywords: int
    keyword_names: list[str]
    time_created: str
    record_id: int
    activity_id: str
    related_activity_id: str
    process_id: int
    thread_id: int
    computer: str
    user_sid: str
    user_name: str
    user_domain: str
    user_type: str
    event_data: dict[str, str]
    user_data: dict[str, Any]
    user_data_name: str
    message: str


class RecordError(ValueError):
    """A record that has no usable Windows event structure."""


_GUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\Z")


_BRACED: dict[str, str] = {}
_BRACED_MAX = 16384


def _braced(value: str) -> str:
    # The evtx crate prints GUID values bare; Windows (and so Winlogbeat) prints them in braces.
    if len(value) != 36 or value[8] != "-":
        return value
    # The same GUIDs (logon sessions, parent processes, providers) come back again and again.
    hit = _BRACED.get(value)
    if hit is None:
        hit = "{" + value + "}" if _GUID.match(value) else value
        if len(_BRACED) >= _BRACED_MAX:
            _BRACED.clear()
        _BRACED[value] = hit
    return hit


def _text(value: Any) -> Any:
    """Render one evtx JSON value the way the Windows event API renders it as text."""
    kind = type(value)
    if kind is str:
        return _braced(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return ""
    if kind is dict:
        if "#text" in value:
            return _text(value["#text"])
        return {k: _text(v) for k, v in value.items() if k != "#attributes"}
    if kind is list:
        return [_text(v) for v in value]
    return str(value)


def _attrs(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs
    return {}


def _event_data(node: Any) -> dict[str, str]:
    if type(node) is not dict:
        return {}
    return render_event_data(dict(node))


def render_event_data(data: dict[str, Any]) -> dict[str, str]:
    """Render an ``EventData`` dict of the ``evtx`` JSON in place as Winlogbeat ships it, and return it.

    Values become strings, GUIDs get their braces, unnamed ``<Data>`` elements become ``param1``, ...

    >>> render_event_data({"ProcessId": 3572, "Initiated": True, "Data": {"#text": ["a", "b"]}})
    {'ProcessId': '3572', 'Initiated': 'true', 'param1': 'a', 'param2': 'b'}
    """
    # Most values are already plain strings; fix only the others (numbers, booleans, GUIDs, lists).
    odd = [k for k, v in data.items() if type(v) is not str or len(v) == 36]
    for key in odd:
        value = data[key]
        kind = type(value)
        if kind is str:
            data[key] = _braced(value)
        elif kind is int:
            data[key] = str(value)
        elif key == "#attributes":
            del data[key]
        elif key == "Data":
            # Unnamed <Data> elements: Winlogbeat names them param1, param2, ...
            del data[key]
            values = _text(value)
            if not isinstance(values, list):
                values = [values]
            for i, item in enumerate(values, 1):
                data[f"param{i}"] = _flat(item)
        else:
            data[key] = _flat(_text(value))
    return data


def prepare_event_data(data: dict[str, Any], drop: frozenset[str]) -> tuple[str, ...]:
    """:func:`render_event_data`, then remove the keys whose value is in ``drop``; return the keys before that.

    One pass over the values for what is otherwise three (render, find droppable values, copy the rest).

    >>> data = {"RuleName": "", "SourcePort": 49163}
    >>> prepare_event_data(data, frozenset({""})), data
    (('RuleName', 'SourcePort'), {'SourcePort': '49163'})
    """
    odd = [k for k, v in data.items() if type(v) is not str or len(v) == 36 or v in drop]
    if not odd:
        return tuple(data)
    if "Data" in data or "#attributes" in data:
        # Rare: rendering adds and removes keys, so render everything first and drop afterwards.
        render_event_data(data)
        keys = tuple(data)
        for key in [k for k, v in data.items() if v in drop]:
            del data[key]
        return keys
    keys = tuple(data)
    braced = _BRACED
    for key in odd:
        value = data[key]
        kind = type(value)
        if kind is int:
            value = str(value)
        elif kind is str:
            if len(value) == 36:
                value = braced.get(value) or _braced(value)
        else:
            value = _flat(_text(value))
        if value in drop:
            del data[key]
        else:
            data[key] = value
    return keys


def _flat(value: Any) -> str:
    """Event data values are strings, as Winlogbeat ships them; lists become one line per item."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_flat(v) for v in value)
    return str(value)


def _guid_attr(attrs: dict[str, Any], key: str) -> str | None:
    value = attrs.get(key)
    return "{" + str(value).strip("{}") + "}" if value else None


def evtx_event_id(system: dict[str, Any]) -> int | None:
    """The numeric ``EventID`` of an evtx ``System`` element (a number, or ``{"#text": ...}``); else None.

    >>> evtx_event_id({"EventID": 4688}), evtx_event_id({"EventID": {"#text": "1"}}), evtx_event_id({})
    (4688, 1, None)
    """
    eid = system.get("EventID")
    if type(eid) is int:
        return eid
    if type(eid) is dict:
        eid = eid.get("#text")
    try:
        return int(eid)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def from_evtx(event: dict[str, Any]) -> WinRecord:
    """Normalize one record as the ``evtx`` package prints it (``json.loads(record["data"])["Event"]``).

    Raises:
        RecordError: the record has no ``System`` element or no numeric event id.
    """
    # Written out field by field: this runs once per record and is a large part of the read cost.
    system = event.get("System")
    if type(system) is not dict:
        raise RecordError("record has no System element")
    eid = evtx_event_id(system)
    if eid is None:
        raise RecordError(f"record has no numeric EventID: {system.get('EventID')!r}")
    created = _attrs(system.get("TimeCreated")).get("SystemTime")
    rec: WinRecord = {
        "channel": system.get("Channel") or "",
        "event_id": eid,
        "computer": system.get("Computer") or "",
        "time_created": created if type(created) is str else "",
        "event_data": _event_data(event.get("EventData")),
    }
    provider = _attrs(system.get("Provider"))
    if provider:
        name = provider.get("Name")
        if name:
            rec["provider_name"] = name
        guid = _guid_attr(provider, "Guid")
        if guid:
            rec["provider_guid"] = guid
    value = system.get("Version")
    if type(value) is int:
        rec["version"] = value
    value = system.get("Level")
    if type(value) is int:
        rec["level"] = value
    value = system.get("Task")
    if type(value) is int:
        rec["task"] = value
    value = system.get("Opcode")
    if type(value) is int:
        rec["opcode"] = value
    value = system.get("Keywords")
    if type(value) is str and value.startswith("0x"):
        rec["keywords"] = int(value, 16)
    value = system.get("EventRecordID")
    if type(value) is int:
        rec["record_id"] = value
    correlation = system.get("Correlation")
    if correlation:
        attrs = _attrs(correlation)
        guid = _guid_attr(attrs, "ActivityID")
        if guid:
            rec["activity_id"] = guid
        guid = _guid_attr(attrs, "RelatedActivityID")
        if guid:
            rec["related_activity_id"] = guid
    execution = _attrs(system.get("Execution"))
    if execution:
        value = execution.get("ProcessID")
        if type(value) is int:
            rec["process_id"] = value
        value = execution.get("ThreadID")
        if type(value) is int:
            rec["thread_id"] = value
    security = system.get("Security")
    if security:
        sid = _attrs(security).get("UserID")
        if sid:
            rec["user_sid"] = str(sid)
    user_data = event.get("UserData")
    if user_data and type(user_data) is dict:
        name, body = _user_data(user_data)
        rec["user_data_name"] = name
        rec["user_data"] = body
    return rec


def _user_data(user_data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The element name and rendered body of a non-empty ``UserData`` element."""
    name, body = next(iter(user_data.items()))
    rendered = _text(body)
    return name, rendered if isinstance(rendered, dict) else {"value": rendered}


def evtx_user_data(event: dict[str, Any]) -> dict[str, Any] | None:
    """``winlog.user_data`` of one ``evtx`` record (its ``UserData`` body plus ``xml_name``), if any.

    >>> evtx_user_data({"UserData": {"LogFileCleared": {"SubjectUserName": "Bob"}}})
    {'SubjectUserName': 'Bob', 'xml_name': 'LogFileCleared'}
    """
    user_data = event.get("UserData")
    if not (user_data and type(user_data) is dict):
        return None
    name, body = _user_data(user_data)
    if not body:
        return None
    data = dict(body)
    if name:
        data["xml_name"] = name
    return data


# Keys that NXLog (im_msvistalog) and the Mordor Logstash stage add around the event data: where each
# goes in the record (None: dropped). Version and Task are NXLog's only as numbers: Sysmon 4 has a
# string Version in its event data. AccountName/Domain/AccountType are NXLog's lookup of UserID only
# when UserID is present; otherwise they are event data (4778 has AccountName).
_NXLOG_STR = {"SourceName": "provider_name", "ProviderGuid": "provider_guid", "Category": "task_name",
              "Opcode": "opcode_name", "ActivityID": "activity_id", "RelatedActivityID": "related_activity_id",
              "UserID": "user_sid", "Message": "message"}  # fmt: skip
_NXLOG_INT = {"Version": "version", "Task": "task", "OpcodeValue": "opcode", "RecordNumber": "record_id",
              "ExecutionProcessID": "process_id", "ThreadID": "thread_id"}  # fmt: skip
_NXLOG_USER = {"AccountName": "user_name", "Domain": "user_domain", "AccountType": "user_type"}
_NXLOG_OTHER = frozenset(
    {
        "EventID", "Channel", "Hostname", "Keywords", "Severity", "SeverityValue", "EventType", "EventTypeOrignal",
        "EventTime", "EventReceivedTime", "SourceModuleName", "SourceModuleType", "ERROR_EVT_UNRESOLVED",
        "@timestamp", "@version", "host", "port", "tags",
    }
)  # fmt: skip
_NXLOG_ROUTE: dict[str, tuple[str, str]] = {
    **{k: ("str", v) for k, v in _NXLOG_STR.items()},
    **{k: ("int", v) for k, v in _NXLOG_INT.items()},
    **{k: ("user", v) for k, v in _NXLOG_USER.items()},
    **{k: ("other", "") for k in _NXLOG_OTHER},
}
_SEVERITY_NAMES = {"INFO": "information", "WARNING": "warning", "ERROR": "error", "CRITICAL": "critical",
                   "DEBUG": "verbose", "VERBOSE": "verbose"}  # fmt: skip
_UINT64 = (1 << 64) - 1


def _nxlog_time(obj: dict[str, Any], cache: dict[tuple[str, str, str], str]) -> str:
    """UTC time of the event from NXLog's host-local ``EventTime`` (second precision).

    ``@timestamp`` in these exports is the ingest time, which can lag by minutes. NXLog writes
    ``EventTime`` and ``EventReceivedTime`` in its own local zone, so the zone offset is the distance
    between ``EventReceivedTime`` and ``@timestamp``, rounded to a quarter hour.
    """
    ingest = obj.get("@timestamp")
    local = obj.get("EventTime")
    received = obj.get("EventReceivedTime")
    if not (isinstance(ingest, str) and isinstance(local, str) and isinstance(received, str)):
        return ingest if isinstance(ingest, str) else ""
    key = (local, received, ingest[:16])
    hit = cache.get(key)
    if hit is not None:
        return hit
    try:
        utc_ingest = datetime.fromisoformat(ingest.replace("Z", "+00:00")).replace(tzinfo=None)
        offset = datetime.fromisoformat(received) - utc_ingest
        quarters = round(offset.total_seconds() / 900)
        event_utc = datetime.fromisoformat(local) - timedelta(seconds=quarters * 900)
        value = event_utc.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    except ValueError:
        value = ingest
    if len(cache) > 100_000:
        cache.clear()
    cache[key] = value
    return value


def from_nxlog(obj: dict[str, Any], time_cache: dict[tuple[str, str, str], str] | None = None) -> WinRecord:
    """Normalize one flat NXLog ``im_msvistalog`` record (OTRF Security-Datasets / Mordor exports).

    Raises:
        RecordError: the object has no ``EventID``.
    """
    try:
        eid = int(obj["EventID"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError("JSON object has no numeric EventID") from exc
    rec: WinRecord = {
        "channel": str(obj.get("Channel") or ""),
        "event_id": eid,
        "computer": str(obj.get("Hostname") or ""),
        "time_created": _nxlog_time(obj, {} if time_cache is None else time_cache),
    }
    has_user = "UserID" in obj
    data: dict[str, str] = {}
    # One pass, one lookup per key: a System field, a collector field, or event data.
    for key, value in obj.items():
        route = _NXLOG_ROUTE.get(key)
        kind = type(value)
        if route is None or (route[0] == "user" and not has_user) or (route[0] == "int" and kind is not int):
            data[key] = value if kind is str else _flat(_text(value))
        elif route[1] and (kind is int if route[0] == "int" else kind is str and value):
            rec[route[1]] = value  # type: ignore[literal-required]
    rec["event_data"] = data
    keywords = obj.get("Keywords")
    if type(keywords) is int:
        rec["keywords"] = keywords & _UINT64
    severity = obj.get("Severity")
    if type(severity) is str and severity in _SEVERITY_NAMES:
        rec["level_name"] = _SEVERITY_NAMES[severity]
    return rec


def from_winlogbeat6(obj: dict[str, Any]) -> WinRecord:
    """Normalize one raw Winlogbeat 6 document (``log_name``, ``event_id``, ``event_data``; older HELK exports).

    Raises:
        RecordError: the object has no ``event_id``.
    """
    try:
        eid = int(obj["event_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError("JSON object has no numeric event_id") from exc
    raw = obj.get("event_data")
    rec: WinRecord = {
        "channel": str(obj.get("log_name") or ""),
        "event_id": eid,
        "computer": str(obj.get("computer_name") or ""),
        "time_created": str(obj.get("@timestamp") or ""),
        "event_data": {k: _flat(_text(v)) for k, v in raw.items()} if isinstance(raw, dict) else {},
    }
    _copy_str(obj, rec, (("source_name", "provider_name"), ("provider_guid", "provider_guid"),
                         ("task", "task_name"), ("opcode", "opcode_name"), ("message", "message"),
                         ("activity_id", "activity_id"), ("level", "level_name")))  # fmt: skip
    _copy_int(obj, rec, (("record_number", "record_id"), ("process_id", "process_id"),
                         ("thread_id", "thread_id"), ("version", "version")))  # fmt: skip
    if "level_name" in rec:
        rec["level_name"] = rec["level_name"].lower()
    if isinstance(obj.get("keywords"), list):
        rec["keyword_names"] = [str(k) for k in obj["keywords"]]
    user = obj.get("user")
    if isinstance(user, dict):
        _copy_str(user, rec, (("identifier", "user_sid"), ("name", "user_name"), ("domain", "user_domain"),
                              ("type", "user_type")))  # fmt: skip
    user_data = obj.get("user_data")
    if isinstance(user_data, dict):
        rec["user_data"] = {k: _text(v) for k, v in user_data.items() if k != "xml_name"}
        if isinstance(user_data.get("xml_name"), str):
            rec["user_data_name"] = user_data["xml_name"]
    return rec


def _copy_str(src: dict[str, Any], rec: WinRecord, pairs: tuple[tuple[str, str], ...]) -> None:
    for key, name in pairs:
        value = src.get(key)
        if isinstance(value, str) and value:
            rec[name] = value  # type: ignore[literal-required]


def _copy_int(src: dict[str, Any], rec: WinRecord, pairs: tuple[tuple[str, str], ...]) -> None:
    for key, name in pairs:
        value = src.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            rec[name] = value  # type: ignore[literal-required]
        elif isinstance(value, str) and value.isdigit():
            rec[name] = int(value)  # type: ignore[literal-required]


def is_nxlog(obj: dict[str, Any]) -> bool:
    """Tell whether a JSON object is a flat NXLog/Mordor Windows event."""
    return "EventID" in obj and ("Channel" in obj or "SourceName" in obj) and "winlog" not in obj


def is_winlogbeat6(obj: dict[str, Any]) -> bool:
    """Tell whether a JSON object is a raw Winlogbeat 6 event (no ECS mapping yet)."""
    return "event_id" in obj and "log_name" in obj and "winlog" not in obj
