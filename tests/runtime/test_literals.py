"""The literal scanner gives the same answers with Hyperscan and with the Aho–Corasick fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eqlite.runtime import literals
from eqlite.runtime.literals import LiteralScanner

LITERALS = ["mmc.exe", "cmd.exe", "\\\\windows\\\\", "ab", "\u202e", "kb"]
# a right-to-left override (UTF-8 bytes) matches; a Kelvin sign (U+212A) is not the letter k
BLOCK = ('{"p": "MMC.EXE"}\n{"c": "c:\\\\Windows\\\\cmd.exe ab"}\n{"x": "abab"}\n'
         '{"f": "x\u202egpj.exe \u212ab"}\n').encode()


@pytest.mark.parametrize("engine", ["hyperscan", "aho-corasick"])
def test_engines_agree_on_ends_and_ids(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "aho-corasick":
        monkeypatch.setattr(literals, "_hyperscan", None)
    elif literals._hyperscan is None:
        pytest.skip("Hyperscan is not installed on this platform")
    scanner = LiteralScanner(LITERALS)
    assert scanner.engine == engine
    ends = sorted(scanner.ends(BLOCK))
    assert ends == _every_end(BLOCK, LITERALS)
    assert sorted(scanner.ends_and_shape(BLOCK)[0]) == ends
    assert scanner.scan(BLOCK.splitlines()[1]) == {1, 2, 3}
    assert scanner.scan(BLOCK.splitlines()[3]) == {4}
    # Only Hyperscan checks the shape of lines in the same pass; the fallback never claims it.
    assert scanner.ends_and_shape(BLOCK)[1] is (engine == "hyperscan")


VALUE_LINES = [
    (b'{"event": {"category": ["PROCESS"]}}', True),
    (b'{"event": {"category": [ "network", "process" ], "kind": "event"}}', True),
    (b'{"event": {"category": "process" }}', True),
    (b'{"a": "process", "b": 1}', True),
    (b'{"process": {"name": "x"}}', False),  # a key
    (b'{"a": "processes"}', False),
    (b'{"a": "a process"}', False),
]


@pytest.mark.parametrize("engine", ["hyperscan", "aho-corasick"])
def test_values_are_found_as_whole_string_values(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values take the ids after the literals'. Hyperscan finds them only as values; the fallback finds the
    quoted text, keys too (never less than the values present). Neither counts them as literal ends, nor
    as breaks in the lines' shape."""
    if engine == "aho-corasick":
        monkeypatch.setattr(literals, "_hyperscan", None)
    elif literals._hyperscan is None:
        pytest.skip("Hyperscan is not installed on this platform")
    scanner = LiteralScanner(["kind"], values=['"process"', '"dns"'])
    for line, holds in VALUE_LINES:
        found = scanner.scan(line)
        assert (1 in found) == (holds or (engine == "aho-corasick" and b'"process"' in line.lower())), line
        assert 2 not in found
    block = b"\n".join(line for line, _ in VALUE_LINES) + b"\n"
    assert scanner.ends_and_shape(block) == ([block.index(b"kind") + 4], engine == "hyperscan")


def _every_end(block: bytes, words: list[str]) -> list[int]:
    """End offsets of every occurrence of every word, ignoring ASCII case, overlapping ones too."""
    text = block.lower()
    found = []
    for word in words:
        needle = word.lower().encode()
        start = text.find(needle)
        while start != -1:
            found.append(start + len(needle))
            start = text.find(needle, start + 1)
    return sorted(found)


# ------------------------------------------------------------------ compiled databases kept on disk


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if literals._hyperscan is None:
        pytest.skip("Hyperscan is not installed on this platform")
    monkeypatch.setenv("EQLITE_CACHE_DIR", str(tmp_path))
    return tmp_path / "hyperscan"


def _refuse_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    real = literals._hyperscan

    class Refusing:
        def compile(self, **arguments: object) -> None:
            raise AssertionError("compiled again")

    class Module:
        Database = Refusing

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(literals, "_hyperscan", Module())


def _ids(scanner: LiteralScanner) -> list[int]:
    return sorted(scanner.scan(BLOCK))


def test_a_compiled_scanner_is_read_back_by_the_next_run(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = LiteralScanner(LITERALS)
    expected = _ids(first)
    first.ends(BLOCK)
    assert len(list(cache.glob("*.hsdb"))) == 2  # the line database and the block database
    _refuse_compiling(monkeypatch)
    again = LiteralScanner(LITERALS)
    assert _ids(again) == expected
    assert sorted(again.ends(BLOCK)) == _every_end(BLOCK, LITERALS)
    with pytest.raises(AssertionError, match="compiled again"):
        LiteralScanner(["mmc.exe"])  # other literals: another database


@pytest.mark.parametrize("damage", [lambda data: data[:-7], lambda data: data[:40] + b"x" * (len(data) - 40),
                                    lambda data: data[:32] + b"garbage"])
def test_a_damaged_file_is_compiled_again(cache: Path, damage: Any) -> None:
    expected = _ids(LiteralScanner(LITERALS))
    (kept,) = cache.glob("*.hsdb")
    kept.write_bytes(damage(kept.read_bytes()))
    assert _ids(LiteralScanner(LITERALS)) == expected
    # and nothing is made up for what was never kept
    assert literals._cached_database(literals._database_file([b"x"], 0)) is None


def test_only_the_most_recent_databases_are_kept(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(literals, "DATABASES_KEPT", 3)
    cache.mkdir(parents=True)
    stale, fresh = cache / ".part-stale", cache / ".part-fresh"  # a killed writer's leftovers; one being written
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (1, 1))
    for number in range(6):
        LiteralScanner([f"literal{number}"])
    assert len(list(cache.glob("*.hsdb"))) == 3
    assert not stale.exists() and fresh.exists()


def test_no_cache_folder_or_an_unwritable_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if literals._hyperscan is None:
        pytest.skip("Hyperscan is not installed on this platform")
    monkeypatch.setenv("EQLITE_CACHE_DIR", "")
    assert literals.cache_folder() is None
    assert _ids(LiteralScanner(LITERALS)) == [0, 1, 2, 3, 4]
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("EQLITE_CACHE_DIR", str(blocked))
    assert _ids(LiteralScanner(LITERALS)) == [0, 1, 2, 3, 4]
    assert not list(tmp_path.rglob("*.hsdb"))
