"""Copying an event into an alert, and the shared fields of a sequence's building blocks."""

from __future__ import annotations

from typing import Any

import pytest

from eqlite.alerts.source_fields import copy_source, intersect_documents
from eqlite.semantic.schema import Schema

ECS = Schema.ecs(include_non_ecs=False)


@pytest.mark.parametrize(("source", "kept"), [
    # other alerts' verdict fields never carry over
    ({"kibana": {"alert": {"uuid": "x"}}, "kibana.alert.severity": "low", "signal": {"rule": {}},
      "signal.status": "open", "threshold_result": {"count": 3}, "host": {"name": "h"}}, {"host": {"name": "h"}}),
    # values the ECS mapping cannot hold
    ({"source": {"port": "not-a-number", "ip": "10.0.0.1"}}, {"source": {"ip": "10.0.0.1"}}),
    ({"source": {"port": "49152"}}, {"source": {"port": "49152"}}),
    ({"host": {"ip": ["10.0.0.1", "nope", "::1"]}}, {"host": {"ip": ["10.0.0.1", "::1"]}}),
    ({"event": {"ingested": "yesterday", "action": "x"}}, {"event": {"action": "x"}}),
    ({"process": {"name": {"nested": 1}, "pid": 4}}, {"process": {"pid": 4}}),
    ({"process": "just text"}, {}),
    ({"process.name.extra": 1, "process.pid": 4}, {"process.pid": 4}),
    ({"dll": {"code_signature": {"trusted": "maybe"}}}, {}),
    # fields outside ECS are kept as they are
    ({"process": {"Ext": {"ancestry": ["a", "b"]}}, "custom": {"x": 1}},
     {"process": {"Ext": {"ancestry": ["a", "b"]}}, "custom": {"x": 1}}),
    # empty leftovers disappear
    ({"file": {}, "tags": [], "host": {"ip": ["bad"]}}, {}),
    # event.kind makes way for the alert's own
    ({"event": {"kind": "event"}}, {}),
    ({"event.kind": "alert", "event.action": "start"}, {"event.action": "start"}),
])
def test_copied_source_fields(source: dict[str, Any], kept: dict[str, Any]) -> None:
    assert copy_source(source, ECS).fields == kept


def test_event_and_data_stream_values_are_copied_as_dotted_originals() -> None:
    source = {"event": {"kind": "event", "category": ["process"], "outcome": "success"},
              "event.module": "endpoint", "data_stream": {"type": "logs", "dataset": "endpoint.events.process"}}
    assert copy_source(source, ECS).originals == {
        "kibana.alert.original_event.kind": "event",
        "kibana.alert.original_event.category": ["process"],
        "kibana.alert.original_event.outcome": "success",
        "kibana.alert.original_event.module": "endpoint",
        "kibana.alert.original_data_stream.type": "logs",
        "kibana.alert.original_data_stream.dataset": "endpoint.events.process",
    }
    assert "kibana.alert.original_data_stream.type" not in copy_source(source, ECS, data_stream=False).originals


def test_the_source_is_not_changed() -> None:
    source = {"event": {"kind": "event"}, "kibana.alert.uuid": "x"}
    copy_source(source, ECS)
    assert source == {"event": {"kind": "event"}, "kibana.alert.uuid": "x"}


@pytest.mark.parametrize(("first", "second", "common"), [
    # Kibana FTR: a differing agent.name disappears, client.ip [.1, .2] ∩ [.1, .3] = [.1]
    ({"agent": {"name": "a", "type": "auditbeat"}, "client": {"ip": ["10.0.0.1", "10.0.0.2"]}},
     {"agent": {"name": "b", "type": "auditbeat"}, "client": {"ip": ["10.0.0.1", "10.0.0.3"]}},
     {"agent": {"type": "auditbeat"}, "client": {"ip": ["10.0.0.1"]}}),
    ({"a": 1}, {"a": 1.0}, {"a": 1}),
    ({"a": 1}, {"a": "1"}, {}),
    ({"a": True}, {"a": 1}, {}),
    ({"a": "x"}, {"a": ["x", "y"]}, {"a": ["x"]}),
    ({"a": ["x", "x", "y"]}, {"a": ["y", "x"]}, {"a": ["x", "y"]}),
    ({"a": ["x"]}, {"a": ["y"]}, {}),
    ({"a": [{"b": 1}]}, {"a": [{"b": 1}]}, {}),
    ({"a": {"b": 1}}, {"a": 1}, {}),
    ({"a": None}, {"a": None}, {"a": None}),
    ({"user": {"name": "root"}}, {"user.name": "root"}, {"user": {"name": "root"}}),
    ({"user.name": "root"}, {"user": {"name": "root"}}, {"user.name": "root"}),
    ({"a": 1}, {"b": 1}, {}),
])
def test_intersection(first: dict[str, Any], second: dict[str, Any], common: dict[str, Any]) -> None:
    assert intersect_documents([first, second]) == common


def test_intersection_of_three_and_of_none() -> None:
    documents = [{"a": ["x", "y", "z"], "b": 1}, {"a": ["y", "z"], "b": 1}, {"a": ["z"], "b": 2}]
    assert intersect_documents(documents) == {"a": ["z"]}
    assert intersect_documents([]) == {}
