"""Field codecs: type checks, key paths in errors, defaults and unknown keys."""

from __future__ import annotations

from typing import Any

import pytest

from eqlite.rules._fields import BOOL, INT, NUMBER, STR, STR_OR_STRS, STRS, Codec, FieldError, format_path
from eqlite.rules.model import RiskScoreMapping, Threat

ACCEPTED: list[tuple[Codec, Any, Any]] = [
    (STR, "x", "x"),
    (INT, 3, 3),
    (NUMBER, 0.5, 0.5),
    (NUMBER, 7, 7),
    (BOOL, False, False),
    (STRS, ["a", "b"], ("a", "b")),
    (STRS, [], ()),
    (STR_OR_STRS, "endpoint", ("endpoint",)),
    (STR_OR_STRS, ["endpoint", "windows"], ("endpoint", "windows")),
]

REJECTED: list[tuple[Codec, Any, str]] = [
    (STR, 1, "expected a string, got an integer"),
    (INT, "1", "expected an integer, got a string"),
    (INT, True, "expected an integer, got a boolean"),
    (INT, 1.5, "expected an integer, got a number"),
    (NUMBER, False, "expected a number, got a boolean"),
    (BOOL, "true", "expected a boolean, got a string"),
    (STRS, "a", "expected an array, got a string"),
    (STRS, ["a", 2], "[1]: expected a string, got an integer"),
    (STR_OR_STRS, {"a": 1}, "expected an array, got a table/object"),
]


@pytest.mark.parametrize(("codec", "value", "decoded"), ACCEPTED)
def test_codec_accepts(codec: Codec, value: Any, decoded: Any) -> None:
    assert codec.decode(value) == decoded


@pytest.mark.parametrize(("codec", "value", "message"), REJECTED)
def test_codec_rejects_with_message(codec: Codec, value: Any, message: str) -> None:
    with pytest.raises(FieldError) as caught:
        codec.decode(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(("path", "text"), [
    ((), ""),
    (("name",), "name"),
    (("threat", 0, "tactic", "id"), "threat[0].tactic.id"),
    ((2,), "[2]"),
])
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_nested_error_names_full_path() -> None:
    data = {"framework": "MITRE ATT&CK", "tactic": {"id": "TA0002", "name": "Execution", "reference": "r"},
            "technique": [{"id": "T1", "name": "n", "reference": "r", "subtechnique": [{"id": 5}]}]}
    with pytest.raises(FieldError) as caught:
        Threat.from_dict(data)
    assert caught.value.path == ("technique", 0, "subtechnique", 0, "id")
    assert str(caught.value) == "technique[0].subtechnique[0].id: expected a string, got an integer"


def test_missing_required_field() -> None:
    with pytest.raises(FieldError) as caught:
        Threat.from_dict({"framework": "MITRE ATT&CK"})
    assert str(caught.value) == "tactic: required field is missing"


def test_unknown_keys_are_kept_after_known_ones() -> None:
    mapping = RiskScoreMapping.from_dict({"field": "x.score", "operator": "equals", "value": "", "extra_key": [1]})
    assert mapping.extra == {"extra_key": [1]}
    assert list(mapping.to_dict()) == ["field", "extra_key"]
    assert mapping.to_dict(defaults=True) == {"field": "x.score", "value": "", "operator": "equals",
                                              "extra_key": [1]}


def test_null_for_optional_field_means_absent() -> None:
    mapping = RiskScoreMapping.from_dict({"field": "x.score", "risk_score": None})
    assert mapping.risk_score is None
    assert "risk_score" not in mapping.to_dict(defaults=True)
