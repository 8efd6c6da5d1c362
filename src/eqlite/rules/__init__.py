"""Rules: the rule model, detection-rules TOML and Kibana NDJSON readers/writers, the built-in pack.

>>> from eqlite.rules import load_builtin_rules
>>> load_builtin_rules()[0].execution_support().supported
True
"""

from eqlite.rules.builtin import find_builtin_rule, load_builtin_rules
from eqlite.rules.kibana_format import (
    rule_from_api,
    rule_to_api,
    rules_from_json,
    rules_from_ndjson,
    rules_to_ndjson,
)
from eqlite.rules.loader import (
    RULE_SUFFIXES,
    check_queries,
    find_rule,
    find_rules,
    load_rule_file,
    load_rules,
    save_rules,
)
from eqlite.rules.model import (
    AlertSuppression,
    ExceptionListRef,
    ExecutionSupport,
    InvestigationFields,
    RelatedIntegration,
    RequiredField,
    RiskScoreMapping,
    Rule,
    RuleLoadResult,
    RuleMetadata,
    SeverityMapping,
    SourceLocation,
    SuppressionDuration,
    Threat,
    ThreatSubtechnique,
    ThreatTactic,
    ThreatTechnique,
)
from eqlite.rules.toml_format import rule_from_toml, rule_to_toml

__all__ = [
    "RULE_SUFFIXES",
    "AlertSuppression",
    "ExceptionListRef",
    "ExecutionSupport",
    "InvestigationFields",
    "RelatedIntegration",
    "RequiredField",
    "RiskScoreMapping",
    "Rule",
    "RuleLoadResult",
    "RuleMetadata",
    "SeverityMapping",
    "SourceLocation",
    "SuppressionDuration",
    "Threat",
    "ThreatSubtechnique",
    "ThreatTactic",
    "ThreatTechnique",
    "check_queries",
    "find_builtin_rule",
    "find_rule",
    "find_rules",
    "load_builtin_rules",
    "load_rule_file",
    "load_rules",
    "rule_from_api",
    "rule_from_toml",
    "rule_to_api",
    "rule_to_toml",
    "rules_from_json",
    "rules_from_ndjson",
    "rules_to_ndjson",
    "save_rules",
]
