"""The month's judgement: every KPI of docs/interfaces.md for one service, environment and month (R5–R23).

``judge_month`` works from additive inputs and snapshots only, so the report built from the stream's
ClickHouse rollups and ``reference_report`` built straight from events are the same computation; the
pipeline is tested against the latter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sno.core.buckets import MonthInputs
from sno.core.calendar import Month, WorkCalendar
from sno.core.catalogue import Catalogue
from sno.core.dedup import Deduplicator, event_time
from sno.core.intervals import instant_key
from sno.core.kpi import Kpi, NotMeasured, Report, no_data
from sno.core.reporting import due_date
from sno.core.rules.availability import availability_kpis
from sno.core.rules.common import Context
from sno.core.rules.disruptions import disruptions
from sno.core.rules.incidents import incident_kpis
from sno.core.rules.mijnoverheid import MijnOverheidMeasures, mijnoverheid_kpis
from sno.core.rules.performance import capacity_forecast_kpi, performance_kpis
from sno.core.rules.support import support_kpis
from sno.core.snapshots import Snapshots

__all__ = ["KPI_IDS", "judge_month", "reference_report"]

_COMMON = (
    "availability",
    "maintenance_windows",
    "incident_resolution_p1",
    "incident_resolution_p2",
    "incident_resolution_p3",
    "incidents_open",
    "support_phone_answer_time",
    "support_phone_abandon_rate",
    "support_phone_satisfaction",
    "support_written_answer_time",
    "support_afnemer_answer_time",
)
_PERFORMANCE = ("incident_notification_p1", "volume", "peak_per_minute", "processing_time")
_MIJNOVERHEID = (
    "messages_peak_per_day",
    "messages_peak_per_hour",
    "messages_peak_per_second",
    "messages_within_24h",
    "notifications_peak_per_hour",
    "notifications_peak_per_day",
    "notifications_out_of_order",
    "berichtpresentatie_within_200ms",
    "validatieservice_peak_per_hour",
    "validatieservice_within_30s",
    "abonnement_within_4h",
    "abonnement_peak_per_night",
    "attachments_share",
    "attachments_over_500kb",
    "forecast_deviation",
    "messages_per_afnemer",
)

#: The KPI ids every report of a service carries, also when no SNO version is in force (docs/interfaces.md).
#: Version-dependent extras (``capacity_forecast_afnemers`` under DigiD 2.8, the 10-minute phone norm)
#: are added by the rules when the version has them.
KPI_IDS: dict[str, tuple[str, ...]] = {
    "digid": (*_COMMON, "availability_website", *_PERFORMANCE),
    "digid-machtigen": (*_COMMON, *_PERFORMANCE),
    "mijnoverheid": (*_COMMON, *_MIJNOVERHEID),
}


def judge_month(
    service: str,
    environment: str,
    month: Month,
    inputs: MonthInputs,
    snapshots: Snapshots,
    catalogue: Catalogue,
    year_inputs: MonthInputs | None = None,
    mijnoverheid: MijnOverheidMeasures | None = None,
) -> Report:
    """The report of one service, environment and month, judged by the SNO version in force on the
    month's first day (R5); a month without a version has every KPI ``no_data`` and a note saying why.

    ``year_inputs`` (the calendar year up to the month's end) is used for the yearly R17 thresholds.
    ``mijnoverheid`` are the month's MijnOverheid measures (R18, R19, R23) when they were summed elsewhere
    (the report has ClickHouse sum them); they must be of the same service, environment and month, and
    ``inputs`` then need not carry the message, notification and api rows. Without them the measures are
    summed from ``inputs``.
    """
    if service not in KPI_IDS:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(KPI_IDS)}")
    if environment not in ("production", "preproduction"):
        raise ValueError(f"unknown environment {environment!r}; expected production or preproduction")
    selection = catalogue.select(service, month)
    if selection.norms is None:
        return Report(
            service=service,
            environment=environment,
            month=str(month),
            sno_version=None,
            kpis={kpi_id: no_data() for kpi_id in KPI_IDS[service]},
            notes=list(selection.notes),
            due_date=due_date(month, WorkCalendar()).isoformat(),
        )
    ctx = Context(service, environment, month, selection.norms, inputs, snapshots, year_inputs)
    kpis: dict[str, Kpi] = {}
    kpis.update(availability_kpis(ctx))
    kpis.update(incident_kpis(ctx))
    if service == "mijnoverheid":
        kpis.update(mijnoverheid_kpis(ctx, mijnoverheid))
    else:
        kpis.update(performance_kpis(ctx))
        kpis.update(capacity_forecast_kpi(ctx))
    kpis.update(support_kpis(ctx))
    for kpi_id in KPI_IDS[service]:
        kpis.setdefault(kpi_id, no_data())
    return Report(
        service=service,
        environment=environment,
        month=str(month),
        sno_version=selection.norms.version,
        kpis=kpis,
        norms_not_measured=[NotMeasured(norm=n.norm, stated=n.stated) for n in selection.norms.not_measured],
        notes=list(selection.notes),
        due_date=due_date(month, selection.norms.calendar).isoformat(),
        disruptions=disruptions(ctx),
    )


def reference_report(
    events: Iterable[Mapping[str, Any]],
    service: str,
    environment: str,
    month: Month | str,
    catalogue: Catalogue,
) -> Report:
    """The report straight from events: de-duplicate, keep the latest snapshots, fold the contributions
    and judge (R1–R23). This is the reference the streaming pipeline is tested against.

    Events are taken in event-time order, so the result does not depend on arrival order and the
    bounded duplicate window forgets nothing that could still match.
    """
    month = Month.parse(month) if isinstance(month, str) else month
    chosen = [e for e in events if e.get("service") == service]
    chosen.sort(key=lambda e: instant_key(event_time(e)))
    dedup = Deduplicator()
    inputs = MonthInputs()
    snapshots = Snapshots()
    for event in chosen:
        if dedup.is_duplicate(event):
            continue
        snapshots.add(event)
        inputs.add_event(event, catalogue)
    return judge_month(service, environment, month, inputs, snapshots, catalogue, year_inputs=inputs)
