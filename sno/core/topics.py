"""The Kafka topics of the contract, written once (docs/events.md "Types and topics", docs/interfaces.md
"Alerts"). The schemas, the Faust app, ingest, replay, the alert engine, the metrics and the tests all
import them from here, so a topic is renamed in one line. Pure data: the Faust app can be built from it
before the contract models (pydantic) are loaded.
"""

from __future__ import annotations

from typing import Final

from sno.core.snapshots import SNAPSHOT_TYPES

__all__ = [
    "ALERTS_TOPIC",
    "AUTH_TOPIC_OF_SERVICE",
    "DEADLETTER_TOPIC",
    "INPUT_TOPICS",
    "SNAPSHOT_TOPICS",
    "TOPICS",
]

#: Topic of each event type, in the order of docs/events.md ("Types and topics").
TOPICS: Final[dict[str, str]] = {
    "authentication": "sno.authentications",
    "transaction": "sno.transactions",
    "message": "sno.messages",
    "notification": "sno.notifications",
    "api_request": "sno.api-requests",
    "incident": "sno.incidents",
    "outage": "sno.outages",
    "maintenance": "sno.maintenance",
    "support_contact": "sno.support",
    "forecast": "sno.forecasts",
}
#: The topics the pipeline consumes: one per event type.
INPUT_TOPICS: Final[tuple[str, ...]] = tuple(TOPICS.values())
#: Every rejected input, with its reason (docs/events.md, "Invalid input").
DEADLETTER_TOPIC: Final = "sno.deadletter"
#: Breach alerts published by the pipeline (docs/interfaces.md, "Alerts").
ALERTS_TOPIC: Final = "sno.alerts"
#: The topics of the snapshot types (incident, outage, maintenance): keyed by the thing they describe,
#: so their order is per thing, not per stream of events.
SNAPSHOT_TOPICS: Final[frozenset[str]] = frozenset(TOPICS[t] for t in SNAPSHOT_TYPES)
#: The topic of each service's counted log-ins (DigiD authentications, DigiD Machtigen transactions),
#: whose minutes the capacity rules (R14–R16) count.
AUTH_TOPIC_OF_SERVICE: Final[dict[str, str]] = {
    "digid": TOPICS["authentication"],
    "digid-machtigen": TOPICS["transaction"],
}
