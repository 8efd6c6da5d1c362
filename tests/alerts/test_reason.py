"""``kibana.alert.reason``: Kibana's template, piece by piece."""

from __future__ import annotations

from typing import Any

import pytest

from eqlite.alerts.reason import fields_view, reason_text

CASES: list[tuple[dict[str, Any], str]] = [
    # the building-block and shell reasons of Kibana's own EQL sequence test
    ({"event": {"category": "anomoly"}, "process": {"name": "bro"}, "user": {"name": "root"},
      "host": {"name": "zeek-sensor-amsterdam"}},
     "anomoly event with process bro, by root on zeek-sensor-amsterdam created high alert R."),
    ({"user": {"name": "root"}, "host": {"name": "zeek-sensor-amsterdam"}},
     "event by root on zeek-sensor-amsterdam created high alert R."),
    ({}, "event created high alert R."),
    ({"event": {"category": ["network", "process"]}}, "network, process event created high alert R."),
    ({"process": {"name": "cmd.exe", "parent": {"name": "mmc.exe"}}, "file": {"name": "a.txt"}},
     "event with process cmd.exe, parent process mmc.exe, file a.txt, created high alert R."),
    ({"source": {"ip": "10.0.0.1", "port": "50123"}, "destination": {"ip": "10.0.0.2", "port": "135"}},
     "event with source 10.0.0.1:50123, destination 10.0.0.2:135, created high alert R."),
    # current Kibana reads _source: a numeric port has no length and is left out
    ({"source": {"ip": "10.0.0.1", "port": 50123}, "destination": {"ip": "10.0.0.2", "port": 135}},
     "event with source 10.0.0.1 destination 10.0.0.2 created high alert R."),
    ({"source": {"port": 50123}}, "event created high alert R."),
    # left out: empty, "-", ["-"], falsy, objects
    ({"process": {"name": ""}, "user": {"name": "-"}, "host": {"name": ["-"]}}, "event created high alert R."),
    ({"process": {"name": []}, "user": {"name": None}, "host": {"name": {"x": 1}}}, "event created high alert R."),
    ({"user": {"name": ["a", "b"]}, "host": {"name": ["h1", "-"]}}, "event by a, b on h1, - created high alert R."),
    # a path is found as a dotted top-level key, not through a mix of both spellings
    ({"host.name": "dotted"}, "event on dotted created high alert R."),
    ({"process": {"parent.name": "mmc.exe"}, "user": [{"name": "in-array"}]}, "event created high alert R."),
]


@pytest.mark.parametrize(("document", "expected"), CASES)
def test_reason_from_source(document: dict[str, Any], expected: str) -> None:
    assert reason_text(document, severity="high", rule_name="R") == expected


def test_reason_from_fields_shows_numeric_ports() -> None:
    document = {"event": {"category": ["network"]}, "source": {"ip": "10.0.0.1", "port": 50123},
                "destination": {"ip": "10.0.0.2", "port": 135}, "host": {"name": "h"}}
    assert reason_text(document, severity="low", rule_name="R", fields=fields_view(document)) == (
        "network event with source 10.0.0.1:50123, destination 10.0.0.2:135, on h created low alert R.")


def test_fields_view_renders_values_as_javascript_joins_them() -> None:
    document = {"user": {"name": [1.0, True, 2.5]}}
    assert reason_text(document, severity="low", rule_name="R", fields=fields_view(document)) == (
        "event by 1, true, 2.5 created low alert R.")
