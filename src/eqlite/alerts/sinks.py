"""Where alerts go: NDJSON (a file, written atomically, or standard output) and the SQLite store.

Every sink writes the same bytes for the same alerts: :func:`~eqlite.alerts.base.dumps_alert`
sorts keys at every level, so a run repeated with the same ``now`` produces a byte-identical
file. A file sink writes into a temporary file beside the target and renames it over the
target only when closed without error (after ``fsync``), so readers never see half a file and
an interrupted run leaves the previous file in place.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from eqlite.alerts.base import AlertOutputError, AlertSink, WriteResult, alert_uuid, dumps_alert
from eqlite.alerts.store import STORE_SUFFIXES, AlertStore
from eqlite.alerts.store import check_writable as check_store_writable

STDOUT: Final = "-"
NDJSON_SUFFIXES: Final = (".ndjson", ".jsonl", ".json")


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail early, naming the path, when an NDJSON file cannot be written there (``-`` always can).

    Raises:
        AlertOutputError: the path is a directory, its directory is missing or read-only, or
            the file exists and is read-only.

    >>> check_writable("-")
    >>> check_writable("/no/such/dir/alerts.ndjson")
    Traceback (most recent call last):
    ...
    eqlite.alerts.base.AlertOutputError: /no/such/dir/alerts.ndjson: directory /no/such/dir does not exist
    """
    text = os.fspath(path)
    if text == STDOUT:
        return
    target = Path(text)
    if target.is_dir():
        raise AlertOutputError("is a directory; give a file name for the alerts", text)
    directory = target.parent
    if not directory.exists():
        raise AlertOutputError(f"directory {directory} does not exist", text)
    if not directory.is_dir():
        raise AlertOutputError(f"{directory} is not a directory", text)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise AlertOutputError(f"directory {directory} is not writable", text)
    if target.exists() and not os.access(target, os.W_OK):
        raise AlertOutputError("file exists and is read-only", text)


class NdjsonSink:
    """Alerts as NDJSON, one per line, to a file (atomically replaced on close) or to stdout (``-``).

    Use it as a context manager: leaving the block normally publishes the file, an exception
    discards it. An alert whose id this sink already wrote is dropped.

    >>> import io
    >>> out = io.BytesIO()
    >>> with NdjsonSink("-", stream=out) as sink:
    ...     sink.write([{"kibana.alert.uuid": "a"}, {"kibana.alert.uuid": "a"}])
    WriteResult(written=1, duplicates=1)
    >>> out.getvalue()
    b'{"kibana.alert.uuid":"a"}\\n'
    """

    def __init__(self, path: str | os.PathLike[str], *, stream: IO[bytes] | None = None) -> None:
        self.path = os.fspath(path)
        self._seen: set[str] = set()
        self._temp: str | None = None
        self._closed = False
        if self.path == STDOUT:
            self._out: IO[bytes] = stream if stream is not None else sys.stdout.buffer
            return
        check_writable(self.path)
        target = Path(self.path)
        try:
            handle, self._temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
            os.fchmod(handle, mode)
        except OSError as error:
            raise AlertOutputError(f"cannot create a file beside it: {error.strerror or error}", self.path) from None
        self._out = os.fdopen(handle, "wb")

    def write(self, alerts: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Append a batch; returns how many lines were written and how many ids were repeats."""
        if self._closed:
            raise AlertOutputError("sink is closed", self.path)
        lines = []
        duplicates = 0
        for alert in alerts:
            uuid = alert_uuid(alert)
            if uuid in self._seen:
                duplicates += 1
                continue
            self._seen.add(uuid)
            lines.append(dumps_alert(alert))
        return self._emit(lines, duplicates)

    def write_lines(self, written: Sequence[tuple[str, bytes]]) -> WriteResult:
        """:meth:`write` for alerts already written as lines by :func:`dumps_alert`: (id, line) pairs."""
        if self._closed:
            raise AlertOutputError("sink is closed", self.path)
        lines = []
        for uuid, line in written:
            if uuid not in self._seen:
                self._seen.add(uuid)
                lines.append(line)
        return self._emit(lines, len(written) - len(lines))

    def _emit(self, lines: list[bytes], duplicates: int) -> WriteResult:
        try:
            self._out.write(b"".join(lines))
            if self._temp is None:
                self._out.flush()
        except BrokenPipeError:
            raise  # the reader of stdout went away; the command line treats that as a normal end
        except OSError as error:
            raise AlertOutputError(f"cannot write alerts: {error.strerror or error}", self.path) from None
        return WriteResult(len(lines), duplicates)

    def close(self) -> None:
        """Publish the file: flush, ``fsync``, rename over the target, ``fsync`` the directory."""
        if self._closed:
            return
        self._closed = True
        if self._temp is None:
            with contextlib.suppress(BrokenPipeError):
                self._out.flush()
            return
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            os.replace(self._temp, self.path)
        except OSError as error:
            self._discard()
            raise AlertOutputError(f"cannot write alerts: {error.strerror or error}", self.path) from None
        self._temp = None
        _sync_directory(Path(self.path).parent)

    def abort(self) -> None:
        """Discard what was written; the target file (if any) stays as it was."""
        if not self._closed:
            self._closed = True
            self._discard()

    def _discard(self) -> None:
        if self._temp is None:
            return
        with contextlib.suppress(OSError):
            self._out.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temp)
        self._temp = None

    def __enter__(self) -> NdjsonSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _sync_directory(directory: Path) -> None:
    """Make a rename durable; some platforms cannot open or sync directories, which is harmless."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _kind(target: str) -> str:
    if target == STDOUT:
        return "ndjson"
    suffix = Path(target).suffix.lower()
    if suffix in NDJSON_SUFFIXES:
        return "ndjson"
    if suffix in STORE_SUFFIXES:
        return "sqlite"
    raise AlertOutputError(
        f"cannot tell the output format from the name; use {', '.join(NDJSON_SUFFIXES)} for NDJSON, "
        f"{', '.join(STORE_SUFFIXES)} for the SQLite store, or '-' for standard output", target)


def check_target(target: str | os.PathLike[str]) -> None:
    """Check an alert destination named by :func:`open_sink` before any work is done.

    >>> check_target("alerts.txt")
    Traceback (most recent call last):
    ...
    eqlite.alerts.base.AlertOutputError: alerts.txt: cannot tell the output format from the name; \
use .ndjson, .jsonl, .json for NDJSON, .db, .sqlite, .sqlite3 for the SQLite store, or '-' for standard output
    """
    text = os.fspath(target)
    if _kind(text) == "ndjson":
        check_writable(text)
    else:
        check_store_writable(text)


def open_sink(target: str | os.PathLike[str]) -> AlertSink:
    """The sink a destination names: ``-`` (stdout), ``*.ndjson``/``*.jsonl``/``*.json``, or a store (``*.db``).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sink = open_sink(pathlib.Path(folder) / "alerts.ndjson")
    ...     result = sink.write([{"kibana.alert.uuid": "x"}])
    ...     sink.close()
    ...     (pathlib.Path(folder) / "alerts.ndjson").read_bytes()
    b'{"kibana.alert.uuid":"x"}\\n'
    """
    text = os.fspath(target)
    if _kind(text) == "ndjson":
        return NdjsonSink(text)
    return AlertStore(text)
