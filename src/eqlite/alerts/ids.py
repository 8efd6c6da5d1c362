"""Deterministic alert ids, derived from the same strings Kibana hashes (detection-engine.md §0.5, §0.7).

Kibana never stores state to de-duplicate alerts across overlapping rule runs: an alert's
``_id`` (= ``kibana.alert.uuid``) is a SHA-256 of where its events live and which rule
fired, so the run that finds the same match again computes the same id and the write is
dropped. eqlite hashes the same concatenations:

* single-event alert: ``sha256(_index + _id + "undefined" + "<space>:<rule uuid>")``: EQL
  event hits carry no ``_version``, and JavaScript's ``String(undefined)`` is ``"undefined"``;
* building block ``i`` of a sequence: ``sha256(base + str(i))`` with
  ``base = Σ (_id + _index + rule uuid)`` over the sequence's present events;
* sequence shell: ``sha256(Σ (ancestor id + ancestor index) + rule uuid)`` over the shell's
  ancestors ``[event 1, bb 1, event 2, bb 2, ...]`` (building blocks have index ``""``).

Kibana's rule uuid is the rule's saved-object id. eqlite uses :attr:`Rule.id` when the rule
came from Kibana and otherwise derives a stable UUID from the space and ``rule_id``, so
the same rule always fires with the same uuid.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Final

from eqlite.rules import Rule

EVENT_VERSION: Final = "undefined"
"""What Kibana hashes for the ``_version`` of an EQL event hit, which has none."""

# uuid5(NAMESPACE_URL, "https://eqlite.dev/ns/rule"): a fixed namespace, so derived ids never change.
_RULE_NAMESPACE: Final = uuid.UUID("cf6bc2ef-c5f7-5575-9625-75c8cc19d382")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rule_uuid(rule: Rule, space_id: str = "default") -> str:
    """The rule's saved-object id: :attr:`Rule.id` when known, else a UUID derived from space and rule_id.

    Kibana gives every installed rule a random saved-object id per space; a derived one keeps
    alert ids stable from run to run while still differing between spaces.

    >>> from eqlite.rules import load_builtin_rules
    >>> rule = load_builtin_rules()[0]
    >>> rule_uuid(rule) == rule_uuid(rule), rule_uuid(rule) != rule_uuid(rule, "soc")
    (True, True)
    """
    if rule.id:
        return rule.id
    return str(uuid.uuid5(_RULE_NAMESPACE, f"{space_id}/{rule.rule_id}"))


def execution_uuid_for(rule_id: str, now: str) -> str:
    """A run id derived from the rule uuid and the run time (ISO text), for callers that do not pass one.

    >>> execution_uuid_for("r", "2024-01-01T00:00:00.000Z") == execution_uuid_for("r", "2024-01-01T00:00:00.000Z")
    True
    """
    return str(uuid.uuid5(_RULE_NAMESPACE, f"execution/{rule_id}/{now}"))


def event_alert_id(index: str, doc_id: str, space_id: str, rule_id: str, version: str = EVENT_VERSION) -> str:
    """``kibana.alert.uuid`` of a single-event alert.

    Args:
        index: the event's ``_index``.
        doc_id: the event's ``_id``.
        space_id: the Kibana space (``default``).
        rule_id: the rule's saved-object uuid (not ``rule_id``).
        version: the hit's ``_version``; EQL hits have none, hence ``"undefined"``.

    >>> event_alert_id("logs-x", "e1", "default", "r") == hashlib.sha256(
    ...     b"logs-xe1undefineddefault:r").hexdigest()
    True
    """
    return _sha256(f"{index}{doc_id}{version}{space_id}:{rule_id}")


def building_block_ids(events: Sequence[tuple[str, str]], rule_id: str) -> list[str]:
    """``kibana.alert.uuid`` of each building block of a sequence, in sequence order.

    Args:
        events: ``(_index, _id)`` of every present event (missing-event slots left out).
        rule_id: the rule's saved-object uuid.

    >>> base = "e1logs-ar" + "e2logs-br"
    >>> building_block_ids([("logs-a", "e1"), ("logs-b", "e2")], "r") == [
    ...     hashlib.sha256((base + "0").encode()).hexdigest(), hashlib.sha256((base + "1").encode()).hexdigest()]
    True
    """
    base = "".join(f"{doc_id}{index}{rule_id}" for index, doc_id in events)
    return [_sha256(f"{base}{position}") for position in range(len(events))]


def shell_alert_id(ancestors: Iterable[tuple[str, str]], rule_id: str) -> str:
    """``kibana.alert.uuid`` of a sequence's shell alert from its ancestors' ``(id, index)``.

    >>> shell_alert_id([("e1", "logs-a"), ("bb1", "")], "r") == hashlib.sha256(b"e1logs-abb1r").hexdigest()
    True
    """
    return _sha256("".join(f"{ancestor_id}{index}" for ancestor_id, index in ancestors) + rule_id)


def content_id(source: bytes) -> str:
    """A stand-in ``_id`` for an event that has none: 20 URL-safe characters of its SHA-256.

    Elasticsearch always gives a hit an ``_id``; documents handed to the engine as bare dicts
    have none, and hashing ``""`` for all of them would give every alert the same id.

    >>> len(content_id(b'{"a":1}'))
    20
    """
    return base64.urlsafe_b64encode(hashlib.sha256(source).digest()).decode()[:20]
