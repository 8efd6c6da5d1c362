"""Find which of many literals occur in a line, ignoring ASCII case.

Hyperscan (x86-64) scans a 1.5 KB line for a thousand literals in about 3 µs, without
lower-casing the line first. Where it is not installed, Aho–Corasick (pyahocorasick) over
the lower-cased line gives the same answer, several times slower.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import platform
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _optional(module: str) -> Any:
    """The module if it is installed, else None."""
    try:  # pragma: no cover - which branch runs depends on the platform
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover
        return None


_hyperscan: Any = _optional("hyperscan")


# ------------------------------------------------------------------ compiled databases, kept on disk

CACHE_ENVIRONMENT = "EQLITE_CACHE_DIR"
DATABASES_KEPT = 48  # (a rule set keeps a few: the main scanner, its category scanners, the number checks)


def cache_folder() -> Path | None:
    """Where compiled scanners are kept between runs: ``$EQLITE_CACHE_DIR`` (empty: nowhere), else
    ``$XDG_CACHE_HOME/eqlite``, else ``~/.cache/eqlite``."""
    chosen = os.environ.get(CACHE_ENVIRONMENT)
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eqlite"


def _database_file(expressions: Sequence[bytes], flags: int, ids: Sequence[int] | None = None) -> Path | None:
    folder = cache_folder()
    if folder is None:
        return None
    key = hashlib.sha256(f"{_hyperscan.__version__}\n{platform.machine()}\n{flags}\n".encode())
    if ids is not None:
        key.update(b"ids:" + b",".join(str(number).encode() for number in ids) + b"\n")
    for expression in expressions:
        key.update(len(expression).to_bytes(4, "little"))
        key.update(expression)
    return folder / "hyperscan" / f"{key.hexdigest()[:40]}.hsdb"


def _cached_database(path: Path | None) -> Any:
    """The database compiled earlier and kept at ``path`` (see _database_file); None when there is none usable.

    A file is the SHA-256 of the serialized database, then the database; one that does not
    check out, or that Hyperscan refuses (another CPU's, say), is compiled again.
    """
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest, serialized = data[:32], data[32:]
    if hashlib.sha256(serialized).digest() != digest:
        return None
    try:
        database = _hyperscan.loadb(serialized, _hyperscan.HS_MODE_BLOCK)
        database.scratch = _hyperscan.Scratch(database)
    except _hyperscan.error:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept longest
    return database


def _keep_database(path: Path | None, database: Any) -> None:
    """Write a compiled database to ``path`` for later runs (atomically), keeping the DATABASES_KEPT most
    recent. Keeping is an optimisation only: a folder that cannot be written is left alone.
    """
    if path is None:
        return
    try:
        serialized = _hyperscan.dumpb(database)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(hashlib.sha256(serialized).digest() + serialized)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        kept = sorted(path.parent.glob("*.hsdb"), key=lambda file: file.stat().st_mtime, reverse=True)
        for old in kept[DATABASES_KEPT:]:
            old.unlink(missing_ok=True)
        # what a process killed while writing left behind (a write takes milliseconds)
        for part in path.parent.glob(".part-*"):
            if part.stat().st_mtime < time.time() - 3600:
                part.unlink(missing_ok=True)
    except (OSError, _hyperscan.error):
        pass


def hyperscan_installed() -> bool:
    """Whether scanners use Hyperscan (which alone finds regular expressions: see LiteralScanner)."""
    return _hyperscan is not None


# A newline not preceded by "}" or not followed by "{": a line that is blank, or not one JSON object.
_SHAPE_BREAKS = (rb"[^}]\n", rb"\n[^{]")


class LiteralScanner:
    """Reports the ids (positions in ``literals``) of the literals found in a line.

    Matching ignores ASCII case; a literal's other characters are matched as their UTF-8 bytes.

    >>> scanner = LiteralScanner(["mmc.exe", "cmd.exe", "nothere", chr(0x202E)])
    >>> sorted(scanner.scan(b'{"process": {"name": "MMC.EXE", "args": ["cmd.exe"]}}'))
    [0, 1]
    >>> sorted(scanner.scan('{"file": {"name": "x\u202egpj.exe"}}'.encode()))
    [3]
    """

    def __init__(self, literals: Sequence[str], values: Sequence[str] = (), expressions: Sequence[bytes] = (),
                 only: Sequence[int] | None = None) -> None:
        self.literals = [literal.lower() for literal in literals]
        # With ``only`` (Hyperscan alone), the scanner looks for those ids alone: a part of the
        # patterns, whose ids are kept (see FastExecution's category scanners).
        self.only = None if only is None else list(only)
        # Quoted JSON string values, as a line holds them (see prefilter.quoted_value): id
        # len(literals) + i when ``values[i]`` occurs as a whole value (Hyperscan: followed by what
        # follows a value; the fallback: anywhere, keys too).
        self.values = [value.lower() for value in values]
        # Regular expressions (Hyperscan's syntax), ids past the values'. Only Hyperscan looks for them:
        # check ``engine`` before relying on them.
        self.expressions = list(expressions)
        self._engine = "none"
        self._database: Any = None
        self._shape_match: Any = None
        self._automaton: Any = None
        # what scan() collects: one list and one callback for every call, rather than new ones each time
        self._found: list[int] = []
        append = self._found.append

        def on_match(identifier: int, start: int, end: int, flags: int, context: Any) -> None:
            append(identifier)

        self._on_match = on_match
        if not self.literals and not self.values and not (self.expressions and _hyperscan is not None):
            return
        if _hyperscan is not None:
            self._engine = "hyperscan"
            self._database = self._compile(_hyperscan.HS_FLAG_CASELESS | _hyperscan.HS_FLAG_SINGLEMATCH)
        elif only is not None:
            raise ValueError("a scanner of some of the patterns needs Hyperscan")
        else:
            import ahocorasick

            self._engine = "aho-corasick"
            automaton = ahocorasick.Automaton()
            for number, literal in enumerate(self.literals):
                automaton.add_word(_as_bytes_text(literal), number)
            for number, value in enumerate(self.values, start=len(self.literals)):
                automaton.add_word(_as_bytes_text(value), number)
            automaton.make_automaton()
            self._automaton = automaton

    def _compile(self, flags: int, extra: Sequence[bytes] = ()) -> Any:
        expressions = ([re.escape(literal).encode("utf-8") for literal in self.literals]
                       + [re.escape(value).encode("utf-8") + rb"\s*[,\]}]" for value in self.values]
                       + self.expressions + list(extra))
        ids = list(range(len(expressions)))
        if self.only is not None:
            ids = self.only + ids[len(expressions) - len(extra):]
            expressions = [expressions[number] for number in ids]
        kept_at = _database_file(expressions, flags, ids if self.only is not None else None)
        cached = _cached_database(kept_at)
        if cached is not None:
            return cached
        database = _hyperscan.Database()
        database.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=[flags] * len(expressions))
        _keep_database(kept_at, database)
        return database

    @property
    def engine(self) -> str:
        return self._engine

    def ends_and_shape(self, block: bytes) -> tuple[list[int], bool]:
        """:meth:`ends`, and whether every newline of ``block`` follows a ``}`` and precedes a ``{``.

        Both come from one pass over the block. The second is True only when that is known from the
        scan (Hyperscan); it then says that, between the block's first and last byte, every line is
        non-blank, begins with ``{`` and ends with ``}`` (the shape of an NDJSON object per line).

        >>> scanner = LiteralScanner(["mmc.exe"])
        >>> scanner.ends_and_shape(b'{"a": "mmc.exe"}\\n{"b": 1}\\n')[0]
        [14]
        >>> scanner.ends_and_shape(b'{"a": 1}\\n\\n{"b": 1}\\n')[1], scanner.ends_and_shape(b'{"a": 1}\\nx\\n')[1]
        (False, False)
        """
        if self._database is None:
            if self._automaton is None:
                return [], False
            # ASCII lower-casing keeps byte offsets (a UTF-8 decode would not).
            text = block.lower().decode("latin-1")
            literals = len(self.literals)
            return [end + 1 for end, number in self._automaton.iter(text) if number < literals], False
        if self._shape_match is None:
            self._shape_match = self._compile(_hyperscan.HS_FLAG_CASELESS, _SHAPE_BREAKS)
        found: list[int] = []
        append = found.append
        literals = len(self.literals)
        breaks = literals + len(self.values) + len(self.expressions)  # the shape breaks' first id
        broken: list[int] = []

        def on_match(identifier: int, start: int, end: int, flags: int, context: Any) -> None:
            if identifier < literals:
                append(end)
            elif identifier >= breaks:
                broken.append(end)

        self._shape_match.scan(block, match_event_handler=on_match)
        return found, not broken

    def ends(self, block: bytes) -> list[int]:
        """End offsets of every occurrence of any literal in ``block`` (in any ASCII case), unsorted.

        One call over a block of many lines costs far less than one call per line, when few
        lines hold a literal.

        >>> sorted(LiteralScanner(["mmc.exe"]).ends(b'a\\nrun MMC.exe\\nb mmc.exe\\n'))
        [13, 23]
        """
        return self.ends_and_shape(block)[0]

    def scan(self, line: bytes) -> frozenset[int]:
        """Ids of the literals that occur in ``line`` (in any ASCII case)."""
        if self._database is not None:
            found = self._found
            found.clear()
            self._database.scan(line, match_event_handler=self._on_match)
            return frozenset(found)
        if self._automaton is not None:
            # as Hyperscan does: ASCII case only, other bytes as they are
            return frozenset(number for _, number in self._automaton.iter(line.lower().decode("latin-1")))
        return frozenset()


def _as_bytes_text(literal: str) -> str:
    """``literal`` as its UTF-8 bytes read as Latin-1, one character per byte, as lines are scanned."""
    return literal.encode("utf-8").decode("latin-1")
