"""Necessary literals: text an event's raw JSON line must contain for a stage to match it.

A predicate like ``process.name : "mmc.exe"`` can only hold for an event whose JSON text
contains ``mmc.exe`` (in some case). Collecting such literals for every stage of every
rule lets the fast path skip, without parsing it, any line that contains none of a rule's
literals.

Only *necessary* conditions are derived, so skipping is always safe:

* ``and`` needs the literals of any one of its operands (the most selective is kept);
* ``or`` needs one literal of each operand (an operand without literals frees the whole);
* ``not`` and scripts give no literal (either may hold on an event without the field), but for a
  comparison of a field's ``length`` with a value: a function of null is null, a comparison with
  null is null, and a script that yields null does not match, so the field has a value (its keys);
* a test of a field's values (a term, range, pattern, ``exists``, ...) holds only on an event
  whose ``_source`` has the field, so the line holds the field's keys: its first part after a
  quote (``"process`` for ``process.pid``, written nested or dotted), its last part before
  one (``pid"``) and the parts between as they are. Given by the caller (see :data:`Keys`),
  which knows the fields that have a value without a key (a ``constant_keyword``);
* a literal is a run of characters that JSON encoders write as they are (ASCII letters,
  digits and punctuation other than ``/``, and ``<>&'+` ``, which HTML-safe encoders such
  as Go's and .NET's escape), with ``\\`` and ``"``
  in their mandatory escaped forms ``\\\\`` and ``\\"``, lower-cased, at least 3 long.
  ``C:\\Windows\\cmd.exe`` gives ``c:\\\\windows\\\\cmd.exe``: the JSON text of the line
  holds exactly that (in some case). JSON allows ``\\u`` escapes of any character, but no
  encoder writes them for printable ASCII;
* where a value must *start* (or end) with a run, as in ``==``, ``:`` and ``in``, in
  ``startsWith`` and in wildcard patterns that do not start (end) with ``*``, the run with
  the string's opening (closing) quote is a literal too: ``"mmc.exe"`` is far rarer than
  ``mmc.exe``, which also occurs in command lines and paths. Not where the field could hold
  a JSON number or boolean that reads as the value (``"123"``, ``"true"``), since those
  are written without quotes.

The matching text is compared lower-cased (ASCII only), which keeps case-insensitive
operators exact and only costs case-sensitive ones some selectivity.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from eqlite.plan import ir
from eqlite.syntax import ast

MIN_LITERAL = 3
_SAFE_RUN = re.compile(r"[A-Za-z0-9!#$%()*,\-.:;=?@\[\]^_{|}~ \\\"]+")

Frequency = Callable[[str], float]
Keys = Callable[[str], tuple[str, ...]]
"""The literals a line must hold for a field to have a value in it (see :func:`key_literals`); none
when it can have one without its key."""
Textual = Callable[[str], bool]
"""Whether a field's values are compared as the text found in the JSON (keyword-like, or unmapped).

Fields that convert their values (``ip``, ``date``, numbers, a keyword with a ``null_value``)
may match text that is not in the line (``::1`` matches ``0:0:0:0:0:0:0:1``), so they give no
literal."""


def _any_field(name: str) -> bool:
    return True


def _no_keys(name: str) -> tuple[str, ...]:
    return ()


_KEY_PART = re.compile(r"[A-Za-z0-9_@\-]+")

# The nodes that hold only for an event with a value of their field.
_FIELD_TESTS = (ir.Term, ir.Range, ir.Wildcard, ir.Prefix, ir.Regexp, ir.Exists, ir.Cidr)


@lru_cache(maxsize=65536)
def key_literals(path: str, container: bool = False) -> tuple[str, ...]:
    """The literals the JSON text of an event holds when the field at ``path`` in its ``_source`` exists.

    Whether written nested (``{"process": {"pid": 1}}``), dotted (``{"process.pid": 1}``) or
    both, the first part of the path starts a key and the last part ends one; every part between
    is in a key as it is (``"parent"``, or within ``"process.parent.pid"``), given as a bare
    literal when at least MIN_LITERAL long. The last part of an object's path (a ``container``)
    may start a dotted key (``"parent.pid"``), so it is bare too. None for a part that JSON
    encoders might not write as it is.

    >>> key_literals("process.parent.Ext.real.pid"), key_literals("@timestamp"), key_literals("a.é")
    (('"process', 'pid"', 'parent', 'ext', 'real'), ('"@timestamp', '@timestamp"'), ())
    >>> key_literals("process.parent", container=True), key_literals("dns.question.name")
    (('"process', 'parent'), ('"dns', 'name"', 'question'))
    """
    parts = path.split(".")
    if not all(_KEY_PART.fullmatch(part) for part in parts):
        return ()
    first = '"' + parts[0].lower()
    if container:
        return (first, *_bare_parts(parts[1:]))
    return (first, parts[-1].lower() + '"', *_bare_parts(parts[1:-1]))


def _bare_parts(parts: list[str]) -> list[str]:
    return list(dict.fromkeys(part.lower() for part in parts if len(part) >= MIN_LITERAL))


@dataclass(frozen=True, slots=True)
class Requirement:
    """At least one of ``literals`` must occur in the line; ``None`` as a requirement means "no constraint".

    An empty set means the stage can never match (e.g. ``where false``).
    """

    literals: frozenset[str]

    def cost(self, frequency: Frequency) -> float:
        return sum(frequency(literal) for literal in self.literals)


def _encoded(run: str) -> str:
    """A run as every JSON encoder writes it: ``\\`` and ``"`` escaped with a backslash."""
    return run.replace("\\", "\\\\").replace('"', '\\"').lower()


def literal_runs(text: str) -> list[str]:
    """The runs of ``text`` that appear verbatim (lower-cased) in any usual JSON encoding of it.

    >>> literal_runs("C:\\\\Windows\\\\System32\\\\cmd.exe") == ["c:\\\\\\\\windows\\\\\\\\system32\\\\\\\\cmd.exe"]
    True
    >>> literal_runs("élan/x")
    ['lan', 'x']
    """
    return [_encoded(run) for run in _SAFE_RUN.findall(text)]


_JSON_WORDS = ("true", "false")  # with numbers, what a keyword field may hold unquoted


def _may_start_unquoted(run: str) -> bool:
    """Whether a value starting with ``run`` may be written as a JSON number or boolean, without quotes.

    A JSON number starts with a digit, or with ``-`` and a digit: ``-y`` never is one, and its
    opening quote makes a longer literal (short ones slow the scan of every line).

    >>> _may_start_unquoted("-5"), _may_start_unquoted("-"), _may_start_unquoted("-y"), _may_start_unquoted("tr")
    (True, True, False, True)
    """
    if run[0] == "-":
        return len(run) == 1 or run[1] in "0123456789"
    return run[0] in "0123456789" or any(word.startswith(run) for word in _JSON_WORDS)


def _may_end_unquoted(run: str) -> bool:
    return run[-1] in "0123456789" or any(word.endswith(run) for word in _JSON_WORDS)


def quoted_value(text: str) -> str | None:
    """A string value ``text`` as every usual JSON encoding writes it, quotes included (lower-cased), so
    that a line without it (in some case) has no such value; None when an encoding may write it
    otherwise (escaped, or unquoted as a number or boolean).

    >>> quoted_value("Process"), quoted_value('a"b'), quoted_value("élan"), quoted_value("a/b"), quoted_value("123")
    ('"process"', '"a\\\\"b"', None, None, None)
    >>> quoted_value("")
    """
    if _SAFE_RUN.fullmatch(text) is None or _may_start_unquoted(text) or _may_end_unquoted(text):
        return None
    return '"' + _encoded(text) + '"'


def value_runs(text: str, starts: bool = True, ends: bool = True) -> list[str]:
    """The literals a JSON string value must contain when it is ``text`` (or starts / ends with it).

    >>> value_runs("MMC.exe")
    ['mmc.exe', '"mmc.exe', 'mmc.exe"', '"mmc.exe"']
    >>> value_runs("C:\\\\Windows\\\\cmd.exe/x", ends=False)[2:]
    ['"c:\\\\\\\\windows\\\\\\\\cmd.exe']
    >>> value_runs("1234"), value_runs("rue"), value_runs("*.exe"[2:], starts=False)
    (['1234'], ['rue', '"rue'], ['exe', 'exe"'])
    """
    return list(_value_runs(text, starts, ends))


@lru_cache(maxsize=65536)
def _value_runs(text: str, starts: bool, ends: bool) -> tuple[str, ...]:
    # (the same values come back in many rules, and again when their literals are chosen)
    matches = list(_SAFE_RUN.finditer(text))
    if not matches:
        return ()
    found = [_encoded(match.group()) for match in matches]
    first, last = found[0], found[-1]
    quoted_start = starts and matches[0].start() == 0 and not _may_start_unquoted(first)
    quoted_end = ends and matches[-1].end() == len(text) and not _may_end_unquoted(last)
    if quoted_start:
        found.append('"' + first)
    if quoted_end:
        found.append(last + '"')
    if quoted_start and quoted_end and len(matches) == 1:
        found.append('"' + first + '"')  # the whole value is one run
    return tuple(found)


def _literal_parts(pattern: ir.WildcardPattern) -> list[str]:
    return [part for part in pattern.parts if part not in (ir.WildcardPattern.ANY, ir.WildcardPattern.ONE)]


def _pattern_runs(pattern: ir.WildcardPattern) -> list[str]:
    parts = pattern.parts
    runs: list[str] = []
    last = len(parts) - 1
    for number, part in enumerate(parts):
        if part in (ir.WildcardPattern.ANY, ir.WildcardPattern.ONE):
            continue
        runs.extend(value_runs(part, starts=number == 0, ends=number == last))
    return runs


# Lucene regular expression operators regex_runs does not follow (anywhere, or inside a group).
_REGEX_GIVE_UP = frozenset('|&~"<>#@')


def regex_runs(pattern: str) -> list[tuple[str, bool, bool]] | None:
    """The runs of text every value matching the Lucene regular expression ``pattern`` contains, each
    with whether the value starts and ends with it (the expression is anchored at both ends).

    Only a top-level sequence is read: characters (``\\`` makes any character one) are runs; ``.``,
    classes and groups end a run; ``?``, ``*`` and ``{0,...}`` take back the character before them,
    ``+`` and ``{n,...}`` keep it but end the run. None where the expression holds an operator that
    could make a run optional (``|``) or that this does not follow (``&``, ``~``, ``"``, ``<>``,
    ``#``, ``@``).

    >>> regex_runs("[A-Z]:\\\\\\\\:.+"), regex_runs("ab*c(x|y)d+"), regex_runs("a|b")
    ([(':\\\\:', False, False)], [('a', True, False), ('c', False, False), ('d', False, False)], None)
    >>> regex_runs("abc"), regex_runs("a{0,2}bc{2}")
    ([('abc', True, True)], [('bc', False, False)])
    """
    runs: list[tuple[str, bool, bool]] = []
    run: list[str] = []
    run_start = 0
    index = 0

    def end_run(ends: bool = False) -> None:
        nonlocal run
        if run:
            runs.append(("".join(run), run_start == 0, ends))
        run = []

    while index < len(pattern):
        char = pattern[index]
        if char in _REGEX_GIVE_UP:
            return None
        if char == "\\":
            if index + 1 >= len(pattern):
                return None
            if not run:
                run_start = index
            run.append(pattern[index + 1])
            index += 2
            continue
        if char in "?*":
            if run:
                run.pop()
            end_run()
            index += 1
            continue
        if char == "+":
            end_run()
            index += 1
            continue
        if char == "{":
            close = pattern.find("}", index)
            if close < 0:
                return None
            least = pattern[index + 1:close].split(",", maxsplit=1)[0].strip()
            if not least.isdigit():
                return None
            if int(least) == 0 and run:
                run.pop()
            end_run()
            index = close + 1
            continue
        if char in "[(":
            end_run()
            index = _skip_regex_group(pattern, index)
            if index < 0:
                return None
            continue
        if char in ".)]}":
            end_run()
            index += 1
            continue
        if not run:
            run_start = index
        run.append(char)
        index += 1
    end_run(ends=True)
    return runs


def _skip_regex_group(pattern: str, index: int) -> int:
    """The index past the class or group opening at ``index``; -1 when it does not close, or holds an
    operator :func:`regex_runs` does not follow. Alternatives inside a group are fine: a group ends a run."""
    depth = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            close = index + 1
            if close < len(pattern) and pattern[close] == "^":
                close += 1
            if close < len(pattern) and pattern[close] == "]":
                close += 1  # a leading "]" is a member
            while close < len(pattern) and pattern[close] != "]":
                close += 2 if pattern[close] == "\\" else 1
            if close >= len(pattern):
                return -1
            index = close + 1
            if depth == 0:
                return index
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        elif char in _REGEX_GIVE_UP and char != "|":
            return -1
        index += 1
    return -1


REGEX_ALTERNATIVES = 64  # at most this many alternatives of one expression are read for literals


def _split_alternatives(text: str) -> list[str]:
    """``text`` cut at each ``|`` outside groups and classes (escapes followed)."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _skip_regex_group(text, index)
            if index < 0:
                return [text]
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def regex_alternatives(pattern: str, limit: int = REGEX_ALTERNATIVES) -> list[str] | None:
    """``pattern`` as expressions one of which every matching value matches, without the ``|`` that
    :func:`regex_runs` cannot read: split at its top-level ``|``, and each group of alternatives that
    must occur once (one not followed by ``?``, ``*``, ``+`` or ``{``) replaced by each of its
    alternatives in turn. None when there would be more than ``limit``.

    ``.*\\.(top|xyz)`` ends with ``.top`` or ``.xyz``, which :func:`regex_runs` finds in the two
    alternatives, where the group alone gives nothing.

    >>> regex_alternatives(".*\\\\.(top|x(y|z))"), regex_alternatives("a|b(c|d)?")
    (['.*\\\\.top', '.*\\\\.xy', '.*\\\\.xz'], ['a', 'b(c|d)?'])
    >>> regex_alternatives("(a|b)(c|d)(e|f)", limit=4) is None
    True
    """
    if '"' in pattern:
        return [pattern]  # a quoted string may hold "|" and parentheses: left to regex_runs (which gives up)
    done: list[str] = []
    waiting = _split_alternatives(pattern)
    while waiting:
        text = waiting.pop(0)
        group = _expandable_group(text)
        if group is None:
            done.append(text)
        else:
            start, end = group
            waiting[:0] = [text[:start] + alternative + text[end:]
                           for alternative in _split_alternatives(text[start + 1:end - 1])]
        if len(done) + len(waiting) > limit:
            return None
    return done


def _expandable_group(text: str) -> tuple[int, int] | None:
    """Where the first group of ``text`` that holds a top-level ``|`` and must occur once opens and ends."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in "[(":
            end = _skip_regex_group(text, index)
            if end < 0:
                return None
            if (char == "(" and (end >= len(text) or text[end] not in "?*+{")
                    and len(_split_alternatives(text[index + 1:end - 1])) > 1):
                return index, end
            index = end
            continue
        index += 1
    return None


def _regex_literals(pattern: str) -> list[str]:
    """The JSON literals of :func:`regex_runs` (every one is in the line of a value that matches)."""
    found = regex_runs(pattern)
    if found is None:
        return []
    return [literal for text, starts, ends in found for literal in value_runs(text, starts, ends)
            if len(literal.strip()) >= MIN_LITERAL]


def _regex_requirement(pattern: str, estimate: Frequency) -> frozenset[str] | None:
    """The literals one of which the line of a value that matches ``pattern`` holds: the rarest literal of
    each of its alternatives (see :func:`regex_alternatives`); None when one has no literal."""
    chosen = set()
    for alternative in regex_alternatives(pattern) or [pattern]:
        best = _rarest(_regex_literals(alternative), estimate)
        if best is None:
            return None
        chosen.add(best)
    return frozenset(chosen)


def _rarest(runs: Iterable[str], frequency: Frequency) -> str | None:
    """The rarest of ``runs`` at least MIN_LITERAL long (the longer of equally rare ones); None if there is none."""
    kept = [run for run in runs if len(run.strip()) >= MIN_LITERAL]
    return min(kept, key=lambda run: (frequency(run), -len(run))) if kept else None


def _best_run(text: str, frequency: Frequency, starts: bool = True, ends: bool = True) -> str | None:
    return _rarest(value_runs(text, starts, ends), frequency)


@lru_cache(maxsize=65536)
def caseless_character(text: str) -> frozenset[str] | None:
    """For a string with no literal run (``"*\\u202e*"``, the right-to-left override), the two ways a JSON
    line can hold its first non-ASCII character that has no other case: as it is (UTF-8) or as a
    ``\\u`` escape. None when it has no such character.

    Only format, space, symbol and punctuation characters that are their own lower, upper and folded
    case: no other character matches them in a case-insensitive comparison.

    >>> rtlo = chr(0x202E)
    >>> caseless_character("*" + rtlo + "*") == {rtlo, "\\\\u202e"}, caseless_character("é"), caseless_character("ab")
    (True, None, None)
    """
    for char in text:
        if char.isascii():
            continue
        category = unicodedata.category(char)  # (not "Cs": a lone surrogate is no text a line holds as it is)
        if category[0] not in "CZSP" or category == "Cs" or not char.lower() == char.upper() == char.casefold() == char:
            continue
        code = ord(char)
        if code > 0xFFFF:  # written as a surrogate pair
            code -= 0x10000
            escape = f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        else:
            escape = f"\\u{code:04x}"
        return frozenset((char, escape))
    return None


def _one_of(best: str | None, text: str) -> frozenset[str] | None:
    """What a line holding a value must hold: its rarest run ``best``, or else the ways to write the
    caseless character of its ``text`` (see :func:`caseless_character`); None when there is neither."""
    return frozenset((best,)) if best is not None else caseless_character(text)


def _values(values: Iterable[ast.Expr], frequency: Frequency, ends: bool = True) -> Requirement | None:
    literals: set[str] = set()
    for value in values:
        if not (isinstance(value, ast.Literal) and isinstance(value.value, str)):
            return None
        found = _one_of(_best_run(value.value, frequency, ends=ends), value.value)
        if found is None:
            return None
        literals |= found
    return Requirement(frozenset(literals))


def requirement(pred: ir.Pred, frequency: Frequency | None = None, textual: Textual = _any_field,
                keys: Keys = _no_keys) -> Requirement | None:
    """The literals a line must contain (one of them) for ``pred`` to hold; None when there are none.

    ``frequency`` estimates how often a literal occurs (from a sample of the input); the
    rarest choice is kept. Without it, longer literals are preferred.

    >>> from eqlite.plan.translate import translate
    >>> from eqlite.syntax.parser import parse
    >>> cond = parse('any where process.name : ("MMC.exe", "cmd.exe") and source.port > 1').body.condition
    >>> sorted(requirement(translate(cond)).literals)
    ['"cmd.exe"', '"mmc.exe"']
    >>> cond = parse('any where length(winlog.event_data.CallTrace) > 0 and event.code == "10"').body.condition
    >>> requirement(translate(cond), keys=key_literals).literals
    frozenset({'calltrace"'})
    """
    estimate: Frequency = frequency or (lambda literal: 1.0 / len(literal))
    if isinstance(pred, ir.MatchNone):
        return Requirement(frozenset())
    if isinstance(pred, ir.Script):
        needed = needed_field(pred)
        options = [Requirement(frozenset((literal,))) for literal in keys(needed)] if needed is not None else []
        return min(options, key=lambda r: r.cost(estimate)) if options else None
    if isinstance(pred, _FIELD_TESTS):
        options = [Requirement(frozenset((literal,))) for literal in keys(pred.field)]
        own = _value_requirement(pred, estimate, textual)
        if own is not None:
            options.append(own)
        return min(options, key=lambda r: r.cost(estimate)) if options else None
    if isinstance(pred, ir.And):
        options = [r for r in (requirement(op, frequency, textual, keys) for op in pred.operands) if r is not None]
        return min(options, key=lambda r: r.cost(estimate)) if options else None
    if isinstance(pred, ir.Or):
        union: set[str] = set()
        for operand in pred.operands:
            found = requirement(operand, frequency, textual, keys)
            if found is None:
                return None
            union |= found.literals
        return Requirement(frozenset(union))
    return None


def _value_requirement(pred: ir.Pred, estimate: Frequency, textual: Textual) -> Requirement | None:
    """The literals a test of a field's values needs in the values themselves."""
    if isinstance(pred, (ir.Term, ir.Prefix, ir.Wildcard, ir.Regexp)) and not textual(pred.field):
        return None
    if isinstance(pred, ir.Regexp):
        chosen: set[str] = set()
        for expression in pred.patterns:
            found = _regex_requirement(expression, estimate)
            if found is None:
                return None
            chosen |= found
        return Requirement(frozenset(chosen))
    if isinstance(pred, ir.Term):
        return _values(pred.values, estimate)
    if isinstance(pred, ir.Prefix):
        return _values((pred.prefix,), estimate, ends=False)
    if isinstance(pred, ir.Wildcard):
        literals: set[str] = set()
        for pattern in pred.patterns:
            found = _one_of(_rarest(_pattern_runs(pattern), estimate), "".join(_literal_parts(pattern)))
            if found is None:
                return None
            literals |= found
        return Requirement(frozenset(literals))
    return None


def union(requirements: Iterable[Requirement | None]) -> Requirement | None:
    """What a line needs for *any* of several stages to match: the union, or None if one is free."""
    literals: set[str] = set()
    for found in requirements:
        if found is None:
            return None
        literals |= found.literals
    return Requirement(frozenset(literals))


def candidate_literals(pred: ir.Pred, keys: Keys = _no_keys) -> set[str]:
    """Every literal :func:`requirement` might choose for ``pred`` (to measure their frequency first)."""
    found: set[str] = set()
    stack = [pred]
    while stack:
        node = stack.pop()
        if isinstance(node, _FIELD_TESTS):
            found.update(keys(node.field))
        if isinstance(node, ir.Script) and (needed := needed_field(node)) is not None:
            found.update(keys(needed))
        if isinstance(node, (ir.And, ir.Or)):
            stack.extend(node.operands)
        elif isinstance(node, (ir.Term, ir.Prefix)):
            values = node.values if isinstance(node, ir.Term) else (node.prefix,)
            for value in values:
                if isinstance(value, ast.Literal) and isinstance(value.value, str):
                    found.update(run for run in value_runs(value.value, ends=isinstance(node, ir.Term))
                                 if len(run.strip()) >= MIN_LITERAL)
                    found |= caseless_character(value.value) or frozenset()
        elif isinstance(node, ir.Wildcard):
            for pattern in node.patterns:
                found.update(run for run in _pattern_runs(pattern) if len(run.strip()) >= MIN_LITERAL)
                found |= caseless_character("".join(_literal_parts(pattern))) or frozenset()
        elif isinstance(node, ir.Regexp):
            for text in node.patterns:
                for alternative in regex_alternatives(text) or [text]:
                    found.update(_regex_literals(alternative))
    return found


_NULL_IN_NULL_OUT = frozenset({"length"})  # functions whose result is null when their argument is
_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})


def needed_field(script: ir.Script) -> str | None:
    """The field a script holds only on events that have it: ``length(f) > 0`` and the like (a comparison
    of ``length(f)`` with a value that is not null); None for any other script.

    >>> from eqlite.plan.translate import translate
    >>> from eqlite.syntax.parser import parse
    >>> def needed(text):
    ...     return needed_field(translate(parse(f"any where {text}").body.condition))
    >>> needed("length(winlog.event_data.CallTrace) > 0"), needed("3 <= length(?a.b)"), needed("length(a) == null")
    ('winlog.event_data.CallTrace', 'a.b', None)
    >>> needed('length(concat(a, b)) > 0'), needed('indexOf(a, "x") > 0')
    (None, None)
    """
    expr = script.expr
    if not isinstance(expr, ast.Comparison) or expr.op not in _COMPARISONS:
        return None
    for call, other in ((expr.left, expr.right), (expr.right, expr.left)):
        if (isinstance(call, ast.FunctionCall) and call.name in _NULL_IN_NULL_OUT and len(call.args) == 1
                and isinstance(call.args[0], ast.Field) and isinstance(other, ast.Literal) and other.value is not None):
            return call.args[0].name
    return None


def frequency_table(counts: Mapping[str, int], lines: int) -> Frequency:
    """A frequency function from literal hit counts over a sample of ``lines`` lines."""
    if lines <= 0:
        return lambda literal: 1.0 / len(literal)
    return lambda literal: (counts.get(literal, 0) + 0.5) / lines
