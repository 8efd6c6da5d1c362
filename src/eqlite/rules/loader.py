"""Load rules from files and folders, never stopping at a bad one; find rules by id or name.

``load_rules`` walks folders recursively and reads every ``.toml`` (detection-rules), ``.ndjson``
(Kibana export) and ``.json`` (API object, array, Fleet asset) file in a stable order. Each
problem - an unreadable file, a syntax error, a missing field - becomes a :class:`RuleError`
with the path and, where known, ``line:col``, and the load goes on with the next file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from eqlite.errors import QueryError, RuleError
from eqlite.rules.kibana_format import rules_from_json, rules_from_ndjson, rules_to_ndjson
from eqlite.rules.model import Rule, RuleLoadResult
from eqlite.rules.toml_format import rule_from_toml, rule_to_toml

PathLike = str | os.PathLike[str]


def _toml_result(text: str, path: str) -> RuleLoadResult:
    try:
        return RuleLoadResult((rule_from_toml(text, path),), (), 1)
    except RuleError as error:
        return RuleLoadResult((), (error,), 1)


_READERS: dict[str, Callable[[str, str], RuleLoadResult]] = {
    ".toml": _toml_result,
    ".ndjson": rules_from_ndjson,
    ".json": rules_from_json,
}
RULE_SUFFIXES = frozenset(_READERS)
"""File name endings that :func:`load_rules` reads."""


def load_rule_file(path: PathLike) -> RuleLoadResult:
    """Load the rules of one file, chosen by its suffix; problems come back as errors.

    >>> result = load_rule_file("no/such/rule.toml")
    >>> result.rules, str(result.errors[0])
    ((), 'no/such/rule.toml: cannot read the file: No such file or directory')
    """
    shown = os.fspath(path)
    reader = _READERS.get(Path(shown).suffix.lower())
    if reader is None:
        message = f"unsupported rule file type; expected one of {', '.join(sorted(RULE_SUFFIXES))}"
        return RuleLoadResult((), (RuleError(message, shown),), 0)
    try:
        raw = Path(shown).read_bytes()
    except OSError as error:
        return RuleLoadResult((), (RuleError(f"cannot read the file: {error.strerror}", shown),), 0)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        col = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        return RuleLoadResult((), (RuleError("the file is not UTF-8 text", shown, line, col),), 1)
    return reader(text.replace("\r\n", "\n"), shown)


def _walk(folder: Path) -> Iterator[Path]:
    # Sorted, so that rules and errors come out in the same order on every machine.
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry)
        elif entry.suffix.lower() in RULE_SUFFIXES:
            yield entry


def load_rules(paths: PathLike | Iterable[PathLike]) -> RuleLoadResult:
    """Load every rule under the given files and folders (folders are walked recursively).

    Hidden files and folders are skipped, and so are files of other types inside folders; a
    file named explicitly must be a rule file. One broken file never stops the others.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as name:
    ...     folder = pathlib.Path(name)
    ...     _ = (folder / "good.toml").write_text('[rule]\\nrule_id = "r1"\\nname = "n"\\ndescription = ""\\n'
    ...         'type = "eql"\\nrisk_score = 1\\nseverity = "low"\\n')
    ...     _ = (folder / "bad.toml").write_text('[rule\\n')
    ...     result = load_rules(folder)
    >>> [rule.rule_id for rule in result.rules], [(e.line, e.col) for e in result.errors], result.files
    (['r1'], [(1, 6)], 2)
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    rules: list[Rule] = []
    errors: list[RuleError] = []
    files = 0
    for given in paths:
        path = Path(given)
        if path.is_dir():
            targets: Iterable[Path] = _walk(path)
        elif path.exists():
            targets = [path]
        else:
            errors.append(RuleError("no such file or directory", os.fspath(given)))
            continue
        for target in targets:
            result = load_rule_file(target)
            rules.extend(result.rules)
            errors.extend(result.errors)
            files += result.files
    return RuleLoadResult(tuple(rules), tuple(errors), files)


def check_queries(rules: Iterable[Rule]) -> tuple[RuleError, ...]:
    """Parse the query of every rule eqlite can execute; each syntax error is located in its file.

    Only parsing is done here (``eqlite.syntax.parser.parse``); field and type checks belong to
    the semantic analysis.

    >>> rule = Rule.from_dict({"rule_id": "r", "name": "Typo", "description": "", "type": "eql",
    ...     "language": "eql", "query": "process where x = 1", "risk_score": 1, "severity": "low"})
    >>> [str(error) for error in check_queries([rule])]
    ["rule 'Typo': '=' is not an EQL operator; use '==' (case-sensitive) or ':' (case-insensitive)"]
    """
    # Imported here: loading rules should not pay for building the EQL parser.
    from eqlite.syntax.parser import parse

    errors: list[RuleError] = []
    for rule in rules:
        if rule.query is None or not rule.execution_support().supported:
            continue
        try:
            parse(rule.query)
        except QueryError as error:
            errors.append(rule.query_error(error.message, error.span.line, error.span.col))
    return tuple(errors)


def find_rules(rules: Iterable[Rule], key: str) -> tuple[Rule, ...]:
    """Rules whose ``rule_id`` is ``key``, or else whose name is ``key`` (ignoring case).

    >>> rule = Rule.from_dict({"rule_id": "ABC-1", "name": "Remote Thing", "description": "",
    ...     "type": "eql", "risk_score": 1, "severity": "low"})
    >>> find_rules([rule], "abc-1") == find_rules([rule], "remote THING") == (rule,)
    True
    """
    wanted = key.strip().casefold()
    candidates = tuple(rules)
    by_id = tuple(rule for rule in candidates if rule.rule_id.casefold() == wanted)
    if by_id:
        return by_id
    return tuple(rule for rule in candidates if rule.name.strip().casefold() == wanted)


def find_rule(rules: Iterable[Rule], key: str) -> Rule | None:
    """The first rule :func:`find_rules` matches, or ``None``."""
    found = find_rules(rules, key)
    return found[0] if found else None


def save_rules(rules: Iterable[Rule], path: PathLike) -> None:
    """Write rules to a ``.ndjson`` export, or a single rule to a ``.toml`` file.

    >>> save_rules([], "rules.yaml")
    Traceback (most recent call last):
    ...
    ValueError: cannot write rules to 'rules.yaml': use a .toml (one rule) or .ndjson file
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".ndjson":
        target.write_text(rules_to_ndjson(rules), encoding="utf-8")
        return
    if suffix == ".toml":
        items = list(rules)
        if len(items) != 1:
            raise ValueError(f"a TOML rule file holds exactly one rule, got {len(items)}")
        target.write_text(rule_to_toml(items[0]), encoding="utf-8")
        return
    raise ValueError(f"cannot write rules to {os.fspath(path)!r}: use a .toml (one rule) or .ndjson file")
