"""Run Elasticsearch's EQL QA specifications and compare with their expected event ids exactly.

Each query runs with ``result_position`` ``head`` and ``tail`` (Elasticsearch's harness
picks one at random, so every expectation must hold for both).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance import harness
from tests.conformance.exclusions import EXCLUDED
from tests.conftest import SHARED

ROOT = SHARED / "eql-conformance" / "elasticsearch"


def _cases() -> list[Any]:
    if not ROOT.exists():
        return [pytest.param(None, None, None, marks=pytest.mark.skip(
            reason=f"Elasticsearch conformance specs not found at {ROOT}; set EQLITE_SHARED"))]
    cases = []
    for file, datasets in harness.SPEC_DATASETS.items():
        for spec in harness.load_specs(ROOT / file):
            for dataset in datasets:
                for position in ("head", "tail"):
                    cases.append(pytest.param(spec, dataset, position, id=f"{file}:{dataset}:{spec.name}:{position}"))
    return cases


@pytest.mark.parametrize(("spec", "dataset_name", "position"), _cases())
def test_spec(spec: harness.Spec, dataset_name: str, position: str, outcome_recorder: Any) -> None:
    reason = EXCLUDED.get((spec.file, dataset_name, spec.name))
    if reason is not None:
        outcome_recorder(spec.file, "excluded")
        pytest.skip(f"excluded: {reason}")
    data = harness.dataset(ROOT, dataset_name)
    try:
        result = harness.run(spec, data, position)
        ids = harness.event_ids(result, data.id_field)
        assert harness.accepted(spec, ids), f"{spec.query}\ngot {ids}\nexpected {spec.expected}"
        if spec.join_keys:
            assert harness.join_keys(result) == harness.expected_keys(spec)
    except BaseException:
        outcome_recorder(spec.file, "failed")
        raise
    outcome_recorder(spec.file, "passed")
