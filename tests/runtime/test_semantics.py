"""Elasticsearch semantics that implementers most often get wrong, case by case.

Each case runs a query over the small event set below and lists the ids it must return.
"""

from __future__ import annotations

import pytest

from eqlite.runtime.search import EventHit, SearchOptions, search
from eqlite.semantic.schema import Schema

MAPPING = Schema.from_mapping({"properties": {
    "@timestamp": {"type": "date"},
    "id": {"type": "long"},
    "event": {"properties": {"category": {"type": "keyword"}, "type": {"type": "keyword"}}},
    "name": {"type": "keyword"},
    "path": {"type": "keyword"},
    "port": {"type": "long"},
    "ratio": {"type": "double"},
    "ip": {"type": "ip"},
    "tags": {"type": "keyword"},
    "code": {"type": "keyword"},
    "flag": {"type": "boolean"},
}})

EVENTS = [
    {"@timestamp": 1, "id": 1, "event": {"category": "process", "type": ["start", "process_start"]},
     "name": "cmd.exe", "path": "C:\\Windows\\System32\\cmd.exe", "port": 49152, "ip": "10.1.2.3",
     "tags": ["a", "b"], "code": 4624, "flag": True},
    {"@timestamp": 2, "id": 2, "event": {"category": ["process", "host"], "type": "end"},
     "name": "CMD.EXE", "path": "C:\\Temp\\x*y.exe", "port": "80", "ip": "::1", "tags": "c", "ratio": 0.5},
    {"@timestamp": 3, "id": 3, "event": {"category": "network"}, "name": "svchost.exe", "port": [1, 60000],
     "ip": "0:0:0:0:0:0:0:1", "code": "4625", "flag": False},
    {"@timestamp": 4, "id": 4, "event": {"category": "network", "type": "start"}, "ratio": 2.5},
    {"@timestamp": 5, "id": 5, "event": {"category": "process"}, "name": "cmd.exe", "port": "not a number"},
]

CASES = [
    # category, case sensitivity and wildcards
    ("process where true", [1, 2, 5]),
    ("any where true", [1, 2, 3, 4, 5]),
    ("host where true", [2]),
    ('process where name == "cmd.exe"', [1, 5]),
    ('process where name : "cmd.exe"', [1, 2, 5]),
    ('process where name like "CMD*"', [2]),
    ('process where name like~ "cmd?exe"', [1, 2, 5]),
    ('any where name : "*host*"', [3]),
    ('any where name == "cmd*"', []),
    ('any where name in~ ("CMD.exe")', [1, 2, 5]),
    ('any where name in~ ("cmd*")', []),
    ('any where name regex "c.d\\\\.exe"', [1, 5]),
    ('any where name regex~ "C.D\\\\.EXE"', [1, 2, 5]),
    ('any where name regex "cmd"', []),
    ('any where path : "*\\\\cmd.exe"', [1]),
    ('any where path : "C:\\\\Temp\\\\x*y.exe"', [2]),
    # arrays: any element
    ('any where event.type == "start"', [1, 4]),
    ('any where tags == "b"', [1]),
    ('any where tags != "b"', [2, 3, 4, 5]),
    ('any where port == 60000', [3]),
    ('any where port > 100 and port < 2', []),
    ('any where port > 100 and id == 3', [3]),
    # missing fields: direct predicates false, negations true
    ('any where name != "cmd.exe"', [2, 3, 4]),
    ('any where name not in ("cmd.exe", "CMD.EXE")', [3, 4]),
    ('any where not name : "cmd.exe"', [3, 4]),
    ("any where not port > 100", [2, 3]),  # rewritten to port <= 100: a missing port does not match
    ("any where not (port > 100 and id < 5)", [2, 4, 5]),  # must_not of a conjunction: missing matches
    ("any where name == null", [4]),
    ("any where name != null", [1, 2, 3, 5]),
    ("any where null == name", [4]),
    ("any where ratio > 1", [4]),
    # schema types: numeric strings, ip normalisation, keyword holding numbers
    ("any where port >= 49152", [1, 3]),
    ("any where port == 80", [2]),
    ('any where ip == "::1"', [2, 3]),
    ('any where ip not in ("127.0.0.1", "::1")', [1, 4, 5]),
    ('any where cidrMatch(ip, "10.0.0.0/8")', [1]),
    ('any where not cidrMatch(ip, "10.0.0.0/8")', [2, 3, 4, 5]),
    ('any where code == "4624"', [1]),
    ('any where code : "462*"', [1, 3]),
    ("any where flag == true", [1]),
    ("any where flag == false", [3]),
    # functions: scripts use three-valued logic
    ('any where length(name) == 7', [1, 2, 5]),
    ('any where not length(name) == 7', [3]),
    ('any where startsWith(name, "cmd")', [1, 5]),
    ('any where startsWith~(name, "CMD")', [1, 2, 5]),
    ('any where not startsWith(name, "cmd")', [2, 3, 4]),
    ('any where endsWith~(path, "\\\\CMD.exe")', [1]),
    ('any where stringContains(name, "host")', [3]),
    ('any where indexOf(name, "x") != null', [1, 3, 5]),
    ('any where substring(name, -3) == "exe"', [1, 3, 5]),
    ('any where concat(name, "-", id) == "cmd.exe-1"', [1]),
    ("any where id / 2 == 1", [2, 3]),
    ("any where -id % 2 == -1", [1, 3, 5]),
    ("any where null == (port > 100)", [4, 5]),
    ('any where string(id) == "4"', [4]),
    ('any where number(code) == 4625', [3]),
    ("any where add(id, 1.5) == 2.5", [1]),
]


def _ids(query: str) -> list[int]:
    result = search(query, EVENTS, SearchOptions(schema=MAPPING))
    return [hit.event.source["id"] for hit in result.hits if isinstance(hit, EventHit)]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[case[0] for case in CASES])
def test_semantics(query: str, expected: list[int]) -> None:
    assert _ids(query) == expected


def test_head_and_tail_pipes() -> None:
    assert _ids("any where true | head 4 | tail 2") == [3, 4]
    assert _ids("any where true | tail 2") == [4, 5]


def test_size_and_result_position() -> None:
    head = search("any where true", EVENTS, SearchOptions(schema=MAPPING, size=2, result_position="head"))
    tail = search("any where true", EVENTS, SearchOptions(schema=MAPPING, size=2, result_position="tail"))
    assert [h.event.source["id"] for h in head.hits] == [1, 2]  # type: ignore[union-attr]
    assert [h.event.source["id"] for h in tail.hits] == [4, 5]  # type: ignore[union-attr]


def test_integer_division_by_zero_is_counted_not_fatal() -> None:
    result = search("any where id / 0 == 1", EVENTS, SearchOptions(schema=MAPPING))
    assert result.hits == []
    assert result.stats.script_errors == 5


def test_events_without_timestamp_are_ignored() -> None:
    result = search("any where true", [{"id": 1}, {"@timestamp": 1, "id": 2}], SearchOptions(schema=MAPPING))
    assert len(result.hits) == 1
    assert result.stats.without_timestamp == 1


def test_without_schema_types_do_not_coerce() -> None:
    result = search("any where port == 80", EVENTS, SearchOptions(schema=None))
    assert result.hits == []
