"""A rule's alerts built in worker processes, for ``eqlite run --workers N``.

After the feed, ``eqlite run`` reads each matched event back, builds its alert and writes it. For a
rule with many matches that work is split into batches of hits, built by forked worker processes;
the parent writes their results in hit order, so every output is what one process writes.

A worker gives back, for each alert, what the writers need without the alert itself: its id, its
NDJSON line (:func:`~eqlite.alerts.dumps_alert`), its sequence group, and, when the alerts go to the
store, the store's rows for the batch (:func:`~eqlite.alerts.store.store_rows`, made from the
built alerts, whose rule values are shared objects, as in one process). Only the alerts that the
stdout table shows are parsed again, in the parent.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eqlite.alerts import AlertBuilder, dumps_alert
from eqlite.alerts.base import alert_uuid
from eqlite.alerts.store import store_rows
from eqlite.runtime.search import Hit

# Fewer matches than this are built in the parent: starting the processes costs more than it saves.
PARALLEL_MIN_HITS = 4000
POOL_BATCH = 500  # hits per task (an alert of every rule's values is about 11 KB of NDJSON)
WINDOW_PER_WORKER = 2  # tasks in flight per worker: bounds the results waiting in the parent's memory

Hydrate = Callable[[Sequence[Hit]], None]


@dataclass(frozen=True, slots=True)
class BuiltBatch:
    """A batch of alerts as a worker gives them back."""

    uuids: list[str]
    lines: list[bytes]  # each alert as dumps_alert writes it
    groups: list[tuple[str | None, bool]]  # kibana.alert.group.id, and whether the alert is a building block
    rows: tuple[list[tuple[Any, ...]], list[tuple[str, str]]] | None  # for AlertStore.write_rows


@dataclass(slots=True)
class _Job:
    hits: Sequence[Hit]
    builder: AlertBuilder
    hydrate: Hydrate
    reopen: Callable[[], None]
    rows: bool


_JOB: list[_Job] = []  # the job of the pool being started (read in the forked workers)


def _start() -> None:
    _JOB[0].reopen()  # the worker's own file handles, for reading lines back


def table_place(alert: Mapping[str, Any]) -> tuple[str | None, bool]:
    """What the stdout table needs of an alert: its sequence group (``kibana.alert.group.id``), and
    whether it is one of the group's building blocks (it has a ``kibana.alert.group.index``)."""
    group = alert.get("kibana.alert.group.id")
    return None if group is None else str(group), alert.get("kibana.alert.group.index") is not None


def _build(bounds: tuple[int, int]) -> BuiltBatch:
    job = _JOB[0]
    hits = job.hits[bounds[0]:bounds[1]]
    job.hydrate(hits)
    alerts = job.builder.build_all(hits)
    return BuiltBatch([alert_uuid(alert) for alert in alerts], [dumps_alert(alert) for alert in alerts],
                      [table_place(alert) for alert in alerts], store_rows(alerts) if job.rows else None)


def built_batches(hits: Sequence[Hit], builder: AlertBuilder, hydrate: Hydrate, reopen: Callable[[], None],
                  workers: int, rows: bool) -> Iterator[BuiltBatch]:
    """The alerts of ``hits``, a batch at a time and in order, built by ``workers`` forked processes.

    ``reopen`` runs first in each worker (it must not share the parent's open files); ``rows`` asks
    for the store's rows too. An error in a worker is raised here.
    """
    _JOB[:] = [_Job(hits, builder, hydrate, reopen, rows)]
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_start) as pool:
            pending: deque[Any] = deque()
            for start in range(0, len(hits), POOL_BATCH):
                pending.append(pool.apply_async(_build, ((start, min(start + POOL_BATCH, len(hits))),)))
                if len(pending) >= workers * WINDOW_PER_WORKER:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
    finally:
        _JOB.clear()


def can_fork() -> bool:
    """Whether worker processes can be forked here (not on Windows, say)."""
    return "fork" in multiprocessing.get_all_start_methods()
