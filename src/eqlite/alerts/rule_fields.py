"""The ``kibana.alert.rule.*`` fields: the rule's configuration, copied onto every alert it raises.

Kibana writes the rule twice into each alert (detection-engine.md §3.10): as named fields
(``kibana.alert.rule.name``, ``.rule_id``, ``.threat``, ``.from``, ...) and, under
``kibana.alert.rule.parameters``, as the full set of rule *parameters* in snake_case, which
covers what the rule type uses (``query``, ``index``, ``severity``, ``risk_score``, ...) but
not the saved-object attributes (``name``, ``tags``, ``interval``, ``enabled``, actions).
Optional values that are not set are left out, as JSON leaves out JavaScript's ``undefined``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from eqlite.rules import Rule, rule_to_api

RULE_TYPES: Final = {"eql": ("siem.eqlRule", "Event Correlation Rule")}
"""Kibana's rule type id and display name ("category") per rule ``type``."""

PRODUCER: Final = "siem"

# The rule parameters Kibana keeps for an EQL rule, in its order; absent ones are skipped.
_PARAMETERS: Final = (
    "author", "building_block_type", "description", "note", "false_positives", "from", "rule_id",
    "immutable", "rule_source", "license", "timeline_id", "timeline_title", "meta", "max_signals",
    "namespace", "risk_score", "risk_score_mapping", "rule_name_override", "setup", "severity",
    "severity_mapping", "threat", "timestamp_override", "timestamp_override_fallback_disabled", "to",
    "references", "related_integrations", "required_fields", "version", "exceptions_list",
    "investigation_fields", "response_actions", "type", "language", "index", "data_view_id", "query",
    "filters", "event_category_override", "tiebreaker_field", "timestamp_field", "alert_suppression",
)

# Saved-object attributes Kibana only knows when the rule was exported from it.
_FROM_KIBANA: Final = ("created_at", "created_by", "updated_at", "updated_by", "namespace")


def rule_parameters(rule: Rule) -> dict[str, Any]:
    """``kibana.alert.rule.parameters``: the rule's parameters as Kibana's API spells them.

    ``immutable`` and ``rule_source`` come from a Kibana export when present; otherwise the
    rule counts as a custom (``internal``) rule.

    >>> from eqlite.rules import load_builtin_rules
    >>> params = rule_parameters(load_builtin_rules()[0])
    >>> params["severity"], params["risk_score"], params["version"], params["rule_source"]
    ('high', 73, 3, {'type': 'internal'})
    >>> "name" in params, "interval" in params
    (False, False)
    """
    api = rule_to_api(rule, defaults=True, repository=False)
    immutable = bool(rule.extra.get("immutable", False))
    source = rule.extra.get("rule_source")
    api["immutable"] = immutable
    api["rule_source"] = dict(source) if isinstance(source, Mapping) else (
        {"type": "external", "is_customized": False} if immutable else {"type": "internal"})
    if "namespace" in rule.extra:
        api["namespace"] = rule.extra["namespace"]
    return {key: api[key] for key in _PARAMETERS if api.get(key) is not None}


def alert_rule_fields(rule: Rule, rule_uuid: str) -> dict[str, Any]:
    """Every ``kibana.alert.rule.*`` field of the rule's alerts, as dotted keys.

    Args:
        rule: the rule.
        rule_uuid: its saved-object id (``kibana.alert.rule.uuid``).

    Raises:
        ValueError: for a rule type that does not raise alerts from EQL hits.

    >>> from eqlite.rules import load_builtin_rules
    >>> fields = alert_rule_fields(load_builtin_rules()[0], "so-1")
    >>> fields["kibana.alert.rule.rule_type_id"], fields["kibana.alert.rule.uuid"], fields["kibana.alert.rule.from"]
    ('siem.eqlRule', 'so-1', 'now-9m')
    >>> [t["tactic"]["id"] for t in fields["kibana.alert.rule.threat"]]
    ['TA0008']
    """
    kind = RULE_TYPES.get(rule.type)
    if kind is None:
        raise ValueError(f"rule {rule.name!r} has type {rule.type!r}; alerts are built for EQL rules only")
    rule_type_id, category = kind
    parameters = rule_parameters(rule)
    api = rule_to_api(rule, defaults=True, repository=False)
    fields: dict[str, Any] = {
        "kibana.alert.rule.actions": list(api.get("actions") or []),
        "kibana.alert.rule.author": parameters.get("author", []),
        "kibana.alert.rule.category": category,
        "kibana.alert.rule.consumer": PRODUCER,
        "kibana.alert.rule.description": rule.description,
        "kibana.alert.rule.enabled": rule.enabled,
        "kibana.alert.rule.exceptions_list": parameters.get("exceptions_list", []),
        "kibana.alert.rule.false_positives": parameters.get("false_positives", []),
        "kibana.alert.rule.from": rule.from_,
        "kibana.alert.rule.immutable": parameters["immutable"],
        "kibana.alert.rule.indices": list(rule.index or ()),
        "kibana.alert.rule.interval": rule.interval,
        "kibana.alert.rule.max_signals": rule.max_signals,
        "kibana.alert.rule.name": rule.name,
        "kibana.alert.rule.parameters": parameters,
        "kibana.alert.rule.producer": PRODUCER,
        "kibana.alert.rule.references": parameters.get("references", []),
        "kibana.alert.rule.revision": rule.revision or 0,
        "kibana.alert.rule.risk_score_mapping": parameters.get("risk_score_mapping", []),
        "kibana.alert.rule.rule_id": rule.rule_id,
        "kibana.alert.rule.rule_type_id": rule_type_id,
        "kibana.alert.rule.severity_mapping": parameters.get("severity_mapping", []),
        "kibana.alert.rule.tags": list(rule.tags),
        "kibana.alert.rule.threat": parameters.get("threat", []),
        "kibana.alert.rule.to": rule.to,
        "kibana.alert.rule.type": rule.type,
        "kibana.alert.rule.uuid": rule_uuid,
        "kibana.alert.rule.version": rule.version,
    }
    optional = {
        "license": rule.license, "note": rule.note, "meta": dict(rule.meta) if rule.meta else None,
        "rule_name_override": rule.rule_name_override, "throttle": rule.throttle,
        "timeline_id": rule.timeline_id, "timeline_title": rule.timeline_title,
        "timestamp_override": rule.timestamp_override,
        "investigation_fields": parameters.get("investigation_fields"),
        **{key: rule.extra.get(key) for key in _FROM_KIBANA},
    }
    fields.update({f"kibana.alert.rule.{key}": value for key, value in optional.items() if value is not None})
    return dict(sorted(fields.items()))
