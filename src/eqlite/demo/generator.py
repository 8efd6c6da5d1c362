"""The streaming generator: background episodes and planted chains, merged in timestamp order.

Episodes start on a simulated clock that only moves forward; each one schedules a handful of
events at or after its start into a heap, and everything at or before the clock is delivered.
Memory therefore stays bounded by the events of the last minute or two of simulated time,
whatever the number of events asked for. Planted chains go in at evenly spaced points of the
event budget, so they spread through the whole stream.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from itertools import accumulate, count
from operator import itemgetter
from typing import BinaryIO

import orjson

from eqlite.demo.background import ACTIVITY_WEIGHTS, Activity
from eqlite.demo.chains import plant_chain
from eqlite.demo.clock import IdMint
from eqlite.demo.config import DemoConfig
from eqlite.demo.documents import Doc, DocFactory, index_of
from eqlite.demo.manifest import GroundTruth, PlantedChain
from eqlite.demo.randomness import DemoRandom
from eqlite.demo.scene import Planned, Scene
from eqlite.demo.world import Host, build_fleet

_BACKGROUND, _PLANTED, _DELAYED = 0, 1, 2
_Pending = tuple[int, int, int, Host, Doc]


class DemoRun:
    """One generation run. Iterate it for documents; read :attr:`ground_truth` afterwards.

    Every iteration replays the same run from the start (same seed, same output).

    >>> run = DemoRun(DemoConfig(seed=3, events=400, hosts=2, true_chains=1, decoys=False))
    >>> sum(1 for _ in run)
    400
    >>> [chain.kind for chain in run.ground_truth.chains]
    ['baseline']
    """

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self._truth: GroundTruth | None = None

    def __iter__(self) -> Iterator[Doc]:
        chains: list[PlantedChain] = []
        self._truth = None
        yield from _generate(self.config, chains)
        self._truth = GroundTruth(seed=self.config.seed, events=self.config.events, chains=tuple(chains))

    @property
    def ground_truth(self) -> GroundTruth:
        """The manifest of planted chains; available once an iteration has run to the end."""
        if self._truth is None:
            raise RuntimeError("the ground truth is known only after iterating the run to its end")
        return self._truth


def generate_events(config: DemoConfig) -> Iterator[Doc]:
    """Yield ECS documents (``_source`` dicts) in ``@timestamp`` order.

    With ``config.out_of_order > 0`` a share of background events arrives late, so the order
    is then only mostly by timestamp. Use :class:`DemoRun` or :func:`write_ndjson` to get
    the ground truth along with the documents, or :func:`ground_truth` for the truth alone.

    Args:
        config: what to generate.

    Yields:
        One fresh dict per event, shaped like Elastic Endpoint's ``logs-endpoint.events.*``.

    >>> cfg = DemoConfig(seed=7, events=500, hosts=3, true_chains=1, decoys=False)
    >>> docs = list(generate_events(cfg))
    >>> len(docs), docs[0]["event"]["module"], docs[0]["data_stream"]["namespace"]
    (500, 'endpoint', 'default')
    >>> stamps = [doc["@timestamp"] for doc in docs]
    >>> stamps == sorted(stamps)
    True
    """
    return iter(DemoRun(config))


def ground_truth(config: DemoConfig) -> GroundTruth:
    """The manifest of the run ``config`` describes, without keeping its documents.

    >>> truth = ground_truth(DemoConfig(seed=1, events=4000, hosts=4, true_chains=2))
    >>> len(truth.chains), len(truth.expected_sequences())
    (25, 10)
    """
    run = DemoRun(config)
    for _ in run:
        pass
    return run.ground_truth


def to_hit(doc: Doc) -> Doc:
    """Wrap a document in an Elasticsearch search-hit envelope (``_index``, ``_id``, ``_source``).

    ``_id`` is the document's ``event.id``, which is unique within a run.

    >>> hit = to_hit({"event": {"id": "x1"}, "data_stream": {"type": "logs",
    ...     "dataset": "endpoint.events.network", "namespace": "default"}})
    >>> hit["_index"], hit["_id"]
    ('logs-endpoint.events.network-default', 'x1')
    """
    return {"_index": index_of(doc), "_id": doc["event"]["id"], "_source": doc}


def write_ndjson(
    config: DemoConfig,
    path: str | os.PathLike[str] | BinaryIO,
    *,
    envelopes: bool = False,
    manifest_path: str | os.PathLike[str] | None = None,
) -> GroundTruth:
    """Stream the run to an NDJSON file, one document (or hit envelope) per line.

    Args:
        config: what to generate.
        path: output file path, or an open binary stream.
        envelopes: write ``{"_index", "_id", "_source"}`` hits instead of bare documents.
        manifest_path: also write the ground truth there as JSON.

    Returns:
        The ground-truth manifest of the planted chains.

    >>> import io
    >>> buffer = io.BytesIO()
    >>> truth = write_ndjson(DemoConfig(seed=2, events=300, hosts=2, true_chains=1, decoys=False), buffer)
    >>> buffer.getvalue().count(b"\\n"), truth.chains[0].expected_match
    (300, True)
    """
    run = DemoRun(config)
    if isinstance(path, str | os.PathLike):
        with open(path, "wb", buffering=1 << 20) as stream:
            _write(run, stream, envelopes)
    else:
        _write(run, path, envelopes)
    truth = run.ground_truth
    if manifest_path is not None:
        truth.write(manifest_path)
    return truth


def _write(run: DemoRun, stream: BinaryIO, envelopes: bool) -> None:
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    write = stream.write
    if envelopes:
        for doc in run:
            write(dumps(to_hit(doc), option=newline))
    else:
        for doc in run:
            write(dumps(doc, option=newline))


def _generate(config: DemoConfig, chains: list[PlantedChain]) -> Iterator[Doc]:
    seed = config.seed
    docs = DocFactory(config.namespace, IdMint(seed), DemoRandom(f"{seed}:ingest-lag"))
    fleet = build_fleet(DemoRandom(f"{seed}:fleet"), config.hosts, config.legacy_share, config.start_ms)
    background = Scene(fleet, docs, DemoRandom(f"{seed}:background"))
    planting = Scene(fleet, docs, DemoRandom(f"{seed}:chains"))
    delivery = DemoRandom(f"{seed}:delivery")
    late_share, max_delay = config.out_of_order, config.max_delay_ms

    variants = config.variants()
    planting.rng.shuffle(variants)
    target = config.events
    milestones = [(2 * number + 1) * target // (2 * len(variants)) for number in range(len(variants))]
    choosers: dict[str, tuple[list[Activity], list[float]]] = {
        role: ([activity for activity, _ in table], list(accumulate(weight for _, weight in table)))
        for role, table in ACTIVITY_WEIGHTS.items()
    }
    mean_gap_ms = 1000.0 / (config.hosts * config.rate_per_host)
    rng = background.rng
    heap: list[_Pending] = []
    order = count()
    total = 0
    clock = config.start_ms

    def deliver(limit: int | None) -> Iterator[Doc]:
        while heap and (limit is None or heap[0][0] <= limit):
            ts, _, flag, host, doc = heapq.heappop(heap)
            if flag == _BACKGROUND and late_share and delivery.random() < late_share:
                heapq.heappush(heap, (ts + delivery.randint(1, max_delay), next(order), _DELAYED, host, doc))
                continue
            host.sequence += 1
            doc["event"]["sequence"] = host.sequence
            yield doc

    while total < target or len(chains) < len(variants):
        batch: list[Planned]
        if len(chains) < len(variants) and total >= milestones[len(chains)]:
            batch, record = plant_chain(planting, variants[len(chains)], len(chains) + 1, clock)
            chains.append(record)
            flag = _PLANTED
        else:
            host = rng.choice(fleet.hosts)
            activities, weights = choosers[host.role]
            batch = rng.choices(activities, cum_weights=weights)[0](background, host, clock)
            batch.sort(key=itemgetter(0))
            del batch[target - total :]
            flag = _BACKGROUND
        for ts, host, doc in batch:
            heapq.heappush(heap, (ts, next(order), flag, host, doc))
        total += len(batch)
        clock += 1 + int(rng.expovariate(1.0) * mean_gap_ms * len(batch))
        yield from deliver(clock)
    yield from deliver(None)
