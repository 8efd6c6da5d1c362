"""The rules shipped inside eqlite: detection-rules TOML files in this package's folder.

The pack holds the seed rule "Incoming DCOM Lateral Movement with MMC" (version 3). Files are
read from package data on each call (no module-level cache), so tests and callers always see
the installed files.
"""

from __future__ import annotations

from importlib import resources

from eqlite.errors import RuleError
from eqlite.rules.loader import find_rule
from eqlite.rules.model import Rule
from eqlite.rules.toml_format import rule_from_toml

SEED_RULE_ID = "51ce96fb-9e52-4dad-b0ba-99b54440fc9a"
"""rule_id of "Incoming DCOM Lateral Movement with MMC"."""


def load_builtin_rules() -> tuple[Rule, ...]:
    """Load the built-in rule pack, sorted by file name.

    Raises :class:`RuleError` if a shipped file is broken (a packaging bug, never user input).

    >>> [rule.name for rule in load_builtin_rules()]
    ['Incoming DCOM Lateral Movement with MMC']
    """
    folder = resources.files("eqlite.rules.builtin")
    rules = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            rules.append(rule_from_toml(entry.read_text(encoding="utf-8"), str(entry)))
    if not rules:
        raise RuleError("the built-in rule pack is empty; is eqlite installed with its package data?")
    return tuple(rules)


def find_builtin_rule(key: str) -> Rule | None:
    """A built-in rule by ``rule_id`` or by name (case-insensitive), for ``eqlite rules show``.

    >>> find_builtin_rule("incoming dcom lateral movement with MMC").version
    3
    >>> find_builtin_rule(SEED_RULE_ID).risk_score
    73
    >>> find_builtin_rule("no such rule") is None
    True
    """
    return find_rule(load_builtin_rules(), key)
