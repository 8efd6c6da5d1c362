"""Table-driven faithfulness tests: a raw record in, the collector's documented ECS fields out.

The cases live in ``tests/fixtures/windows/*.yaml``; each names the source of its expected values
(the collectors' ingest pipelines or their golden test files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from eqlite.sources.windows import PROFILES, Mapper, WinRecord
from tests.conftest import FIXTURES

CASE_FILES = ("sysmon.yaml", "security.yaml", "powershell.yaml", "generic.yaml")
_MISSING = object()


def _load_cases() -> list[Any]:
    params = []
    for name in CASE_FILES:
        data = yaml.safe_load((FIXTURES / "windows" / name).read_text(encoding="utf-8"))
        defaults = data.get("defaults", {})
        for case in data["cases"]:
            for profile in case.get("profiles", ["winlogbeat", "agent"]):
                params.append(pytest.param(name, defaults, case, profile, id=f"{case['id']}[{profile}]"))
    return params


def record_of(defaults: dict[str, Any], case: dict[str, Any]) -> WinRecord:
    """The normalized record of a case: its ``record`` over the file's defaults over fixed fallbacks."""
    base: dict[str, Any] = {"computer": "HOST", "time_created": "2021-01-01T00:00:00.000000Z", "event_data": {}}
    record = {**base, **defaults, **case["record"]}
    record["event_data"] = {k: str(v) for k, v in record["event_data"].items()}
    return record  # type: ignore[return-value]


def dig(doc: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path; a key may itself hold dots (``@timestamp``)."""
    if dotted in doc:
        return doc[dotted]
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


@pytest.mark.parametrize(("fixture", "defaults", "case", "profile"), _load_cases())
def test_case(fixture: str, defaults: dict[str, Any], case: dict[str, Any], profile: str) -> None:
    mapped = Mapper(profile, case.get("host_id")).map(record_of(defaults, case))
    doc = mapped.source
    expected = {**case.get("expect", {}), **case.get(f"expect_{profile}", {})}
    for path, value in expected.items():
        assert dig(doc, path) == value, f"{fixture}:{case['id']}: {path}"
    for path in case.get("absent", []):
        assert dig(doc, path) is _MISSING, f"{fixture}:{case['id']}: {path} should not be set"
    assert mapped.known is not case.get("unmapped", False)
    if "index" in case:
        assert mapped.index == case["index"][profile]


def test_every_listed_event_id_has_a_case() -> None:
    """Each event id a profile maps is exercised by at least one fixture case (or the categorization table)."""
    covered: set[tuple[str, int]] = set()
    for name in CASE_FILES:
        data = yaml.safe_load((FIXTURES / "windows" / name).read_text(encoding="utf-8"))
        channel = data.get("defaults", {}).get("channel")
        for case in data["cases"]:
            covered.add((case["record"].get("channel", channel).lower(), case["record"]["event_id"]))
    table = yaml.safe_load((FIXTURES / "windows" / "security_categorization.yaml").read_text(encoding="utf-8"))
    covered.update(("security", int(code)) for code in table["events"])
    missing = []
    for profile in PROFILES.values():
        for channel, spec in profile.channels.items():
            if spec.module is not None:
                missing += [(channel, code) for code in spec.module.events if (channel, code) not in covered]
    assert not missing, f"event ids without a fixture case: {sorted(set(missing))}"


def test_case_files_exist() -> None:
    for name in (*CASE_FILES, "security_categorization.yaml"):
        assert Path(FIXTURES / "windows" / name).is_file()


def _categorization_params() -> list[Any]:
    table = yaml.safe_load((FIXTURES / "windows" / "security_categorization.yaml").read_text(encoding="utf-8"))
    return [
        pytest.param(int(code), spec, profile, id=f"{code}[{profile}]")
        for code, spec in table["events"].items()
        for profile in ("winlogbeat", "agent")
    ]


@pytest.mark.parametrize(("code", "spec", "profile"), _categorization_params())
def test_security_categorization(code: int, spec: dict[str, Any], profile: str) -> None:
    record: WinRecord = {"channel": "Security", "event_id": code, "computer": "DC1",
                         "time_created": "2021-01-01T00:00:00Z", "event_data": {}}  # fmt: skip
    mapped = Mapper(profile).map(record)
    event = mapped.source["event"]
    assert (event["category"], event["type"], event["action"]) == (spec["category"], spec["type"], spec["action"])
    assert mapped.known
