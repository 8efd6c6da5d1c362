"""Tell what kind of file a path holds by its content, not its name.

EVTX files start with the magic ``ElfFile\\0``, zip archives with ``PK``. A text file is Windows-event
JSON lines when its first object has the flat NXLog shape (``EventID`` + ``Channel``) or the raw
Winlogbeat 6 shape (``event_id`` + ``log_name``); any other JSON object means ECS NDJSON, which other
sources read.
"""

from __future__ import annotations

import os
from typing import IO, Literal

import orjson

from eqlite.sources.windows.records import is_nxlog, is_winlogbeat6

FileFormat = Literal["evtx", "zip", "winevent-json", "ndjson", "empty", "unknown"]

EVTX_MAGIC = b"ElfFile\x00"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_PEEK = 1 << 16
_MAX_FIRST_LINE = 1 << 24


def classify_head(head: bytes, stream: IO[bytes] | None = None) -> FileFormat:
    """Classify by the first bytes; ``stream`` (positioned after ``head``) is read on if the first line is long.

    >>> classify_head(b'{"EventID": 4624, "Channel": "Security"}\\n')
    'winevent-json'
    >>> classify_head(b'{"@timestamp": "2020-01-01T00:00:00Z", "event": {"code": "1"}}\\n')
    'ndjson'
    """
    if not head:
        return "empty"
    if head.startswith(EVTX_MAGIC):
        return "evtx"
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf")
    line = b""
    for candidate in text.splitlines(keepends=True):
        if candidate.strip():
            line = candidate
            break
    if not line:
        return "empty" if not text.strip() else "unknown"
    if not line.endswith((b"\n", b"\r")) and stream is not None:
        # The first object is longer than the peek: read the rest of that line.
        line += stream.readline(_MAX_FIRST_LINE)
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "unknown"
    if not isinstance(obj, dict):
        return "unknown"
    if is_nxlog(obj) or is_winlogbeat6(obj):
        return "winevent-json"
    return "ndjson"


def detect_format(path: str | os.PathLike[str]) -> FileFormat:
    """Tell whether ``path`` holds EVTX, a zip archive, Windows-event JSON lines or plain ECS NDJSON.

    Args:
        path: the file to look at; only its first bytes (or first line) are read.

    Returns:
        ``"evtx"``, ``"zip"``, ``"winevent-json"``, ``"ndjson"``, ``"empty"`` (no bytes, or only
        whitespace) or ``"unknown"``.

    Raises:
        OSError: the file cannot be opened.
    """
    with open(path, "rb") as handle:
        head = handle.read(_PEEK)
        return classify_head(head, handle)
