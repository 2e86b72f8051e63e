"""Names an auditor reads beside the KPI ids, and the order of the report's sections (R23).

The ids are the contract (docs/interfaces.md); the Dutch names are the words of the SNO texts themselves
(the glossary of docs/sno-rules.md), so a reader can find each figure back in the agreement it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KpiName:
    """The English label and the Dutch term of one KPI id, and the report section it belongs to."""

    label: str
    dutch: str
    section: str


#: Report sections in reading order (R23: availability, resolution times, maintenance, performance,
#: volumes; MijnOverheid production counts; support).
SECTIONS: dict[str, str] = {
    "availability": "Availability — beschikbaarheid",
    "incidents": "Incidents — oplostijden",
    "performance": "Performance and capacity — verwerkingstijd en capaciteit",
    "mijnoverheid": "MijnOverheid production — productieaantallen",
    "support": "Support — burgerondersteuning",
}

KPI_NAMES: dict[str, KpiName] = {
    "availability": KpiName("Availability", "beschikbaarheid", "availability"),
    "availability_website": KpiName("Availability www.digid.nl", "beschikbaarheid website", "availability"),
    "maintenance_windows": KpiName("Planned maintenance windows", "onderhoudsvensters", "availability"),
    "incident_resolution_p1": KpiName("P1 resolved within target", "oplostijd prioriteit 1", "incidents"),
    "incident_resolution_p2": KpiName("P2 resolved within target", "oplostijd prioriteit 2", "incidents"),
    "incident_resolution_p3": KpiName("P3 resolved within target", "oplostijd prioriteit 3", "incidents"),
    "incident_notification_p1": KpiName(
        "P1 afnemers informed within 30 min", "melding P1 binnen een half uur", "incidents"
    ),
    "incidents_open": KpiName("Incidents open at month end", "openstaande incidenten", "incidents"),
    "capacity_forecast_afnemers": KpiName(
        "Afnemers that must forecast", "capaciteitsmanagement (prognoses)", "performance"
    ),
    "volume": KpiName("Volume", "aantal authenticaties / transacties", "performance"),
    "peak_per_minute": KpiName("Peak per minute", "piek per minuut (capaciteit)", "performance"),
    "processing_time": KpiName("Processed within 4 s", "verwerkingstijd", "performance"),
    "messages_peak_per_day": KpiName("Messages, peak day", "berichten per dag", "mijnoverheid"),
    "messages_peak_per_hour": KpiName(
        "Messages, peak hour", "aangeleverde berichten per uur", "mijnoverheid"
    ),
    "messages_peak_per_second": KpiName("Messages, peak second", "berichten per seconde", "mijnoverheid"),
    "messages_within_24h": KpiName(
        "Messages processed within 24 h", "verwerkingstijd berichten", "mijnoverheid"
    ),
    "notifications_peak_per_hour": KpiName(
        "Notifications, peak hour", "notificaties per uur", "mijnoverheid"
    ),
    "notifications_peak_per_day": KpiName("Notifications, peak day", "notificaties per dag", "mijnoverheid"),
    "notifications_out_of_order": KpiName(
        "Notifications out of order", "notificaties op volgorde van binnenkomst", "mijnoverheid"
    ),
    "berichtpresentatie_within_200ms": KpiName(
        "Presentation API within 200 ms", "responstijd berichtpresentatie", "mijnoverheid"
    ),
    "validatieservice_peak_per_hour": KpiName(
        "Validatieservice, peak hour", "bevragingen validatieservice per uur", "mijnoverheid"
    ),
    "validatieservice_within_30s": KpiName(
        "Validatieservice within 30 s", "responstijd validatieservice", "mijnoverheid"
    ),
    "abonnement_within_4h": KpiName(
        "Abonnementservice within 4 h", "doorlooptijd abonnementservice", "mijnoverheid"
    ),
    "abonnement_peak_per_night": KpiName(
        "Abonnementservice, peak night", "verzoeken abonnementservice per nacht", "mijnoverheid"
    ),
    "attachments_share": KpiName("Messages with attachment", "aandeel berichten met bijlage", "mijnoverheid"),
    "attachments_over_500kb": KpiName(
        "Attachments over 500 kB", "bijlagen groter dan 500 kB", "mijnoverheid"
    ),
    "forecast_deviation": KpiName("Forecast deviation", "afwijking prognose", "mijnoverheid"),
    "messages_per_afnemer": KpiName("Messages per afnemer", "berichten per afnemer per dag", "mijnoverheid"),
    "support_phone_answer_time": KpiName("Phone answered in time", "telefonische bereikbaarheid", "support"),
    "support_phone_answer_time_long": KpiName(
        "Phone answered within 10 min", "telefonische bereikbaarheid (10 min)", "support"
    ),
    "support_phone_abandon_rate": KpiName("Phone abandon rate", "call abandon rate", "support"),
    "support_phone_satisfaction": KpiName("Satisfaction", "klanttevredenheid", "support"),
    "support_written_answer_time": KpiName(
        "E-mail and webform answered in time", "afhandeling e-mail en webformulier", "support"
    ),
    "support_afnemer_answer_time": KpiName(
        "Afnemer questions answered in time", "afhandeling vragen en klachten afnemers", "support"
    ),
}


def kpi_name(kpi_id: str) -> KpiName:
    """The name of a KPI id; an id the table does not know (a new rule) still gets a readable label."""
    found = KPI_NAMES.get(kpi_id)
    if found is not None:
        return found
    section = "support" if kpi_id.startswith("support_") else "performance"
    return KpiName(kpi_id.replace("_", " ").capitalize(), "", section)
