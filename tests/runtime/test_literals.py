"""The literal scanner gives the same answers with Hyperscan and with the Aho–Corasick fallback."""

from __future__ import annotations

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
