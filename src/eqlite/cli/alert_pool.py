"""Every rule's alerts built in worker processes, for ``eqlite run --workers N``.

After the feed, ``eqlite run`` finishes one rule after another (a sequence rule runs its matcher
over its candidates), reads each matched event back, builds its alert and writes it. Once the
matches so far pass :data:`PARALLEL_MIN_HITS`, one pool of forked workers builds the alerts of
every later rule, a batch of hits at a time, while the parent finishes the next rules; the
parent writes their results in rule order then hit order, so every output is what one process
writes.

A worker gives back, for each alert, what the writers need without the alert itself: its id, its
NDJSON line (:func:`~eqlite.alerts.dumps_alert`), its sequence group, and, when the alerts go to the
store, the store's rows for the batch (:func:`~eqlite.alerts.store.store_rows`, made from the
built alerts, whose rule values are shared objects, as in one process). Only the alerts that the
stdout table shows are parsed again, in the parent.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from eqlite.alerts import AlertBuilder, dumps_alert
from eqlite.alerts.base import alert_uuid
from eqlite.alerts.store import store_rows
from eqlite.rules.model import Rule
from eqlite.runtime.search import Hit

# Fewer matches than this (over the rules so far) are built in the parent: starting the
# processes costs more than it saves.
PARALLEL_MIN_HITS = 1000
POOL_BATCH = 500  # hits per task (an alert of every rule's values is about 11 KB of NDJSON)
WINDOW_PER_WORKER = 2  # tasks in flight per worker: bounds the results waiting in the parent's memory

Hydrate = Callable[[Sequence[Hit]], None]
Tag = TypeVar("Tag")


@dataclass(frozen=True, slots=True)
class BuiltBatch:
    """A batch of alerts as a worker gives them back."""

    uuids: list[str]
    lines: list[bytes]  # each alert as dumps_alert writes it
    groups: list[tuple[str | None, bool]]  # kibana.alert.group.id, and whether the alert is a building block
    rows: tuple[list[tuple[Any, ...]], list[tuple[str, str]]] | None  # for AlertStore.write_rows


@dataclass(slots=True)
class _Job:
    rules: Sequence[Rule]
    now: dt.datetime
    hydrate: Hydrate
    reopen: Callable[[], None]
    rows: bool
    builders: dict[int, AlertBuilder] = field(default_factory=dict)  # a worker's, made on first use


_JOB: list[_Job] = []  # the job of the pool being started (read in the forked workers)


def _start() -> None:
    _JOB[0].reopen()  # the worker's own file handles, for reading lines back


def table_place(alert: Mapping[str, Any]) -> tuple[str | None, bool]:
    """What the stdout table needs of an alert: its sequence group (``kibana.alert.group.id``), and
    whether it is one of the group's building blocks (it has a ``kibana.alert.group.index``)."""
    group = alert.get("kibana.alert.group.id")
    return None if group is None else str(group), alert.get("kibana.alert.group.index") is not None


def _build(task: tuple[int, list[Hit]]) -> BuiltBatch:
    job = _JOB[0]
    number, hits = task
    builder = job.builders.get(number)
    if builder is None:
        builder = job.builders[number] = AlertBuilder(job.rules[number], now=job.now)
    job.hydrate(hits)
    alerts = builder.build_all(hits)
    return BuiltBatch([alert_uuid(alert) for alert in alerts], [dumps_alert(alert) for alert in alerts],
                      [table_place(alert) for alert in alerts], store_rows(alerts) if job.rows else None)


class AlertPool(Generic[Tag]):
    """Forked workers that build alerts for the rules of a run, batches given back in the order sent.

    ``rules`` are the run's rules, by number; ``reopen`` runs first in each worker (it must not
    share the parent's open files); ``rows`` asks for the store's rows too. Each batch is sent
    with a caller's ``tag`` (the rule's summary, say) that comes back with its result. At most
    ``workers * WINDOW_PER_WORKER`` batches are in flight: :meth:`submit` yields the oldest
    results to make room. An error in a worker is raised where its batch is given back.

    Use it as a context manager: the workers stop on leaving it (at once, on an error).
    """

    def __init__(self, rules: Sequence[Rule], now: dt.datetime, hydrate: Hydrate, reopen: Callable[[], None],
                 workers: int, rows: bool) -> None:
        _JOB[:] = [_Job(rules, now, hydrate, reopen, rows)]  # kept while the pool may fork a worker
        try:
            self._pool = multiprocessing.get_context("fork").Pool(workers, initializer=_start)
        except BaseException:
            _JOB.clear()
            raise
        self._window = workers * WINDOW_PER_WORKER
        self._pending: deque[tuple[Tag, Any]] = deque()

    def submit(self, tag: Tag, number: int, hits: Sequence[Hit]) -> Iterator[tuple[Tag, BuiltBatch]]:
        """Send the alerts of rule ``number``'s ``hits`` to be built, a batch at a time; yields
        the results that were waiting longest whenever the window is full."""
        for start in range(0, len(hits), POOL_BATCH):
            batch = list(hits[start:start + POOL_BATCH])
            self._pending.append((tag, self._pool.apply_async(_build, ((number, batch),))))
            while len(self._pending) >= self._window:
                yield self._next()

    def drain(self) -> Iterator[tuple[Tag, BuiltBatch]]:
        """Every result still to come, in order."""
        while self._pending:
            yield self._next()

    def _next(self) -> tuple[Tag, BuiltBatch]:
        tag, result = self._pending.popleft()
        built: BuiltBatch = result.get()
        return tag, built

    def __enter__(self) -> AlertPool[Tag]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if kind is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
        _JOB.clear()


def can_fork() -> bool:
    """Whether worker processes can be forked here (not on Windows, say)."""
    return "fork" in multiprocessing.get_all_start_methods()
