"""The report's sections in reading order and the section of each KPI id (R23).

The ids are the contract (docs/interfaces.md); their names in each language are in the message catalogues
(``messages/nl.toml``, ``messages/en.toml``), worded as the SNO texts word them, so a reader can find
each figure back in the agreement it comes from.
"""

from __future__ import annotations

#: Report sections in reading order (R23: availability, resolution times, maintenance, performance,
#: volumes; MijnOverheid production counts; support).
SECTIONS: tuple[str, ...] = ("availability", "incidents", "performance", "mijnoverheid", "support")

_SECTION_OF: dict[str, str] = {
    "availability": "availability",
    "availability_website": "availability",
    "maintenance_windows": "availability",
    "incident_resolution_p1": "incidents",
    "incident_resolution_p2": "incidents",
    "incident_resolution_p3": "incidents",
    "incident_notification_p1": "incidents",
    "incidents_open": "incidents",
    "capacity_forecast_afnemers": "performance",
    "volume": "performance",
    "peak_per_minute": "performance",
    "processing_time": "performance",
}


def section_of(kpi_id: str) -> str:
    """The section a KPI id belongs to; an id the table does not know (a new rule) still gets one."""
    found = _SECTION_OF.get(kpi_id)
    if found is not None:
        return found
    if kpi_id.startswith("support_"):
        return "support"
    if kpi_id.startswith(
        (
            "messages_",
            "notifications_",
            "berichtpresentatie",
            "validatieservice",
            "abonnement",
            "attachments_",
            "forecast_",
        )
    ):
        return "mijnoverheid"
    return "performance"


SERVICE_NAMES = {"digid": "DigiD", "digid-machtigen": "DigiD Machtigen", "mijnoverheid": "MijnOverheid"}
