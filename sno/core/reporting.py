"""Facts about the Klantrapportage itself rather than about a KPI: when it is due (R23) and whether a
month has anything to report at all.

The due date is a calendar fact (R3) that the report states and `sno report --due` lists, so it is
computed once, here, for both. Whether a month has input decides between a judged report and one that
says there was nothing to judge: a month without a single event is not "100 % available", it is a month
about which the store knows nothing (an unconnected producer, a wrong ``--store``), and a report that
calls it "met" would mislead its reader.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sno.core.buckets import MonthInputs
from sno.core.calendar import Month, WorkCalendar
from sno.core.catalogue import Catalogue
from sno.core.intervals import instant_key
from sno.core.kpi import Report, no_data
from sno.core.snapshots import Snapshots

__all__ = ["NO_EVENTS_NOTE", "Due", "due_date", "due_for", "month_has_input", "next_due", "without_events"]

#: The note of a month without a single event (English, as every note in the JSON; the human formats
#: translate it through their message catalogue).
NO_EVENTS_NOTE = (
    "No event of this service and environment is stored for this month: there is nothing to judge, so "
    "every KPI is no_data (not 100 % available)."
)


def due_date(month: Month, calendar: WorkCalendar) -> date:
    """The day the month's Klantrapportage is due: the last workday (R3) of the next month (R23, DigiD 3.0
    §4 "waar mogelijk uiterlijk de laatste werkdag van de maand")."""
    day = month.next().next().first_day - timedelta(days=1)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class Due:
    """The report of one service that is due next, seen from ``today`` (R23)."""

    service: str
    month: Month
    due: date
    sno_version: str | None


def next_due(today: date, calendar: WorkCalendar) -> tuple[Month, date]:
    """The month whose report is due next on ``today``, and its due date (R23).

    Last month's report is due on the last workday of this month; once that day has passed (a weekend or
    feestdag at the end of the month), the next one due is this month's, at the end of next month.
    """
    this = Month(today.year, today.month)
    last = this.prev()
    due = due_date(last, calendar)
    if today <= due:
        return last, due
    return this, due_date(this, calendar)


def _overlaps(start: Any, end: Any, month: Month) -> bool:
    """[start, end) touches the month (R2); an open end runs on past it."""
    if start is None:
        return False
    if instant_key(start) >= instant_key(month.end):
        return False
    return end is None or instant_key(end) > instant_key(month.start)


def month_has_input(
    service: str,
    environment: str,
    month: Month,
    inputs: MonthInputs,
    snapshots: Snapshots,
    measured: Iterable[Any] = (),
) -> bool:
    """Whether anything at all is known about this service, environment and month: a bucket row in the
    month (R2), a forecast for it (R19), an outage or maintenance window that touches it (they decide U and
    M, R6), or an incident detected or resolved in it. An incident that is merely still open, detected
    months before, is no sign that anything was recorded for the month.

    ``measured`` are figures summed elsewhere (the report has ClickHouse sum the MijnOverheid message,
    notification and api rows into measures); any non-empty one counts as input.
    """
    for family in inputs.rows:
        start: Any = month.first_day if family == "support_day" else month.start
        end: Any = month.next().first_day if family == "support_day" else month.end
        if next(inputs.select(family, service, environment, start, end), None) is not None:
            return True
    if any(bool(m) for m in measured):
        return True
    key = str(month)
    if any(
        s == service and (e or "production") == environment and m == key for s, e, _, m in snapshots.forecasts
    ):
        return True
    for o in snapshots.of("outage", service, environment):
        if _overlaps(o["started_at"], o.get("ended_at"), month):
            return True
    for m in snapshots.of("maintenance", service, environment):
        if _overlaps(m["starts_at"], m["ends_at"], month):
            return True
    for i in snapshots.of("incident", service, environment):
        # detected or resolved in the month; one merely still open (since months) says nothing about it
        resolved = i.get("resolved_at") if i.get("status") == "resolved" else None
        if any(t is not None and Month.of(t) == month for t in (i["detected_at"], resolved)):
            return True
    return False


def without_events(report: Report) -> Report:
    """A month of which the store holds not a single event: every KPI ``no_data`` with a note saying so,
    rather than the 100 % availability and empty shares judging nothing would give. The norms,
    the due date and the norms not measured stay: they are facts of the agreement, not of the events."""
    return report.model_copy(
        update={
            "kpis": {
                kpi_id: no_data(norm=k.norm, unit=k.unit)
                if k.norm_comparison is None
                else no_data(norm=k.norm, unit=k.unit, norm_comparison=k.norm_comparison)
                for kpi_id, k in report.kpis.items()
            },
            "notes": [*report.notes, NO_EVENTS_NOTE],
            "disruptions": [],
        }
    )


def due_for(service: str, today: date, catalogue: Catalogue) -> Due:
    """The report of ``service`` due next on ``today`` (R23), with the SNO version that judges it (R5).

    The workday calendar is that version's (its configured extra days, R3); before any version the plain
    R3 calendar."""
    this = Month(today.year, today.month)
    last = this.prev()
    selection = catalogue.select(service, last)
    calendar = selection.norms.calendar if selection.norms is not None else WorkCalendar()
    month, due = next_due(today, calendar)
    if month != last:
        selection = catalogue.select(service, month)
        calendar = selection.norms.calendar if selection.norms is not None else WorkCalendar()
        due = due_date(month, calendar)
    return Due(service=service, month=month, due=due, sno_version=selection.version)
