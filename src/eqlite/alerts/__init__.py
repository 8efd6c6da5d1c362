"""Alerts: Kibana-shaped alert documents, their deterministic ids, and where they are written.

>>> import datetime as dt
>>> from eqlite.alerts import AlertStore, build_alerts
>>> from eqlite.rules import load_builtin_rules
>>> from eqlite.runtime.events import Event
>>> from eqlite.runtime.search import EventHit
>>> event = Event({"@timestamp": "2024-05-14T08:00:00Z", "host": {"name": "wks-1"}}, "logs-x", "e1", 0, 0, (0, 0, 0, 0))
>>> alerts = build_alerts(load_builtin_rules()[0], EventHit(event), now=dt.datetime(2024, 5, 14, 8, 5, tzinfo=dt.UTC))
>>> alerts[0]["kibana.alert.reason"]
'event on wks-1 created high alert Incoming DCOM Lateral Movement with MMC.'
>>> with AlertStore(":memory:") as store:
...     store.write(alerts), store.write(alerts)
(WriteResult(written=1, duplicates=0), WriteResult(written=0, duplicates=1))
"""

from eqlite.alerts.base import (
    Alert,
    AlertOutputError,
    AlertSink,
    AlertStoreError,
    WriteResult,
    alert_uuid,
    dumps_alert,
)
from eqlite.alerts.build import (
    DEFAULT_PROFILE,
    KIBANA_8,
    KIBANA_9,
    AlertBuilder,
    KibanaProfile,
    build_alerts,
    iso_time,
)
from eqlite.alerts.ids import building_block_ids, event_alert_id, rule_uuid, shell_alert_id
from eqlite.alerts.reason import reason_text
from eqlite.alerts.rule_fields import alert_rule_fields, rule_parameters
from eqlite.alerts.sinks import NdjsonSink, check_target, open_sink
from eqlite.alerts.store import DEFAULT_STORE, AlertQuery, AlertStore, Migration, migrate
from eqlite.alerts.store import check_writable as check_store_writable

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_STORE",
    "KIBANA_8",
    "KIBANA_9",
    "Alert",
    "AlertBuilder",
    "AlertOutputError",
    "AlertQuery",
    "AlertSink",
    "AlertStore",
    "AlertStoreError",
    "KibanaProfile",
    "Migration",
    "NdjsonSink",
    "WriteResult",
    "alert_rule_fields",
    "alert_uuid",
    "build_alerts",
    "building_block_ids",
    "check_store_writable",
    "check_target",
    "dumps_alert",
    "event_alert_id",
    "iso_time",
    "migrate",
    "open_sink",
    "reason_text",
    "rule_parameters",
    "rule_uuid",
    "shell_alert_id",
]
