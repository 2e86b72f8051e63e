"""Real-time SNO breach alerts, judged by event time (docs/interfaces.md "Alerts"; sno/core/ALERTS.md).

The monthly report says afterwards whether a norm was met; these alerts say so while it happens. The
package: the alert and its typed subject (``model``), the event-time watermark (``clock``), the entity
timeline (``timeline``), one module per rule (``capacity``, ``burn``, ``mijnoverheid``,
``incident_clock``, ``p1_notice``, ``maintenance``, ``availability``) and the engine that dispatches
(``engine``). Every SNO number comes from the norm catalogue for the month concerned (R5); only how and
when to warn comes from ``sno/core/alerts.toml``.
"""

from sno.core.alerts.engine import AlertEngine
from sno.core.alerts.model import (
    ALERT_COLUMNS,
    INTERFACE_KEYS,
    RULES,
    Alert,
    Subject,
    alert_id,
    subject_from_key,
)
from sno.core.alerts.settings import AlertRules, load_alert_rules

__all__ = [
    "ALERT_COLUMNS",
    "INTERFACE_KEYS",
    "RULES",
    "Alert",
    "AlertEngine",
    "AlertRules",
    "Subject",
    "alert_id",
    "load_alert_rules",
    "subject_from_key",
]
