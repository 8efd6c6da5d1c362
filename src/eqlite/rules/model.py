"""The rule model: one frozen dataclass per table of an Elastic detection rule.

Field names follow the Kibana rules API and the ``[rule]`` table of elastic/detection-rules
(they are the same keys); ``from`` is spelt ``from_``. Defaults are the ones Kibana applies
when a field is absent (interval ``5m``, look-back ``now-6m``, ``max_signals`` 100, version 1,
...). Keys this model does not know are kept in ``extra`` so that a rule survives a load/write
round trip unchanged.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, NamedTuple

from eqlite.errors import RuleError
from eqlite.rules._fields import (
    BOOL,
    INT,
    JSON,
    JSON_LIST,
    JSON_OBJECT,
    NUMBER,
    OPTIONAL_OBJECT,
    STR,
    STR_OR_STRS,
    STRS,
    Record,
    record,
    records,
    spec,
)

JsonObject = Mapping[str, Any]

# Kibana and detection-rules call these rule types something else in their UIs; the reason text
# says what the type is and why eqlite will not run it.
_UNSUPPORTED_TYPES = {
    "query": "custom query (KQL/Lucene) rules are not executed; eqlite runs EQL rules only",
    "saved_query": "saved query (KQL/Lucene) rules are not executed; eqlite runs EQL rules only",
    "esql": "ES|QL rules are not executed; eqlite runs EQL rules only",
    "threshold": "threshold rules (aggregations over KQL matches) are not executed; "
                 "eqlite runs EQL rules only",
    "new_terms": "new terms rules (first-seen values over a history window) are not executed; "
                 "eqlite runs EQL rules only",
    "threat_match": "indicator match rules (joins against threat-intel indices) are not executed; "
                    "eqlite runs EQL rules only",
    "machine_learning": "machine learning rules read anomalies from Elastic ML jobs, "
                        "which eqlite does not have",
}


class ExecutionSupport(NamedTuple):
    """Whether eqlite can run a rule, and if not, why (a sentence for the user)."""

    supported: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a rule was loaded from, and how its query's text maps onto the file.

    ``anchors`` are ``(query_line, query_col, file_line, file_col)`` points, one at the start of
    every query line and one after every escape sequence; between anchors, query and file
    columns advance together. All numbers are 1-based.

    >>> loc = SourceLocation("r.toml", 1, 12, 1, ((1, 1, 12, 1), (2, 1, 13, 1)))
    >>> loc.file_position(2, 5)
    (13, 5)
    >>> loc.describe(2, 5)
    'r.toml:13:5'
    """

    path: str
    line: int | None = None
    query_line: int | None = None
    query_col: int | None = None
    anchors: tuple[tuple[int, int, int, int], ...] = field(default=(), repr=False)

    def file_position(self, line: int, col: int) -> tuple[int, int] | None:
        """Map a position in the query (1-based line, col) to one in the file, if known."""
        if self.query_line is None or self.query_col is None:
            return None
        index = bisect_right(self.anchors, (line, col, 1 << 62, 1 << 62)) - 1
        if index < 0 or self.anchors[index][0] != line:
            # No trace of this line (a query we could not trace exactly): best effort.
            if line == 1:
                return self.query_line, self.query_col + col - 1
            return self.query_line + line - 1, col
        _, q_col, f_line, f_col = self.anchors[index]
        return f_line, f_col + (col - q_col)

    def describe(self, line: int | None = None, col: int | None = None) -> str:
        """``path:line:col`` of a query position, or of the rule itself when none is given."""
        if line is not None and col is not None:
            position = self.file_position(line, col)
            if position is not None:
                return f"{self.path}:{position[0]}:{position[1]}"
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleMetadata(Record):
    """The ``[metadata]`` table of a detection-rules TOML file (repository-only data).

    >>> RuleMetadata.from_dict({"maturity": "production", "integration": "endpoint"}).integration
    ('endpoint',)
    """

    creation_date: str | None = field(default=None, metadata=spec(STR))
    updated_date: str | None = field(default=None, metadata=spec(STR))
    maturity: str | None = field(default=None, metadata=spec(STR))
    integration: tuple[str, ...] = field(default=(), metadata=spec(STR_OR_STRS))
    min_stack_version: str | None = field(default=None, metadata=spec(STR))
    min_stack_comments: str | None = field(default=None, metadata=spec(STR))
    deprecation_date: str | None = field(default=None, metadata=spec(STR))
    deprecated_reason: str | None = field(default=None, metadata=spec(STR))
    comments: str | None = field(default=None, metadata=spec(STR))
    os_type_list: tuple[str, ...] = field(default=(), metadata=spec(STRS))
    query_schema_validation: bool | None = field(default=None, metadata=spec(BOOL))
    related_endpoint_rules: tuple[str, ...] = field(default=(), metadata=spec(STRS))
    bypass_bbr_timing: bool | None = field(default=None, metadata=spec(BOOL))
    promotion: bool | None = field(default=None, metadata=spec(BOOL))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreatTactic(Record):
    """An ATT&CK (or ATLAS) tactic: ``TA0008`` Lateral Movement and its URL."""

    id: str = field(metadata=spec(STR))
    name: str = field(metadata=spec(STR))
    reference: str = field(metadata=spec(STR))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreatSubtechnique(Record):
    """A sub-technique such as ``T1021.003`` Distributed Component Object Model."""

    id: str = field(metadata=spec(STR))
    name: str = field(metadata=spec(STR))
    reference: str = field(metadata=spec(STR))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreatTechnique(Record):
    """A technique such as ``T1021`` Remote Services, with its sub-techniques."""

    id: str = field(metadata=spec(STR))
    name: str = field(metadata=spec(STR))
    reference: str = field(metadata=spec(STR))
    subtechnique: tuple[ThreatSubtechnique, ...] = field(
        default=(), metadata=spec(records(ThreatSubtechnique)))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Threat(Record):
    """One entry of ``threat``: a framework, one tactic and the techniques under it.

    >>> t = Threat.from_dict({"framework": "MITRE ATT&CK",
    ...     "tactic": {"id": "TA0008", "name": "Lateral Movement", "reference": "https://x/TA0008/"}})
    >>> t.tactic.id, t.technique
    ('TA0008', ())
    """

    framework: str = field(metadata=spec(STR))
    tactic: ThreatTactic = field(metadata=spec(record(ThreatTactic)))
    technique: tuple[ThreatTechnique, ...] = field(
        default=(), metadata=spec(records(ThreatTechnique), kibana_default=True))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionListRef(Record):
    """A reference from a rule to an exception list container."""

    id: str = field(metadata=spec(STR))
    list_id: str = field(metadata=spec(STR))
    namespace_type: str = field(metadata=spec(STR))
    type: str = field(metadata=spec(STR))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityMapping(Record):
    """Override the alert severity when a source field equals a value."""

    field: str = dataclasses.field(metadata=spec(STR))
    value: str = dataclasses.field(metadata=spec(STR))
    severity: str = dataclasses.field(metadata=spec(STR))
    operator: str = dataclasses.field(default="equals", metadata=spec(STR, kibana_default=True))
    extra: JsonObject = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskScoreMapping(Record):
    """Take the alert risk score from a source field (optionally only when it equals a value)."""

    field: str = dataclasses.field(metadata=spec(STR))
    value: str = dataclasses.field(default="", metadata=spec(STR, kibana_default=True))
    operator: str = dataclasses.field(default="equals", metadata=spec(STR, kibana_default=True))
    risk_score: int | None = dataclasses.field(default=None, metadata=spec(INT))
    extra: JsonObject = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RelatedIntegration(Record):
    """A Fleet integration the rule's data comes from (``package``, semver range, policy template)."""

    package: str = field(metadata=spec(STR))
    version: str = field(metadata=spec(STR))
    integration: str | None = field(default=None, metadata=spec(STR))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequiredField(Record):
    """A source field the query needs, with its mapping type and whether it is in ECS."""

    name: str = field(metadata=spec(STR))
    type: str = field(metadata=spec(STR))
    ecs: bool | None = field(default=None, metadata=spec(BOOL))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuppressionDuration(Record):
    """How long a suppression window lasts: ``value`` units of ``s``, ``m`` or ``h``."""

    value: int = field(metadata=spec(INT))
    unit: str = field(metadata=spec(STR))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSuppression(Record):
    """Alert suppression: group alerts by up to three fields, per run or for ``duration``."""

    group_by: tuple[str, ...] = field(default=(), metadata=spec(STRS))
    duration: SuppressionDuration | None = field(default=None, metadata=spec(record(SuppressionDuration)))
    missing_fields_strategy: str | None = field(default=None, metadata=spec(STR))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class InvestigationFields(Record):
    """Fields the alert flyout highlights."""

    field_names: tuple[str, ...] = field(default=(), metadata=spec(STRS))
    extra: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule(Record):
    """An Elastic detection rule, whatever its type, as Kibana's API and detection-rules spell it.

    ``from_dict``/``to_dict`` read and write the flat API shape (the ``[rule]`` table); the
    repository-only parts (``[metadata]``, ``[transform]``, unknown top-level tables) and the
    source location are passed as keyword context and kept beside it.

    >>> rule = Rule.from_dict({"rule_id": "r1", "name": "Demo", "description": "d", "type": "eql",
    ...     "language": "eql", "query": "process where true", "risk_score": 21, "severity": "low"})
    >>> rule.interval, rule.from_, rule.to, rule.max_signals, rule.version
    ('5m', 'now-6m', 'now', 100, 1)
    >>> rule.execution_support()
    ExecutionSupport(supported=True, reason=None)
    >>> rule.to_dict()["rule_id"], "interval" in rule.to_dict(), rule.to_dict(defaults=True)["interval"]
    ('r1', False, '5m')
    """

    # --- identity and query
    rule_id: str = field(metadata=spec(STR))
    name: str = field(metadata=spec(STR))
    description: str = field(metadata=spec(STR))
    type: str = field(metadata=spec(STR))
    language: str | None = field(default=None, metadata=spec(STR))
    query: str | None = field(default=None, metadata=spec(STR))
    index: tuple[str, ...] | None = field(default=None, metadata=spec(STRS))
    data_view_id: str | None = field(default=None, metadata=spec(STR))
    filters: tuple[Any, ...] | None = field(default=None, metadata=spec(JSON_LIST))
    event_category_override: str | None = field(default=None, metadata=spec(STR))
    tiebreaker_field: str | None = field(default=None, metadata=spec(STR))
    timestamp_field: str | None = field(default=None, metadata=spec(STR))
    timestamp_override: str | None = field(default=None, metadata=spec(STR))
    timestamp_override_fallback_disabled: bool | None = field(default=None, metadata=spec(BOOL))
    # --- schedule
    enabled: bool = field(default=True, metadata=spec(BOOL, kibana_default=True))
    interval: str = field(default="5m", metadata=spec(STR, kibana_default=True))
    from_: str = field(default="now-6m", metadata=spec(STR, "from", kibana_default=True))
    to: str = field(default="now", metadata=spec(STR, kibana_default=True))
    max_signals: int = field(default=100, metadata=spec(INT, kibana_default=True))
    # --- alert shape
    severity: str = field(metadata=spec(STR))
    risk_score: int = field(metadata=spec(INT))
    severity_mapping: tuple[SeverityMapping, ...] = field(
        default=(), metadata=spec(records(SeverityMapping), kibana_default=True))
    risk_score_mapping: tuple[RiskScoreMapping, ...] = field(
        default=(), metadata=spec(records(RiskScoreMapping), kibana_default=True))
    rule_name_override: str | None = field(default=None, metadata=spec(STR))
    building_block_type: str | None = field(default=None, metadata=spec(STR))
    alert_suppression: AlertSuppression | None = field(default=None, metadata=spec(record(AlertSuppression)))
    investigation_fields: InvestigationFields | None = field(
        default=None, metadata=spec(record(InvestigationFields)))
    exceptions_list: tuple[ExceptionListRef, ...] = field(
        default=(), metadata=spec(records(ExceptionListRef), kibana_default=True))
    # --- documentation
    version: int = field(default=1, metadata=spec(INT, kibana_default=True))
    revision: int | None = field(default=None, metadata=spec(INT))
    author: tuple[str, ...] = field(default=(), metadata=spec(STRS, kibana_default=True))
    license: str | None = field(default=None, metadata=spec(STR))
    tags: tuple[str, ...] = field(default=(), metadata=spec(STRS, kibana_default=True))
    references: tuple[str, ...] = field(default=(), metadata=spec(STRS, kibana_default=True))
    false_positives: tuple[str, ...] = field(default=(), metadata=spec(STRS, kibana_default=True))
    threat: tuple[Threat, ...] = field(default=(), metadata=spec(records(Threat), kibana_default=True))
    note: str | None = field(default=None, metadata=spec(STR))
    setup: str = field(default="", metadata=spec(STR, kibana_default=True))
    related_integrations: tuple[RelatedIntegration, ...] = field(
        default=(), metadata=spec(records(RelatedIntegration), kibana_default=True))
    required_fields: tuple[RequiredField, ...] = field(
        default=(), metadata=spec(records(RequiredField), kibana_default=True))
    timeline_id: str | None = field(default=None, metadata=spec(STR))
    timeline_title: str | None = field(default=None, metadata=spec(STR))
    meta: JsonObject | None = field(default=None, metadata=spec(OPTIONAL_OBJECT))
    # --- actions (Kibana; rare in rule files)
    actions: tuple[Any, ...] = field(default=(), metadata=spec(JSON_LIST, kibana_default=True))
    throttle: str | None = field(default=None, metadata=spec(STR))
    response_actions: tuple[Any, ...] | None = field(default=None, metadata=spec(JSON_LIST))
    # --- other rule types (loaded and written, never executed)
    saved_id: str | None = field(default=None, metadata=spec(STR))
    anomaly_threshold: int | float | None = field(default=None, metadata=spec(NUMBER))
    machine_learning_job_id: Any = field(default=None, metadata=spec(JSON))
    threshold: JsonObject | None = field(default=None, metadata=spec(JSON_OBJECT))
    new_terms_fields: tuple[str, ...] | None = field(default=None, metadata=spec(STRS))
    history_window_start: str | None = field(default=None, metadata=spec(STR))
    threat_query: str | None = field(default=None, metadata=spec(STR))
    threat_language: str | None = field(default=None, metadata=spec(STR))
    threat_index: tuple[str, ...] | None = field(default=None, metadata=spec(STRS))
    threat_filters: tuple[Any, ...] | None = field(default=None, metadata=spec(JSON_LIST))
    threat_mapping: tuple[Any, ...] | None = field(default=None, metadata=spec(JSON_LIST))
    threat_indicator_path: str | None = field(default=None, metadata=spec(STR))
    concurrent_searches: int | None = field(default=None, metadata=spec(INT))
    items_per_search: int | None = field(default=None, metadata=spec(INT))
    # --- Kibana saved-object id (only in rules exported from Kibana)
    id: str | None = field(default=None, metadata=spec(STR))
    # --- beside the API shape: repository tables, unknown keys, where the rule came from
    metadata: RuleMetadata | None = None
    transform: JsonObject | None = None
    extra_tables: JsonObject = field(default_factory=dict)
    extra: JsonObject = field(default_factory=dict)
    source: SourceLocation | None = field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:
        # Equal rules share id and version; hashing the JSON-valued fields would fail.
        return hash((self.rule_id, self.version))

    @property
    def is_deprecated(self) -> bool:
        """True for ``maturity = "deprecated"`` and for files under a ``_deprecated`` folder."""
        if self.metadata is not None and self.metadata.maturity == "deprecated":
            return True
        return self.source is not None and "_deprecated" in PurePath(self.source.path).parts

    @property
    def is_active(self) -> bool:
        """True unless the rule is deprecated (what Kibana's prebuilt package would still ship)."""
        return not self.is_deprecated

    @property
    def is_building_block(self) -> bool:
        """True for building-block rules, whose alerts Kibana hides by default."""
        return self.building_block_type is not None

    def execution_support(self) -> ExecutionSupport:
        """Whether eqlite can execute this rule; the reason says why not.

        >>> Rule.from_dict({"rule_id": "r", "name": "n", "description": "d", "type": "esql",
        ...     "language": "esql", "query": "from logs-*", "risk_score": 1, "severity": "low"}
        ... ).execution_support().supported
        False
        """
        if self.type == "eql":
            if self.language not in (None, "eql"):
                mismatch = f"EQL rule declares language {self.language!r}; expected 'eql'"
                return ExecutionSupport(False, mismatch)
            if not (self.query or "").strip():
                return ExecutionSupport(False, "EQL rule has no query")
            return ExecutionSupport(True)
        reason = _UNSUPPORTED_TYPES.get(self.type)
        if reason is None:
            reason = f"unknown rule type {self.type!r}; eqlite runs EQL rules (type 'eql') only"
        return ExecutionSupport(False, reason)

    def locate(self, line: int | None = None, col: int | None = None) -> str:
        """``file:line:col`` of a position in the query (1-based), for error messages.

        Falls back to the file (and rule line) when the position is unknown, and to the rule's
        name when the rule was not loaded from a file.

        >>> Rule.from_dict({"rule_id": "r", "name": "Demo", "description": "", "type": "eql",
        ...     "risk_score": 1, "severity": "low"}).locate(1, 1)
        "rule 'Demo'"
        """
        if self.source is None:
            return f"rule {self.name!r}"
        return self.source.describe(line, col)

    def query_error(self, message: str, line: int | None = None, col: int | None = None) -> RuleError:
        """A :class:`RuleError` for a problem at a query position, located in the rule's file."""
        position = None if self.source is None or line is None or col is None else (
            self.source.file_position(line, col))
        text = f"rule {self.name!r}: {message}"
        if self.source is None:
            return RuleError(text)
        if position is None:
            return RuleError(text, self.source.path, self.source.line)
        return RuleError(text, self.source.path, position[0], position[1])


@dataclass(frozen=True, slots=True)
class RuleLoadResult:
    """What a load produced: the rules, one error per problem, and how many files were read.

    >>> RuleLoadResult((), (), 0).ok
    True
    """

    rules: tuple[Rule, ...]
    errors: tuple[RuleError, ...] = ()
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def active(self) -> tuple[Rule, ...]:
        """The rules that are not deprecated."""
        return tuple(rule for rule in self.rules if rule.is_active)

    def __add__(self, other: RuleLoadResult) -> RuleLoadResult:
        return RuleLoadResult(self.rules + other.rules, self.errors + other.errors, self.files + other.files)
