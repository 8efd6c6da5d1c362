"""The rule sets the benchmark runs: the seed rule, a fixed selection of 50 rules, every active EQL rule.

A workload is chosen in the parent process; a measurement subprocess receives it as a
:class:`~enginebench.measure.RuleSource` (rule ids plus the files that hold them) and loads
only those files, so that its peak RSS does not include the rest of the corpus.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from enginebench.measure import RuleSource
from eqlite.rules import Rule, load_builtin_rules, load_rules
from eqlite.scheduler.executor import index_matches

DEFAULT_RULES_ROOT = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "detection-rules"
SHIPPED_FOLDERS = ("rules", "rules_building_block")  # seed-rule-history holds old versions only
WORKLOAD_NAMES = ("seed", "50", "all")
SELECTION_SIZE = 50
# The data streams eqlite.demo writes (``logs-endpoint.events.<kind>-default``).
DEMO_INDICES = tuple(f"logs-endpoint.events.{kind}-default"
                     for kind in ("process", "network", "file", "registry", "library", "security"))


@dataclass(frozen=True, slots=True)
class Workload:
    """A named, ordered set of rules."""

    name: str
    description: str
    rules: tuple[Rule, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.rule_id for rule in self.rules)

    def source(self) -> RuleSource:
        if self.name == "seed":
            return RuleSource(self.rule_ids, builtin=True)
        paths = sorted({rule.source.path for rule in self.rules if rule.source is not None})
        return RuleSource(self.rule_ids, paths=tuple(paths))

    def composition(self) -> dict[str, int]:
        """How many rules of each query kind (event, sequence, sample) the workload holds."""
        return dict(sorted(Counter(query_kind(rule.query or "") for rule in self.rules).items()))


def query_kind(query: str) -> str:
    """``sequence``, ``sample`` or ``event``, from the query's first word (comments skipped).

    >>> query_kind("/* x */ sequence by host.id [any where true] [any where true]")
    'sequence'
    >>> query_kind("process where true")
    'event'
    """
    text = query.lstrip()
    while text.startswith("/*"):
        text = text[text.find("*/") + 2:].lstrip() if "*/" in text else ""
    first = text.split(maxsplit=1)[0] if text else ""
    return first if first in ("sequence", "sample") else "event"


def active_eql_rules(root: Path) -> list[Rule]:
    """Every active EQL rule shipped in a detection-rules checkout, in file order.

    Raises:
        FileNotFoundError: when ``root`` has none of the shipped rule folders.
    """
    folders = [root / name for name in SHIPPED_FOLDERS if (root / name).is_dir()]
    if not folders:
        raise FileNotFoundError(f"no detection-rules corpus at {root} (expected {' and '.join(SHIPPED_FOLDERS)}/)")
    return [rule for rule in load_rules(folders).rules if rule.is_active and rule.language == "eql"]


def sees_demo_data(rule: Rule) -> bool:
    """Whether the rule's index patterns cover one of the demo's ``logs-endpoint.events.*`` streams."""
    patterns = tuple(rule.index or ())
    return bool(patterns) and any(index_matches(patterns, index) for index in DEMO_INDICES)


def selection_key(rule: Rule) -> str:
    """A stable pseudo-random order: the SHA-256 of the rule id.

    >>> selection_key(Rule.from_dict({"rule_id": "r", "name": "n", "description": "", "type": "eql",
    ...     "risk_score": 1, "severity": "low"}))[:8]
    '454349e4'
    """
    return hashlib.sha256(rule.rule_id.encode()).hexdigest()


def select_rules(rules: Iterable[Rule], count: int = SELECTION_SIZE) -> list[Rule]:
    """A fixed, deterministic selection: Windows rules that see the demo data first, then other rules.

    Within each tier the order is :func:`selection_key`, which mixes event, sequence and sample
    rules as they occur in the corpus and does not depend on file names or load order.
    """
    def tier(rule: Rule) -> int:
        if sees_demo_data(rule):
            return 0 if "OS: Windows" in rule.tags else 1
        return 2

    ranked = sorted(rules, key=lambda rule: (tier(rule), selection_key(rule)))
    return ranked[:count]


def build_workloads(names: Sequence[str], rules_root: Path) -> list[Workload]:
    """The named workloads, in the order given.

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: when a corpus workload is asked for and the corpus is absent.
    """
    unknown = [name for name in names if name not in WORKLOAD_NAMES]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOAD_NAMES)}")
    corpus = active_eql_rules(rules_root) if any(name != "seed" for name in names) else []
    workloads = []
    for name in names:
        if name == "seed":
            rules = tuple(load_builtin_rules())
            workloads.append(Workload(name, "the seed rule (built-in pack)", rules))
        elif name == "50":
            selected = tuple(select_rules(corpus))
            workloads.append(Workload(name, f"{len(selected)} selected active EQL rules", selected))
        else:
            workloads.append(Workload(name, f"every active EQL rule ({len(corpus)})", tuple(corpus)))
    return workloads
