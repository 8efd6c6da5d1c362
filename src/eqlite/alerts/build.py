"""Alert documents shaped as Kibana writes them to ``.alerts-security.alerts-<space>``.

One engine hit gives (detection-engine.md §0.6, §3.4, §3.10):

* an event hit: one alert, depth 1, one ``event`` ancestor, id per :func:`event_alert_id`;
* a sequence (or sample) hit: one *building block* alert per present event (missing-event
  slots give none), each with ``kibana.alert.building_block_type: "default"``,
  ``kibana.alert.group.id`` (the shell's id) and ``kibana.alert.group.index`` (0-based), then a
  *shell* alert: the fields its building blocks share, depth 2, ancestors
  ``[event 1, bb 1, event 2, bb 2, ...]``, ``group.id`` = its own id and no ``group.index``.
  The list returned is ``[shell, bb 0, bb 1, ...]``, Kibana's bulk order.

Document form: source fields keep the shape they had in the event's ``_source``; every field
Kibana adds is one top-level key spelt with dots (``"kibana.alert.rule.name"``,
``"event.kind": "signal"``) whose value may be an object or array
(``kibana.alert.rule.parameters``, ``kibana.alert.ancestors``, ``kibana.alert.rule.threat``).
That is how the persistence layer sends alerts to Elasticsearch, hence how ``_source`` reads.

``@timestamp`` (and the run times) is the build time ``now``, so a build is a pure function of
rule, hit and ``now``: the same inputs give the same documents. Severity and risk-score
mappings and ``rule_name_override`` apply to event alerts only; sequence alerts carry the
rule's own values, as Kibana builds them without overrides. ``timestamp_override`` only
changes a rule's search window, so here it is copied into the rule fields and nothing more.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from eqlite.alerts.base import Alert, share_values
from eqlite.alerts.ids import (
    building_block_ids,
    content_id,
    event_alert_id,
    execution_uuid_for,
    shell_alert_id,
)
from eqlite.alerts.ids import (
    rule_uuid as derive_rule_uuid,
)
from eqlite.alerts.reason import fields_view, reason_text, source_value
from eqlite.alerts.rule_fields import alert_rule_fields
from eqlite.alerts.source_fields import EcsRules, copy_source, default_rules, intersect_documents
from eqlite.rules import Rule
from eqlite.runtime.events import Event
from eqlite.runtime.search import EventHit, Hit
from eqlite.semantic.schema import Schema
from eqlite.semantic.types import js_iso, parse_date

_SEVERITY_RANK: Final = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class KibanaProfile:
    """The behaviour of the Kibana version whose alerts eqlite writes.

    Attributes:
        version: written to ``kibana.version``.
        reason_from_fields: read the reason's values from the hit's ``fields`` (up to 8.x:
            arrays, so ports appear) rather than ``_source`` (current: numeric ports omitted).
        original_data_stream: copy ``data_stream.*`` to ``kibana.alert.original_data_stream.*``.
    """

    version: str
    reason_from_fields: bool
    original_data_stream: bool


KIBANA_8: Final = KibanaProfile("8.19.0", reason_from_fields=True, original_data_stream=False)
KIBANA_9: Final = KibanaProfile("9.2.0", reason_from_fields=False, original_data_stream=True)
DEFAULT_PROFILE: Final = KIBANA_9


def iso_time(moment: dt.datetime) -> str:
    """A time as JavaScript's ``Date.toISOString`` writes it: UTC, milliseconds, ``Z``.

    >>> iso_time(dt.datetime(2024, 5, 14, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    '2024-05-14T08:00:00.123Z'
    """
    if moment.tzinfo is None:
        raise ValueError(f"time {moment.isoformat()} has no time zone; pass an aware datetime (e.g. UTC)")
    text = js_iso((moment - _EPOCH) // dt.timedelta(microseconds=1) * 1000)
    assert text is not None  # a datetime's years (1 to 9999) are within a JavaScript date's
    return text


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class AlertBuilder:
    """Builds the alerts of one rule for one run; reuse it for every hit of the run.

    The rule's values (``kibana.alert.rule.*`` but the execution's) are the same objects in
    every alert the builder makes: copy one before changing it in place. Everything else in
    an alert is its own.

    Args:
        rule: the rule that matched.
        now: the build time (``@timestamp``, run and detection times); must carry a time zone.
        space_id: the Kibana space (``kibana.space_ids``, ids, URLs).
        execution_uuid: the run's id; default: derived from the rule uuid and ``now``.
        rule_uuid: the rule's saved-object id; default: :func:`eqlite.alerts.ids.rule_uuid`.
        profile: which Kibana version's documents to write.
        public_base_url: Kibana's ``server.publicBaseUrl``; when given, alerts get ``kibana.alert.url``.
        ecs: ECS field types of the alerts index (default: the packaged ECS table).

    >>> from eqlite.rules import load_builtin_rules
    >>> from eqlite.runtime.events import Event
    >>> builder = AlertBuilder(load_builtin_rules()[0], now=dt.datetime(2024, 5, 14, 8, 10, tzinfo=dt.UTC))
    >>> event = Event({"@timestamp": "2024-05-14T08:03:51Z", "event": {"category": ["process"]}},
    ...               "logs-x", "e1", 0, 0, (0, 0, 0, 0))
    >>> [alert["kibana.alert.depth"] for alert in builder.build(EventHit(event))]
    [1]
    """

    def __init__(self, rule: Rule, *, now: dt.datetime, space_id: str = "default",
                 execution_uuid: str | None = None, rule_uuid: str | None = None,
                 profile: KibanaProfile = DEFAULT_PROFILE, public_base_url: str | None = None,
                 ecs: Schema | None = None) -> None:
        self.rule = rule
        self.space_id = space_id
        self.profile = profile
        self.now = iso_time(now)
        self.rule_uuid = rule_uuid or derive_rule_uuid(rule, space_id)
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._ecs = default_rules() if ecs is None else EcsRules(ecs)
        common: dict[str, Any] = {
            "@timestamp": self.now,
            "event.kind": "signal",
            "kibana.space_ids": [space_id],
            "kibana.version": profile.version,
            "kibana.alert.status": "active",
            "kibana.alert.workflow_status": "open",
            "kibana.alert.workflow_tags": [],
            "kibana.alert.workflow_assignee_ids": [],
            "kibana.alert.start": self.now,
            "kibana.alert.last_detected": self.now,
            "kibana.alert.intended_timestamp": self.now,
            "kibana.alert.rule.execution.type": "scheduled",
            "kibana.alert.rule.execution.uuid": execution_uuid or execution_uuid_for(self.rule_uuid, self.now),
            "kibana.alert.rule.execution.timestamp": self.now,
        }
        # The run's values are copied into every alert (a parse of their JSON: small lists that a
        # caller may change, such as workflow tags). The rule's own values (about 15 KB of JSON
        # with its investigation guide) are the same objects in every alert of the builder.
        self._common = orjson.dumps(common)
        self._rule_fields = alert_rule_fields(rule, self.rule_uuid)
        share_values(self.rule_uuid, {
            key: value for key, value in self._rule_fields.items()
            if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) > 64)})

    def build(self, hit: Hit) -> list[Alert]:
        """The alerts of one hit: ``[alert]`` for an event, ``[shell, bb 0, bb 1, ...]`` for a sequence.

        Returns ``[]`` when the hit holds no event, or when an event is an alert this same rule
        wrote (Kibana never lets a rule fire on its own alerts).
        """
        if isinstance(hit, EventHit):
            return self._event_alerts(hit.event)
        return self._sequence_alerts([event for event in hit.events if event is not None])

    def build_all(self, hits: Iterable[Hit]) -> list[Alert]:
        """The alerts of many hits, in hit order."""
        return [alert for hit in hits for alert in self.build(hit)]

    # ------------------------------------------------------------------ single events

    def _event_alerts(self, event: Event) -> list[Alert]:
        index, doc_id = _location(event)
        ancestors, depth = _lineage(event.source, index, doc_id)
        if self._fired_before(ancestors):
            return []
        source = event.source
        severity = _mapped_severity(self.rule, source)
        risk_score = _mapped_risk_score(self.rule, source)
        name = _overridden_name(self.rule, source)
        uuid = event_alert_id(index, doc_id, self.space_id, self.rule_uuid)
        alert = self._alert(event, uuid, ancestors, depth, severity, risk_score, name)
        if self.rule.building_block_type is not None:
            alert["kibana.alert.building_block_type"] = self.rule.building_block_type
        return [alert]

    def _alert(self, event: Event, uuid: str, ancestors: list[dict[str, Any]], depth: int,
               severity: str, risk_score: int | float, name: str) -> Alert:
        copied = copy_source(event.source, self._ecs, data_stream=self.profile.original_data_stream)
        fields = fields_view(event.source) if self.profile.reason_from_fields else None
        alert: Alert = {**copied.fields, **copied.originals, **orjson.loads(self._common), **self._rule_fields}
        alert["kibana.alert.uuid"] = uuid
        alert["kibana.alert.rule.name"] = name
        alert["kibana.alert.severity"] = severity
        alert["kibana.alert.risk_score"] = risk_score
        alert["kibana.alert.reason"] = reason_text(event.source, severity=severity, rule_name=name, fields=fields)
        original_time = _original_time(event.source)
        if original_time is not None:
            alert["kibana.alert.original_time"] = original_time
        alert["kibana.alert.ancestors"] = ancestors
        alert["kibana.alert.depth"] = depth
        self._add_url(alert)
        return alert

    # ------------------------------------------------------------------ sequences

    def _sequence_alerts(self, events: list[Event]) -> list[Alert]:
        if not events:
            return []
        locations = [_location(event) for event in events]
        lineages = [_lineage(event.source, index, doc_id) for event, (index, doc_id) in zip(events, locations,
                                                                                            strict=True)]
        if any(self._fired_before(ancestors) for ancestors, _ in lineages):
            return []
        rule = self.rule
        blocks: list[Alert] = []
        shell_ancestors: list[dict[str, Any]] = []
        for position, (event, bb_id, (ancestors, depth)) in enumerate(
                zip(events, building_block_ids(locations, self.rule_uuid), lineages, strict=True)):
            block = self._alert(event, bb_id, ancestors, depth, rule.severity, rule.risk_score, rule.name)
            block["kibana.alert.building_block_type"] = "default"
            block["kibana.alert.group.index"] = position
            blocks.append(block)
            shell_ancestors += [*ancestors, {"id": bb_id, "type": "signal", "index": "", "depth": depth,
                                             "rule": self.rule_uuid}]
        shell_id = shell_alert_id(((ancestor["id"], ancestor["index"]) for ancestor in shell_ancestors),
                                  self.rule_uuid)
        for block in blocks:
            block["kibana.alert.group.id"] = shell_id
        return [self._shell(shell_id, blocks, shell_ancestors), *blocks]

    def _shell(self, shell_id: str, blocks: list[Alert], ancestors: list[dict[str, Any]]) -> Alert:
        common = intersect_documents(blocks)
        for key in ("kibana.alert.group.index", "kibana.alert.building_block_type", "kibana.alert.url"):
            common.pop(key, None)
        shell: Alert = {**common, **orjson.loads(self._common), **self._rule_fields}
        shell["kibana.alert.uuid"] = shell_id
        shell["kibana.alert.group.id"] = shell_id
        shell["kibana.alert.rule.name"] = self.rule.name
        shell["kibana.alert.severity"] = self.rule.severity
        shell["kibana.alert.risk_score"] = self.rule.risk_score
        shell["kibana.alert.reason"] = reason_text(common, severity=self.rule.severity, rule_name=self.rule.name)
        # Kibana takes the shell's original time from its first parent, a building block
        # whose @timestamp is its build time (detection-engine.md §3.4).
        shell["kibana.alert.original_time"] = blocks[0]["@timestamp"]
        shell["kibana.alert.ancestors"] = ancestors
        shell["kibana.alert.depth"] = max(block["kibana.alert.depth"] for block in blocks) + 1
        if self.rule.building_block_type is not None:
            shell["kibana.alert.building_block_type"] = self.rule.building_block_type
        self._add_url(shell)
        return shell

    # ------------------------------------------------------------------ helpers

    def _fired_before(self, ancestors: list[dict[str, Any]]) -> bool:
        return any(ancestor.get("rule") == self.rule_uuid for ancestor in ancestors)

    def _add_url(self, alert: Alert) -> None:
        if self.public_base_url is None:
            return
        space = "" if self.space_id == "default" else f"/s/{self.space_id}"
        alert["kibana.alert.url"] = (
            f"{self.public_base_url}{space}/app/security/alerts/redirect/{alert['kibana.alert.uuid']}"
            f"?index=.alerts-security.alerts-{self.space_id}&timestamp={self.now}")


def build_alerts(rule: Rule, hit: Hit, *, now: dt.datetime, space_id: str = "default",
                 execution_uuid: str | None = None, profile: KibanaProfile = DEFAULT_PROFILE,
                 public_base_url: str | None = None) -> list[Alert]:
    """The Kibana alert documents of one hit (see :class:`AlertBuilder`, which a run should reuse).

    >>> from eqlite.rules import load_builtin_rules
    >>> from eqlite.runtime.search import SequenceHit
    >>> def event(i, category):
    ...     return Event({"@timestamp": f"2024-05-14T08:0{i}:00Z", "event": {"category": [category]},
    ...                   "host": {"name": "wks-1"}}, "logs-x", f"e{i}", i, 0, (0, 0, 0, i))
    >>> alerts = build_alerts(load_builtin_rules()[0], SequenceHit([event(1, "network"), event(2, "process")], []),
    ...                       now=dt.datetime(2024, 5, 14, 8, 10, tzinfo=dt.UTC))
    >>> [(a["kibana.alert.depth"], a.get("kibana.alert.group.index")) for a in alerts]
    [(2, None), (1, 0), (1, 1)]
    >>> alerts[0]["kibana.alert.reason"]
    'event on wks-1 created high alert Incoming DCOM Lateral Movement with MMC.'
    """
    builder = AlertBuilder(rule, now=now, space_id=space_id, execution_uuid=execution_uuid, profile=profile,
                           public_base_url=public_base_url)
    return builder.build(hit)


# ---------------------------------------------------------------------- per-event values


def _location(event: Event) -> tuple[str, str]:
    """The event's ``(_index, _id)``; a content hash stands in for a missing ``_id``."""
    doc_id = event.id or content_id(orjson.dumps(event.source, option=orjson.OPT_SORT_KEYS, default=str))
    return event.index or "", doc_id


def _lineage(source: Mapping[str, Any], index: str, doc_id: str) -> tuple[list[dict[str, Any]], int]:
    """The new alert's ancestors and depth: the event, or (alert on an alert) the parent alert's chain."""
    depth = source_value(source, "kibana.alert.depth")
    if isinstance(depth, int) and not isinstance(depth, bool) and depth > 0:
        earlier = source_value(source, "kibana.alert.ancestors")
        parent: dict[str, Any] = {"id": doc_id, "type": "signal", "index": index, "depth": depth}
        parent_rule = source_value(source, "kibana.alert.rule.uuid")
        if parent_rule is not None:
            parent["rule"] = parent_rule
        chain = [dict(item) for item in earlier if isinstance(item, Mapping)] if isinstance(earlier, list) else []
        return [*chain, parent], depth + 1
    return [{"id": doc_id, "type": "event", "index": index, "depth": 0}], 1


# A time already written as toISOString writes it (2024-05-14T08:05:22.146Z) comes out unchanged,
# once its fields are known to make a real date.
_CANONICAL_TIME: Final = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z")


def _original_time(source: Mapping[str, Any]) -> str | None:
    """The event's ``@timestamp`` as ``toISOString`` writes it; None when it is not a date.

    >>> _original_time({"@timestamp": "2024-05-14T08:05:22.146Z"}), _original_time({"@timestamp": 1})
    ('2024-05-14T08:05:22.146Z', '1970-01-01T00:00:00.001Z')
    >>> _original_time({"@timestamp": "2024-02-30T00:00:00.000Z"}) is None
    True
    """
    value = source_value(source, "@timestamp")
    if isinstance(value, list):
        value = value[0] if value else None
    if type(value) is str and (canonical := _CANONICAL_TIME.fullmatch(value)) is not None:
        try:
            year, month, day, hour, minute, second = map(int, canonical.groups())
            dt.datetime(year, month, day, hour, minute, second)
        except ValueError:
            pass  # not a real date (day 30 of February, second 60): parsed below
        else:
            return value
    nanos = parse_date(value) if value is not None else None
    return None if nanos is None else js_iso(nanos)


def _first(value: Any) -> Any:
    return (value[0] if value else None) if isinstance(value, list) else value


def _js_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _mapped_severity(rule: Rule, source: Mapping[str, Any]) -> str:
    """The highest severity among the mappings whose field equals their value, else the rule's."""
    chosen: str | None = None
    for mapping in rule.severity_mapping:
        if mapping.operator != "equals":
            continue
        raw = source_value(source, mapping.field)
        values = raw if isinstance(raw, list) else [raw]
        if any(_js_text(value) == mapping.value for value in values) and (
                chosen is None or _SEVERITY_RANK.get(mapping.severity, -1) >= _SEVERITY_RANK.get(chosen, -1)):
            chosen = mapping.severity
    return chosen or rule.severity


def _mapped_risk_score(rule: Rule, source: Mapping[str, Any]) -> int | float:
    """The risk score read from the mapped field when it holds a number from 0 to 100, else the rule's."""
    for mapping in rule.risk_score_mapping[:1]:
        value = _first(source_value(source, mapping.field))
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if 0 <= number <= 100:
            return int(number) if number.is_integer() else number
    return rule.risk_score


def _overridden_name(rule: Rule, source: Mapping[str, Any]) -> str:
    if rule.rule_name_override:
        value = _first(source_value(source, rule.rule_name_override))
        if isinstance(value, str) and value.strip():
            return value
    return rule.name
