"""Availability (R6–R9, R16): ``(H − U − M) / (H − M) × 100`` over the month's availability window.

H is the window (R7), M the valid planned maintenance inside it (R9), U the union of everything that
counts as unavailable (R8) outside M and outside minutes over the capacity limit (R16). Everything is a
set of real-instant intervals, so overlapping outages and maintenance are never counted twice and DST
nights have their real length (R1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sno.core.calendar import TZ, Month, WorkCalendar
from sno.core.catalogue import ComponentWindow, Maintenance, Window
from sno.core.intervals import Interval, clip_one, instant_key, intersect, subtract, total_seconds, union
from sno.core.kpi import Kpi, info, judged, no_data
from sno.core.rules.common import Context, hours, local_iso

__all__ = [
    "AvailabilitySets",
    "MaintenanceVerdict",
    "availability_kpis",
    "availability_sets",
    "capacity_minutes",
    "classify_maintenance",
    "window_of",
]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTE = timedelta(minutes=1)


def window_of(calendar: WorkCalendar, window: Window, start: datetime, end: datetime) -> list[Interval]:
    """The instants of [start, end) inside a daily window (R7, R9); 24×7 is the whole span."""
    if instant_key(end) <= instant_key(start):
        return []
    if window.is_24x7:
        return [Interval(start, end)]
    return calendar.window_intervals(start, end, window.from_, window.to, window.days == "workdays")


@dataclass
class MaintenanceVerdict:
    """How one maintenance snapshot counts (R8, R9): ``m`` in M, ``u`` in U (before window clipping)."""

    record: dict[str, Any]
    m: list[Interval] = field(default_factory=list)
    u: list[Interval] = field(default_factory=list)
    why: str = ""
    slot: int | None = None


def _nth_weekday(month: Month, weekday: str, nth: int) -> date | None:
    first = month.first_day
    offset = (_WEEKDAYS.index(weekday) - first.weekday()) % 7
    day = first + timedelta(days=offset + 7 * (nth - 1))
    return day if day.month == month.month else None


def _local_date(instant: datetime) -> date:
    return instant.astimezone(TZ).date()


def _announced_in_time(calendar: WorkCalendar, record: dict[str, Any], workdays: int) -> bool:
    """Announced before the start and, when ``workdays`` > 0, at least that many workdays before: the
    ``workdays``-th workday after the announcement day is no later than the start day (R3, R9)."""
    announced, starts = record["announced_at"], record["starts_at"]
    if announced is None or instant_key(announced) >= instant_key(starts):
        return False
    if workdays == 0:
        return True
    return calendar.workdays_between(_local_date(announced), _local_date(starts)) >= workdays


def _slots(records: list[dict[str, Any]], group: Any) -> dict[str, int]:
    """1-based rank by ``starts_at`` of planned, scheduled windows within their start month (R9);
    ``group(record)`` adds a further grouping (the MijnOverheid component)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["kind"] == "planned" and r["status"] == "scheduled":
            groups[(Month.of(r["starts_at"]), group(r))].append(r)
    ranks: dict[str, int] = {}
    for items in groups.values():
        items.sort(key=lambda r: (instant_key(r["starts_at"]), str(r["maintenance_id"])))
        for i, r in enumerate(items, start=1):
            ranks[str(r["maintenance_id"])] = i
    return ranks


def _fmt(t: Any) -> str:
    return t.strftime("%H:%M")


def _unavailable(r: dict[str, Any], whole: Interval, slot: int | None, why: str) -> MaintenanceVerdict:
    """A window that counts as unavailability for its whole announced duration (R8, R9)."""
    return MaintenanceVerdict(record=r, u=[whole], slot=slot, why=why)


def _planned(
    ctx: Context,
    r: dict[str, Any],
    whole: Interval,
    slot: int,
    *,
    notice: int,
    late: str,
    label: str,
    limit: int,
    agreed: Window,
    valid: str,
) -> MaintenanceVerdict:
    """R9's checks of a planned window, the same for the agreed monthly windows and the MijnOverheid
    component windows: announced ``notice`` workdays ahead (else ``late`` says how it was not), within the
    month's ``limit`` of windows (``label`` names one), and then only its part inside the ``agreed`` hours
    counts as maintenance (``valid`` names the window); what fails a check counts as unavailability."""
    if not _announced_in_time(ctx.calendar, r, notice):
        return _unavailable(r, whole, slot, f"{late}: counts as unavailability (R9)")
    if slot > limit:
        why = f"{label} {slot} of its month, beyond the limit of {limit}: counts as unavailability (R9)"
        return _unavailable(r, whole, slot, why)
    inside = window_of(ctx.calendar, agreed, whole.start, whole.end)
    span = f"{_fmt(agreed.from_)}–{_fmt(agreed.to)}"
    v = MaintenanceVerdict(record=r, slot=slot, m=inside, u=subtract([whole], inside))
    v.why = f"{valid}: its {span} part counts as maintenance (R9)"
    if v.u:
        v.why += f"; the part outside {span} counts as unavailability"
    return v


def _classify_windowed(
    ctx: Context, r: dict[str, Any], whole: Interval, slot: int, policy: Maintenance
) -> MaintenanceVerdict:
    if policy.max_windows_per_month == 0 or policy.hours is None:
        why = (
            "planned maintenance is agreed outside the availability window only; "
            "its time inside it counts as unavailability (R9)"
        )
        return _unavailable(r, whole, slot, why)
    return _planned(
        ctx,
        r,
        whole,
        slot,
        notice=policy.notice_workdays,
        late="planned maintenance not announced before it started",
        label="planned window",
        limit=policy.max_windows_per_month,
        agreed=policy.hours,
        valid=f"valid planned window {slot} of {policy.max_windows_per_month}",
    )


def _classify_component(
    ctx: Context, r: dict[str, Any], whole: Interval, slot: int, comp: ComponentWindow
) -> MaintenanceVerdict:
    if not comp.counts_as_maintenance:
        why = (
            f"{comp.component} maintenance is announced as 'geen downtime': it counts neither as maintenance "
            "nor as unavailability; outages recorded during it count (R9)"
        )
        return MaintenanceVerdict(record=r, slot=slot, why=why)
    start_day = _local_date(r["starts_at"])
    regular = _nth_weekday(Month.of(r["starts_at"]), comp.weekday, comp.nth)
    on_regular_day = start_day == regular
    notice = comp.notice_workdays if on_regular_day else comp.moved_notice_workdays
    where = "on its regular day" if on_regular_day else f"moved from its regular day {regular}"
    if notice is None:
        why = f"{comp.component} window {where}, which the SNO does not allow: counts as unavailability (R9)"
        return _unavailable(r, whole, slot, why)
    return _planned(
        ctx,
        r,
        whole,
        slot,
        notice=notice,
        late=f"{comp.component} window {where} not announced at least {notice} workdays before",
        label=f"{comp.component} window",
        limit=comp.per_month,
        agreed=comp.hours,
        valid=f"valid {comp.component} window {where}",
    )


def classify_maintenance(ctx: Context) -> list[MaintenanceVerdict]:
    """How every maintenance snapshot overlapping the month counts (R8, R9).

    Cancelled windows count nowhere and take no slot; emergency maintenance is unavailability for its
    whole announced duration; planned windows are ranked by ``starts_at`` within their start month (per
    component for MijnOverheid) and count in M only when announced in time, within the monthly limit, and
    only for their part inside the agreed hours — the rest is unavailability.
    """
    policy = ctx.norms.maintenance.get(ctx.environment) or Maintenance()
    records = list(ctx.snapshots_of("maintenance"))
    components = {c.component: c for c in policy.components}
    ranks = _slots(records, (lambda r: r.get("component")) if components else (lambda r: None))
    out: list[MaintenanceVerdict] = []
    for r in records:
        whole = Interval(r["starts_at"], r["ends_at"])
        if whole.is_empty or instant_key(whole.end) <= instant_key(ctx.month.start):
            continue
        if instant_key(whole.start) >= instant_key(ctx.month.end):
            continue
        if r["status"] == "cancelled":
            out.append(MaintenanceVerdict(record=r, why="cancelled: counts nowhere and takes no slot (R9)"))
            continue
        if r["kind"] == "emergency":
            why = "emergency maintenance counts as unavailability for its whole announced duration (R8)"
            out.append(_unavailable(r, whole, None, why))
            continue
        slot = ranks[str(r["maintenance_id"])]
        if components:
            comp = components.get(r.get("component") or "")
            if comp is None:
                why = (
                    "maintenance outside the agreed component windows (additional maintenance is not "
                    "modelled): counts as unavailability (R9)"
                )
                out.append(_unavailable(r, whole, slot, why))
            else:
                out.append(_classify_component(ctx, r, whole, slot, comp))
        else:
            out.append(_classify_windowed(ctx, r, whole, slot, policy))
    out.sort(key=lambda v: (instant_key(v.record["starts_at"]), str(v.record["maintenance_id"])))
    return out


def capacity_minutes(ctx: Context) -> list[Interval]:
    """Calendar minutes in which more authentications/transactions started than the capacity (R15, R16)."""
    perf = ctx.norms.performance
    if perf is None:
        return []
    per_minute: dict[datetime, int] = defaultdict(int)
    for key, values in ctx.rows("auth_minute"):
        per_minute[key[3]] += values[0]
    return sorted(Interval(m, m + MINUTE) for m, n in per_minute.items() if n > perf.capacity_per_minute)


def _outage_interval(ctx: Context, o: dict[str, Any]) -> Interval | None:
    end = o.get("ended_at") or ctx.month.end  # ongoing: unavailable up to the month's end (R2)
    iv = Interval(o["started_at"], end)
    if iv.is_empty or instant_key(iv.end) <= instant_key(ctx.month.start):
        return None
    if instant_key(iv.start) >= instant_key(ctx.month.end):
        return None
    return iv


@dataclass(frozen=True)
class AvailabilitySets:
    """R6's sets over one availability window: H (``window``), M, U, and the outages whose cause is
    excluded (R8), which count nowhere but are drawn on the report's timeline."""

    window: list[Interval]
    maintenance: list[Interval]
    unavailable: list[Interval]
    excluded: list[Interval]


def _sets(
    ctx: Context,
    window: list[Interval],
    outages: list[dict[str, Any]],
    verdicts: list[MaintenanceVerdict],
    maintenance_u: bool,
    capacity: list[Interval],
) -> AvailabilitySets:
    """M from valid maintenance inside the window; U from counted outages (and maintenance counted as
    unavailability) inside the window, outside M and outside minutes over capacity (R6, R8, R9, R16)."""
    m_set = intersect(union(iv for v in verdicts for iv in v.m), window)
    excluded_causes = set(ctx.norms.excluded_causes)
    counted: list[Interval] = [iv for v in verdicts for iv in v.u] if maintenance_u else []
    excluded: list[Interval] = []
    for o in outages:
        iv = _outage_interval(ctx, o)
        if iv is not None:
            (excluded if o.get("cause") in excluded_causes else counted).append(iv)
    u_set = subtract(subtract(intersect(union(counted), window), m_set), capacity)
    clipped = (clip_one(iv, ctx.month.start, ctx.month.end) for iv in excluded)
    return AvailabilitySets(window, m_set, u_set, union(iv for iv in clipped if iv is not None))


def availability_sets(ctx: Context) -> AvailabilitySets | None:
    """The sets the ``availability`` KPI is computed from (the service, not www.digid.nl, R7); None when
    the SNO states no availability window for the environment. The report's per-day figures and its
    timeline are these sets cut per day, so they always add up to the KPI."""
    avail = ctx.norms.availability.get(ctx.environment)
    if avail is None:
        return None
    return _service_sets(ctx, avail.window, classify_maintenance(ctx), capacity_minutes(ctx))


def _service_outages(ctx: Context) -> list[dict[str, Any]]:
    """The outages of the service itself: for DigiD a ``function: website`` outage is the website's (R7)."""
    has_website = "website" in ctx.norms.availability
    return [o for o in ctx.snapshots_of("outage") if not (has_website and o.get("function") == "website")]


def _service_sets(
    ctx: Context, window: Window, verdicts: list[MaintenanceVerdict], capacity: list[Interval]
) -> AvailabilitySets:
    span = ctx.span
    instants = window_of(ctx.calendar, window, span.start, span.end)
    return _sets(ctx, instants, _service_outages(ctx), verdicts, True, capacity)


def _measure(
    ctx: Context,
    sets: AvailabilitySets,
    norm: float | None,
    outages: list[dict[str, Any]],
    verdicts: list[MaintenanceVerdict],
    maintenance_u: bool,
    capacity: list[Interval],
) -> Kpi:
    """R6 over one window's sets, and an item per outage and maintenance window saying how it counted."""
    window, m_set = sets.window, sets.maintenance
    h = total_seconds(window)
    m = total_seconds(m_set)
    excluded = set(ctx.norms.excluded_causes)
    items: list[dict[str, Any]] = []

    def counted_seconds(ivs: list[Interval]) -> float:
        return total_seconds(subtract(subtract(intersect(ivs, window), m_set), capacity))

    for o in outages:
        iv = _outage_interval(ctx, o)
        if iv is None:
            continue
        cause = o.get("cause")
        item: dict[str, Any] = {
            "kind": "outage",
            "id": str(o["outage_id"]),
            "start": local_iso(o["started_at"]),
            "end": local_iso(o.get("ended_at")),
            "cause": cause,
            "function": o.get("function"),
            "title": o.get("title"),
        }
        if o.get("ddos"):
            item["ddos"] = True  # a DDoS attack: counted as its cause says, no disruption analysis (R24)
        if cause in excluded:
            item.update(hours=0.0, counted="none", why=f"cause '{cause}' is excluded (R8)")
        else:
            secs = counted_seconds([iv])
            inside = total_seconds(intersect([iv], window))
            why = "unavailability (R8)"
            if inside == 0:
                why = "outside the availability window (R7)"
            elif secs < inside:
                why = (
                    "unavailability (R8); time inside valid maintenance or over-capacity minutes "
                    "is left out (R9, R16)"
                )
            if o.get("ended_at") is None:
                why += "; still ongoing, counted to the month's end"
            item.update(hours=hours(secs), counted="U" if secs > 0 else "none", why=why)
        items.append(item)

    for v in verdicts:
        r = v.record
        u_secs = counted_seconds(v.u) if maintenance_u else 0.0
        items.append(
            {
                "kind": "maintenance",
                "id": str(r["maintenance_id"]),
                "maintenance_kind": r["kind"],
                "status": r["status"],
                "component": r.get("component"),
                "start": local_iso(r["starts_at"]),
                "end": local_iso(r["ends_at"]),
                "announced_at": local_iso(r.get("announced_at")),
                "maintenance_hours": hours(total_seconds(intersect(v.m, window))),
                "unavailable_hours": hours(u_secs),
                "why": v.why if maintenance_u or v.m else v.why + " (not counted here)",
            }
        )

    u = total_seconds(sets.unavailable)
    items.sort(key=lambda i: (i["start"] or "", i["id"]))
    value = None if h - m <= 0 else (h - u - m) / (h - m) * 100.0
    extra = {
        "unit": "%",
        "hours": hours(h),
        "unavailable_hours": hours(u),
        "maintenance_hours": hours(m),
        "items": items,
    }
    return judged(value, norm, "ge", **extra)  # no value: no_data; no norm: info


def availability_kpis(ctx: Context) -> dict[str, Kpi]:
    """``availability`` (and for DigiD ``availability_website``) and ``maintenance_windows`` (R6–R9, R16).

    For DigiD an outage with ``function: website`` counts only towards www.digid.nl (R7). The website
    shares the valid planned maintenance of the service (its norm is "buiten gepland onderhoud"), but
    maintenance counted as unavailability and over-capacity minutes concern the DigiD service only.
    """
    out: dict[str, Kpi] = {}
    verdicts = classify_maintenance(ctx)
    capacity = capacity_minutes(ctx)
    outages = list(ctx.snapshots_of("outage"))
    has_website = "website" in ctx.norms.availability
    span = ctx.span
    avail = ctx.norms.availability.get(ctx.environment)
    if avail is None:
        out["availability"] = no_data(
            unit="%", why="the SNO states no availability window for this environment"
        )
    else:
        sets = _service_sets(ctx, avail.window, verdicts, capacity)
        out["availability"] = _measure(ctx, sets, avail.norm, _service_outages(ctx), verdicts, True, capacity)
    if has_website:
        site = ctx.norms.availability["website"]
        if ctx.environment == "production":
            window = window_of(ctx.calendar, site.window, span.start, span.end)
            site_outages = [o for o in outages if o.get("function") == "website"]
            sets = _sets(ctx, window, site_outages, verdicts, False, [])
            out["availability_website"] = _measure(ctx, sets, site.norm, site_outages, verdicts, False, [])
        else:
            out["availability_website"] = no_data(
                unit="%", why="www.digid.nl has a production norm only (R7)"
            )
    policy = ctx.norms.maintenance.get(ctx.environment) or Maintenance()
    counted = sum(1 for v in verdicts if v.m and total_seconds(intersect(v.m, [span])) > 0)
    planned = sum(
        1
        for r in ctx.snapshots_of("maintenance")
        if r["kind"] == "planned" and r["status"] == "scheduled" and Month.of(r["starts_at"]) == ctx.month
    )
    limit: Any = (
        {c.component: c.per_month for c in policy.components if c.counts_as_maintenance}
        if policy.components
        else policy.max_windows_per_month
    )
    out["maintenance_windows"] = info(counted, unit="count", planned=planned, limit=limit)
    return out
