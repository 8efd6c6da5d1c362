"""Deterministic Elastic-Endpoint-style telemetry with planted MMC20 DCOM lateral-movement chains.

The generator feeds demos, tests and benchmarks of seed rule v3 (``Incoming DCOM Lateral
Movement with MMC``): a fleet of Windows hosts produces process, network, file, registry,
library and logon events, and true chains plus near-miss decoys are planted among them,
with a ground-truth manifest that says what a correct engine must report.

>>> from eqlite.demo import DemoConfig, generate_events
>>> doc = next(generate_events(DemoConfig(seed=7, events=300, hosts=2, true_chains=1, decoys=False)))
>>> doc["agent"]["type"], doc["event"]["kind"]
('endpoint', 'event')
"""

from typing import Final

from eqlite.demo.config import DemoConfig
from eqlite.demo.generator import DemoRun, generate_events, ground_truth, to_hit, write_ndjson
from eqlite.demo.manifest import GroundTruth, PlantedChain
from eqlite.demo.variants import KINDS, ChainVariant

# Bumped whenever the same configuration generates different documents, so that files generated
# and cached by an older generator (the benchmark's) are made again. 2: file events carry the
# acting process's signature, and header bytes that fit the file's type.
DOCUMENTS_REVISION: Final = 2

__all__ = [
    "DOCUMENTS_REVISION",
    "KINDS",
    "ChainVariant",
    "DemoConfig",
    "DemoRun",
    "GroundTruth",
    "PlantedChain",
    "generate_events",
    "ground_truth",
    "to_hit",
    "write_ndjson",
]
