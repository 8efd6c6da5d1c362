"""Copying an event into an alert, and the shared fields of a sequence's building blocks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlite.alerts.source_fields import EcsRules, copy_source, intersect_documents
from eqlite.semantic.schema import Schema
from eqlite.semantic.types import Family, coerce_value

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


# ------------------------------------------------------------ the path tree against a plain walk


def _oracle(source: dict[str, Any]) -> dict[str, Any]:
    """copy_source's fields, computed path string by path string straight from the schema."""
    def kind(path: str) -> str:
        info = ECS.field(path)
        if info is None or info.family is Family.FLATTENED:
            return "free"
        if info.family in (Family.OBJECT, Family.NESTED):
            return "object"
        return "checked" if info.family in (Family.NUMERIC, Family.DATE, Family.IP, Family.BOOLEAN) else "value"

    def crosses(parent: str, key: str) -> bool:
        prefix = parent
        for part in key.split(".")[:-1]:
            prefix = f"{prefix}.{part}" if prefix else part
            if kind(prefix) in ("value", "checked"):
                return True
        return False

    def clean(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            if kind(path) in ("value", "checked"):
                return drop
            kept = {key: cleaned for key, child in value.items() if not ("." in key and crosses(path, key))
                    and (cleaned := clean(child, f"{path}.{key}")) is not drop}
            return kept or drop
        if isinstance(value, list):
            return [cleaned for item in value if (cleaned := clean(item, path)) is not drop] or drop
        found = kind(path)
        if value is None or found in ("free", "value"):
            return value
        info = ECS.field(path)
        if found == "object" or info is None:
            return drop
        return value if coerce_value(info.type, value, date_format=info.date_format) is not None else drop

    drop = object()
    out = {}
    for key, value in source.items():
        if key == "threshold_result" or key.startswith(("kibana", "signal")) or ("." in key and crosses("", key)):
            continue
        if (cleaned := clean(value, key)) is not drop:
            out[key] = cleaned
    out.pop("event.kind", None)
    if isinstance(out.get("event"), dict) and "kind" in out["event"]:
        rest = {key: value for key, value in out["event"].items() if key != "kind"}
        if rest:
            out["event"] = rest
        else:
            del out["event"]
    return out


_PARTS = ["process", "parent", "name", "pid", "args", "source", "ip", "port", "event", "kind", "created",
          "host", "dll", "code_signature", "trusted", "Ext", "custom", "x", "@timestamp", "kibana", "data_stream"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.sampled_from(
    ["49152", "x", "10.0.0.1", "::1", "nope", "true", "2024-05-14T08:00:00Z", "yesterday", "", "-"]))
_KEYS = st.one_of(st.sampled_from(_PARTS),
                  st.lists(st.sampled_from(_PARTS), min_size=2, max_size=3).map(".".join))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_copy_matches_a_walk_by_path_strings(source: dict[str, Any]) -> None:
    shared = EcsRules(ECS)
    for _ in range(2):  # the second copy walks the remembered tree
        assert copy_source(source, shared).fields == _oracle(source)


def test_the_path_tree_starts_again_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EcsRules, "_LIMIT", 3)
    rules = EcsRules(ECS)
    source = {"process": {"pid": "nope", "name": "a", "parent": {"pid": 4}}, "source": {"port": "x"}, "c": 1}
    for _ in range(3):
        assert copy_source(source, rules).fields == {"process": {"name": "a", "parent": {"pid": 4}}, "c": 1}
    assert rules._nodes <= 3
