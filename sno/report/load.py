"""Loading a month (or a year) from the store into what the report shows (R5, R6–R23).

The verdicts come from the core's ``judge_month`` on the rows the pipeline wrote, exactly as the reference
evaluation does; this module adds only what the charts need beside them: figures per local day (R1), which
the monthly KPIs sum away. Those are computed with the same core functions and the same bucket rows, so
the days add up to the month (a test checks that they do). For MijnOverheid, ClickHouse sums the month's
per-second message rows and notification instants down to ``MijnOverheidMeasures`` first, the figures
the core's ``mijnoverheid_measures`` computes from those rows (a test holds the two equal), so a full
month's millions of rows never come into Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sno.core.buckets import FAMILIES, MonthInputs
from sno.core.calendar import TZ, Month
from sno.core.catalogue import CapacityForecast, Catalogue, MijnOverheidLimits
from sno.core.intervals import Interval, intersect, total_seconds
from sno.core.judge import KPI_IDS, judge_month
from sno.core.kpi import Report
from sno.core.reporting import month_has_input, without_events
from sno.core.rules.availability import AvailabilitySets, availability_sets
from sno.core.rules.common import Context
from sno.core.rules.mijnoverheid import (
    ABONNEMENT_APIS,
    MessageTotals,
    MijnOverheidMeasures,
    abonnement_nights,
)
from sno.core.snapshots import Snapshots
from sno.rollups import read_inputs, read_snapshots
from sno.runtime.store import Store

__all__ = [
    "Band",
    "DayFigures",
    "MonthReport",
    "ReportArgumentError",
    "check_arguments",
    "day_figures",
    "load_month",
    "load_year",
    "read_mijnoverheid_measures",
    "read_month_compact",
]

ENVIRONMENTS = ("production", "preproduction")


class ReportArgumentError(ValueError):
    """An argument the report cannot be made for; the message is one line for the user."""


@dataclass(frozen=True)
class Band:
    """One stretch of the month on the availability timeline: counted unavailability (U), valid
    maintenance (M), or an outage whose cause is excluded (R8). Titles are not kept here, so a chart
    never shows what a public report must leave out (R23)."""

    kind: Literal["unavailable", "maintenance", "excluded"]
    start: datetime
    end: datetime


@dataclass
class DayFigures:
    """One local day (R1): its share of the month's availability (R6) and performance (R14–R16)."""

    day: date
    window_hours: float = 0.0
    unavailable_hours: float = 0.0
    maintenance_hours: float = 0.0
    volume: int | None = None
    peak_per_minute: int | None = None
    minutes_over: int = 0
    processing_count: int = 0
    processing_within: int = 0
    messages_offered: int | None = None
    messages_processed: int | None = None
    messages_rejected: int | None = None

    @property
    def availability(self) -> float | None:
        """R6 over this day alone; None when the day has no window outside maintenance."""
        rest = self.window_hours - self.maintenance_hours
        if rest <= 1e-12:
            return None
        return (rest - self.unavailable_hours) / rest * 100.0

    @property
    def processing_share(self) -> float | None:
        """R14 over this day alone (over-capacity minutes left out, R16)."""
        if not self.processing_count:
            return None
        return self.processing_within / self.processing_count * 100.0


@dataclass
class MonthReport:
    """A judged month and the per-day figures its charts draw."""

    report: Report
    days: list[DayFigures] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


def check_arguments(service: str, environment: str, month: str, catalogue: Catalogue) -> Month:
    """Refuse what no report can be made for: an unknown service or environment, or a malformed month.

    A month before the service's first SNO version is not refused: its report says so, every KPI
    ``no_data`` with the R5 note (docs/interfaces.md)."""
    if service not in KPI_IDS:
        raise ReportArgumentError(f"unknown service {service!r}; expected one of {', '.join(KPI_IDS)}")
    if environment not in ENVIRONMENTS:
        raise ReportArgumentError(
            f"unknown environment {environment!r}; expected one of {', '.join(ENVIRONMENTS)}"
        )
    try:
        parsed = Month.parse(month)
    except ValueError:
        raise ReportArgumentError(f"malformed month {month!r}; expected YYYY-MM, e.g. 2026-04") from None
    return parsed


#: Per family, the key columns the rules look at when ``year_inputs`` carries R17's per-afnemer rows; the
#: others are summed away in SQL (ClickHouse does the additions the rules would do in Python). Messages
#: keep their afnemer: R19 and R23 count per afnemer, and the peaks per second need the second.
_COMPACT_KEYS: dict[str, tuple[str, ...]] = {
    "auth_minute": ("minute",),  # R14-R16 sum over afnemers per minute; R17 reads year_inputs instead
    "notification_minute": ("minute",),  # R18 peaks per hour and day: totals only
    "notification_order": ("queued_at", "channel", "sent_at"),  # R18 order per channel, not per afnemer
    "api_minute": ("minute", "api"),  # R18 per api and minute
}


def read_month_compact(
    store: Store, service: str, environment: str, month: Month, families: Iterable[str] | None = None
) -> MonthInputs:
    """The month's inputs with the dimensions no rule of the month reads summed away in SQL (R14–R18).

    Judging these gives the same report as the full rows when R17's year rows are passed separately
    (``load_month`` does): a test compares both against ``reference_report``. It keeps ``sno report``
    fast on a full month, where the per-afnemer minute rows run into millions. ``families`` limits the
    reading to those bucket families (all by default), for rules that get their figures otherwise.
    """
    wanted = tuple(FAMILIES) if families is None else tuple(families)
    inputs = read_inputs(
        store,
        service=service,
        environment=environment,
        start=month.start,
        end=month.end,
        families=tuple(f for f in wanted if f not in _COMPACT_KEYS),
    )
    for name, kept in _COMPACT_KEYS.items():
        if name not in wanted:
            continue
        family = FAMILIES[name]
        time_col = family.keys[3]
        select = ", ".join(k if k in kept or k in ("service", "environment") else "''" for k in family.keys)
        sums = ", ".join(f"sum({v})" for v in family.values)
        sql = (
            f"SELECT {select}, {sums} FROM sno_{name} WHERE service = {{service:String}} "
            f"AND environment = {{environment:String}} AND {time_col} >= {{start:DateTime64(6, 'UTC')}} "
            f"AND {time_col} < {{end:DateTime64(6, 'UTC')}} GROUP BY service, environment, {', '.join(kept)}"
        )
        params = {"service": service, "environment": environment, "start": month.start, "end": month.end}
        n = len(family.keys)
        for row in store.query(sql, params):
            inputs.add(name, tuple(_aware(v) for v in row[:n]), row[n:])
    return inputs


#: The bucket families the MijnOverheid rules read only through ``MijnOverheidMeasures`` (R18, R19, R23).
_MEASURED = ("message_second", "notification_minute", "notification_order", "api_minute")


def read_mijnoverheid_measures(
    store: Store, service: str, environment: str, month: Month, limits: MijnOverheidLimits
) -> MijnOverheidMeasures:
    """The month's MijnOverheid measures summed by ClickHouse (R18, R19, R23): the same figures as
    ``mijnoverheid_measures`` on the month's rows, without bringing the per-second message rows and the
    exact notification instants into Python (a test holds the two equal, KPI for KPI).

    ``limits`` are the SNO version's: the pending messages past the processing limit and the
    Abonnementservice nights depend on them.
    """
    if service != "mijnoverheid":
        raise ValueError(f"MijnOverheid measures are MijnOverheid's only, not {service!r}'s (R18)")
    params: dict[str, Any] = {"service": service, "environment": environment, "month": month.first_day}
    totals = [0] * 8
    message_hours = []
    for hour, *sums in store.named(
        "mijnoverheid_message_hours", {**params, "limit_us": limits.message_processing_limit_us}
    ):
        message_hours.append((_aware(hour), int(sums[0])))
        for i, v in enumerate(sums):
            totals[i] += int(v)
    peak = store.named("mijnoverheid_message_peak_second", params)
    daily = store.named("messages_per_afnemer", params)  # R23's own query (its service is fixed)
    notification_hours = store.named("mijnoverheid_notification_hours", params)
    ((out_of_order, compared, order_rows),) = store.named("notifications_out_of_order", params)
    api_hours = store.named("mijnoverheid_api_hours", params)
    abonnement = store.named("abonnement_minutes", {**params, "apis": list(ABONNEMENT_APIS)})
    return MijnOverheidMeasures(
        messages=MessageTotals(*totals),
        messages_per_hour=tuple(sorted(message_hours)),
        messages_peak_second=(_aware(peak[0][0]), int(peak[0][1])) if peak else None,
        messages_per_day=tuple(sorted((d, str(a), int(o), int(p), int(r)) for d, a, o, p, r in daily)),
        notifications_per_hour=tuple(sorted((_aware(h), int(n)) for h, n in notification_hours)),
        notifications_out_of_order=int(out_of_order) if order_rows else None,
        notifications_compared=int(compared),
        api_per_hour=tuple(sorted((str(a), _aware(h), int(c), int(w)) for a, h, c, w in api_hours)),
        abonnement_per_night=abonnement_nights(
            ((str(a), _aware(t), int(n)) for a, t, n in abonnement), limits.abonnement_night
        ),
    )


def _judge(
    store: Store,
    service: str,
    environment: str,
    month: Month,
    catalogue: Catalogue,
    snapshots: Snapshots,
) -> tuple[MonthInputs, Report]:
    """Read what the month's rules need and judge it (R5–R23): the compact rows and, for MijnOverheid, the
    measures ClickHouse sums in place of the message, notification and api rows they are summed from.
    The year's rows are read only when the month's SNO version has capacity-management thresholds (R17,
    DigiD 2.8): no other rule looks outside the month."""
    selection = catalogue.select(service, month)
    norms = selection.norms
    if norms is None:
        return MonthInputs(), judge_month(service, environment, month, MonthInputs(), snapshots, catalogue)
    measures = None
    families = None
    if service == "mijnoverheid" and norms.mijnoverheid is not None:
        measures = read_mijnoverheid_measures(store, service, environment, month, norms.mijnoverheid)
        families = tuple(f for f in FAMILIES if f not in _MEASURED)
    inputs = read_month_compact(store, service, environment, month, families)
    year_inputs = None
    if norms.capacity_forecast is not None:
        year_inputs = _year_inputs(store, service, environment, month, norms.capacity_forecast)
    report = judge_month(
        service,
        environment,
        month,
        inputs,
        snapshots,
        catalogue,
        year_inputs=year_inputs,
        mijnoverheid=measures,
    )
    measured = (
        ()
        if measures is None
        else (
            measures.messages_per_hour,
            measures.notifications_per_hour,
            measures.api_per_hour,
            measures.messages_per_day,
        )
    )
    if not month_has_input(service, environment, month, inputs, snapshots, measured):
        report = without_events(report)
    return inputs, report


def _aware(value: Any) -> Any:
    """ClickHouse returns DateTime('UTC') columns as naive datetimes; they are UTC instants."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _year_inputs(
    store: Store, service: str, environment: str, month: Month, thresholds: CapacityForecast
) -> MonthInputs:
    """The calendar year's per-afnemer auth_minute rows up to the month's end (R17), of the afnemers that
    pass an R17 threshold only: an afnemer under all three cannot appear in the KPI, so its rows change
    nothing, and the rule gets every row of the ones it lists."""
    totals = store.named(
        "afnemer_year_totals", {"service": service, "environment": environment, "month": month.first_day}
    )
    over = sorted(
        afnemer
        for afnemer, year_total, max_month, peak in totals
        if year_total > thresholds.per_year
        or max_month > thresholds.per_month
        or peak > thresholds.peak_per_minute
    )
    year = MonthInputs()
    if not over:
        return year
    rows = store.query(
        "SELECT service, environment, afnemer_id, minute, sum(count), sum(within), sum(duration_ms) "
        "FROM sno_auth_minute WHERE service = {service:String} AND environment = {environment:String} "
        "AND afnemer_id IN {afnemers:Array(String)} AND minute >= {start:DateTime64(6, 'UTC')} "
        "AND minute < {end:DateTime64(6, 'UTC')} GROUP BY service, environment, afnemer_id, minute",
        {
            "service": service,
            "environment": environment,
            "afnemers": over,
            "start": Month(month.year, 1).start,
            "end": month.end,
        },
    )
    for row in rows:
        year.add("auth_minute", tuple(_aware(v) for v in row[:4]), row[4:])
    return year


def load_month(
    store: Store, service: str, environment: str, month: Month, catalogue: Catalogue, *, days: bool = True
) -> MonthReport:
    """Judge one month from the pipeline's tables (R5–R23) and, with ``days``, add the daily figures.

    The year's rows are read only when the month's SNO version has capacity-management thresholds
    (R17, DigiD 2.8): no other rule looks outside the month.
    """
    snapshots = read_snapshots(store, service)
    selection = catalogue.select(service, month)
    inputs, report = _judge(store, service, environment, month, catalogue, snapshots)
    result = MonthReport(report=report)
    if days and selection.norms is not None:
        result.days, result.bands = day_figures(
            Context(service, environment, month, selection.norms, inputs, snapshots), report, store
        )
    return result


def _day_span(day: date) -> Interval:
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    nxt = day + timedelta(days=1)
    return Interval(start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=TZ))


def day_figures(ctx: Context, report: Report, store: Store | None) -> tuple[list[DayFigures], list[Band]]:
    """Per local day: availability (R6), volume, peak minute and processing share (R14–R16), messages
    offered/processed/rejected (R23); and the availability timeline's bands."""
    sets = availability_sets(ctx) or AvailabilitySets([], [], [], [])
    window, m_set, u_set, excluded = sets.window, sets.maintenance, sets.unavailable, sets.excluded
    figures: dict[date, DayFigures] = {}
    for day in ctx.month.days():
        span = _day_span(day)
        fig = DayFigures(day=day)
        if window:
            fig.window_hours = total_seconds(intersect(window, [span])) / 3600.0
            fig.maintenance_hours = total_seconds(intersect(m_set, [span])) / 3600.0
            fig.unavailable_hours = total_seconds(intersect(u_set, [span])) / 3600.0
        figures[day] = fig
    bands = sorted(
        [Band("maintenance", iv.start, iv.end) for iv in m_set]
        + [Band("unavailable", iv.start, iv.end) for iv in u_set]
        + [Band("excluded", iv.start, iv.end) for iv in excluded],
        key=lambda b: (b.start.timestamp(), b.kind),
    )
    perf = ctx.norms.performance
    if perf is not None and store is not None:
        rows = store.named(
            "daily_performance",
            {
                "service": ctx.service,
                "environment": ctx.environment,
                "month": ctx.month.first_day,
                "capacity": perf.capacity_per_minute,
            },
        )
        for day, volume, peak, over, counted, within, _ms in rows:
            fig = figures.get(day)
            if fig is not None:
                fig.volume, fig.peak_per_minute, fig.minutes_over = int(volume), int(peak), int(over)
                fig.processing_count, fig.processing_within = int(counted), int(within)
        for fig in figures.values():
            if fig.volume is None:
                fig.volume = 0
    per_afnemer = report.kpis.get("messages_per_afnemer")
    items: list[dict[str, Any]] = (per_afnemer.model_extra or {}).get("items") or [] if per_afnemer else []
    for item in items:
        fig = figures.get(date.fromisoformat(item["date"]))
        if fig is None:
            continue
        fig.messages_offered = (fig.messages_offered or 0) + int(item["offered"])
        fig.messages_processed = (fig.messages_processed or 0) + int(item["processed"])
        fig.messages_rejected = (fig.messages_rejected or 0) + int(item["rejected"])
    return [figures[d] for d in sorted(figures)], bands


# --- the year overview -------------------------------------------------------------------------------

YearSource = Literal["sno_kpi_monthly", "judged"]


@dataclass
class YearCell:
    """One KPI in one month of the year overview."""

    value: float | int | None
    norm: float | int | None
    unit: str | None
    status: str


@dataclass
class YearOverview:
    """Every month's status per KPI of one service and environment (R23, the manager's first table)."""

    service: str
    environment: str
    year: int
    months: list[str]
    sno_versions: dict[str, str | None]
    sources: dict[str, YearSource]
    kpis: dict[str, dict[str, YearCell]]
    notes: dict[str, list[str]]

    def as_json(self) -> dict[str, Any]:
        """The year overview's JSON document (docs/interfaces.md has none; this mirrors the month report)."""
        return {
            "service": self.service,
            "environment": self.environment,
            "year": self.year,
            "months": self.months,
            "sno_versions": self.sno_versions,
            "sources": self.sources,
            "kpis": {
                kpi: {
                    m: {"value": c.value, "norm": c.norm, "unit": c.unit, "status": c.status}
                    for m, c in cells.items()
                }
                for kpi, cells in self.kpis.items()
            },
            "notes": self.notes,
        }


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    f = float(value)
    return int(f) if f.is_integer() and abs(f) < 2**53 else round(f, 4)


def load_year(
    store: Store, service: str, environment: str, year: int, catalogue: Catalogue, *, use_table: bool = True
) -> YearOverview:
    """Every month of a calendar year: from ``sno_kpi_monthly`` where the worker has written the month,
    otherwise judged here from the rollups (R5–R23), so the overview works on a store whose table is
    empty. A month before the service's first SNO version is ``no_data`` with the reason as a note (R5)."""
    months = [Month(year, m) for m in range(1, 13)]
    stored: dict[str, dict[str, tuple[Any, ...]]] = {}
    if use_table:
        rows = store.named("kpi_year", {"service": service, "environment": environment, "year": year})
        for month_day, kpi, value, norm, unit, status, version in rows:
            stored.setdefault(str(Month(month_day.year, month_day.month)), {})[kpi] = (
                value,
                norm,
                unit,
                status,
                version,
            )
    snapshots: Snapshots | None = None
    overview = YearOverview(service, environment, year, [str(m) for m in months], {}, {}, {}, {})
    order = list(KPI_IDS[service])
    for month in months:
        key = str(month)
        selection = catalogue.select(service, month)
        overview.notes[key] = list(selection.notes)
        if key in stored:
            overview.sources[key] = "sno_kpi_monthly"
            overview.sno_versions[key] = selection.version
            for kpi, (value, norm, unit, status, _version) in stored[key].items():
                overview.kpis.setdefault(kpi, {})[key] = YearCell(
                    _number(value), _number(norm), unit or None, status
                )
            continue
        if snapshots is None:
            snapshots = read_snapshots(store, service)
        _, report = _judge(store, service, environment, month, catalogue, snapshots)
        overview.sources[key] = "judged"
        overview.sno_versions[key] = report.sno_version
        for kpi, k in report.kpis.items():
            overview.kpis.setdefault(kpi, {})[key] = YearCell(k.value, k.norm, k.unit, k.status)
    ranked = {kpi: i for i, kpi in enumerate(order)}
    overview.kpis = {
        kpi: {m: cells.get(m, YearCell(None, None, None, "no_data")) for m in overview.months}
        for kpi, cells in sorted(overview.kpis.items(), key=lambda kv: (ranked.get(kv[0], len(order)), kv[0]))
    }
    return overview
