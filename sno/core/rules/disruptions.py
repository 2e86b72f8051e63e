"""The Verstoringsanalyse (R24): one analysis per disruption that took availability away in the month.

A disruption is an outage, or a group of outages whose intervals overlap (R6 counts their union once),
with counted unavailability U > 0 in the month. Its figures come from the availability rule's own sets —
the window H (R7), valid maintenance M (R9) and the over-capacity minutes (R16) — and its incidents from
the incident rule's own priority and resolution clock (R10, R11, R13), so an analysis can never tell a
different story from the KPIs above it.

Readings the project takes (documented for the auditor, sno/core/README.md):

* DDoS outages (``ddos: true``) are left out before grouping: they still count in availability as their
  cause says, but no analysis is written for them (R24). A non-DDoS outage overlapping one keeps its own.
* Outages with an excluded cause (R8) are grouped with the outages they overlap, so the analysis shows
  the whole disruption; their time is not in ``counted_hours`` and ``excluded`` is true when the group has
  one. A group of excluded outages only has U = 0 and gets no analysis.
* ``cause`` is the cause of the group's first counted outage (the one that made it a disruption).
* ``availability_effect`` is ``counted_hours / (H − M) × 100`` percentage points of the KPI the outages
  count towards (``availability``, or ``availability_website`` for DigiD website outages, R7). Where a
  disruption overlaps emergency maintenance, both are shown in full; the month's U counts the overlap once.
* The incidents are those of the service and environment whose detection-to-resolution interval (to the
  month's end while open) overlaps the disruption, except incidents with an excluded cause, which count
  nowhere (R12).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sno.core.intervals import Interval, instant_key, intersect, subtract, total_seconds, union
from sno.core.rules.availability import (
    MaintenanceVerdict,
    capacity_minutes,
    classify_maintenance,
    window_of,
)
from sno.core.rules.common import Context, hours, local_iso
from sno.core.rules.incidents import notified_in_time, priority, resolution_seconds

__all__ = ["PRIVATE_DISRUPTION_KEYS", "disruptions"]

#: The keys of an analysis that explain it in words; the public report leaves them out (R23, R24).
PRIVATE_DISRUPTION_KEYS = ("titles", "analysis")


@dataclass(frozen=True)
class _Sets:
    """One availability KPI's sets, as the availability rule builds them (R6–R9, R16)."""

    kpi: str
    window: list[Interval]
    maintenance: list[Interval]
    capacity: list[Interval]

    def counted(self, intervals: Iterable[Interval]) -> float:
        """Seconds of ``intervals`` counted as U: inside the window, outside M and over-capacity minutes."""
        return total_seconds(
            subtract(subtract(intersect(union(intervals), self.window), self.maintenance), self.capacity)
        )

    @property
    def base_seconds(self) -> float:
        """H − M, the denominator of R6."""
        return total_seconds(self.window) - total_seconds(self.maintenance)


def _outage_span(ctx: Context, o: dict[str, Any]) -> Interval | None:
    """The outage inside the month (R2); an ongoing one runs to the month's end."""
    end = o.get("ended_at") or ctx.month.end
    start_k, end_k = instant_key(o["started_at"]), instant_key(end)
    lo, hi = max(start_k, instant_key(ctx.month.start)), min(end_k, instant_key(ctx.month.end))
    if hi <= lo:
        return None
    start = o["started_at"] if start_k >= instant_key(ctx.month.start) else ctx.month.start
    stop = end if end_k <= instant_key(ctx.month.end) else ctx.month.end
    return Interval(start, stop)


def _groups(spans: list[tuple[Interval, dict[str, Any]]]) -> list[list[tuple[Interval, dict[str, Any]]]]:
    """Outages whose intervals overlap, grouped transitively, in start order (R6: their union)."""
    spans = sorted(spans, key=lambda s: (instant_key(s[0].start), str(s[1]["outage_id"])))
    groups: list[list[tuple[Interval, dict[str, Any]]]] = []
    end_k = None
    for iv, o in spans:
        if groups and end_k is not None and instant_key(iv.start) < end_k:
            groups[-1].append((iv, o))
            end_k = max(end_k, instant_key(iv.end))
        else:
            groups.append([(iv, o)])
            end_k = instant_key(iv.end)
    return groups


def _incidents(ctx: Context, span: Interval) -> list[dict[str, Any]]:
    """Incidents overlapping the disruption, with their clocks against target (R10, R11, R13)."""
    excluded = set(ctx.norms.excluded_causes)
    targets = ctx.norms.incidents.targets(ctx.environment)
    notice = ctx.norms.p1_notice
    out = []
    for i in ctx.snapshots_of("incident"):
        if i.get("cause") in excluded:
            continue
        resolved = i.get("resolved_at") if i["status"] == "resolved" else None
        until = resolved or ctx.month.end
        if not (
            instant_key(i["detected_at"]) < instant_key(span.end)
            and instant_key(until) > instant_key(span.start)
        ):
            continue
        p = priority(i["impact"], i["urgency"])
        target = targets.of(p)
        secs = resolution_seconds(ctx, i, target) if target is not None and resolved is not None else None
        notified = None
        if p == 1 and notice is not None and target is not None:
            notified = notified_in_time(notice, i)
        out.append(
            {
                "id": str(i["incident_id"]),
                "priority": f"P{p}",
                "detected_at": local_iso(i["detected_at"]),
                "resolved_at": local_iso(resolved),
                "resolution_hours": None if secs is None else hours(secs),
                "basis": None if target is None else target.basis,
                "target_hours": None if target is None else target.hours,
                "within": None if secs is None or target is None else target.within(secs),
                "notified_within_30_min": notified,
            }
        )
    out.sort(key=lambda x: (x["detected_at"], x["id"]))
    return out


def _maintenance(verdicts: list[MaintenanceVerdict], span: Interval) -> list[str]:
    """The maintenance windows (not cancelled) whose announced time overlaps the disruption (R8, R9)."""
    touched = []
    for v in verdicts:
        r = v.record
        if r["status"] == "cancelled":
            continue
        if instant_key(r["starts_at"]) < instant_key(span.end) and instant_key(r["ends_at"]) > instant_key(
            span.start
        ):
            touched.append(str(r["maintenance_id"]))
    return touched


def disruptions(ctx: Context) -> list[dict[str, Any]]:
    """Every disruption analysis of the month, in start order (R24; see the module doc for the readings).

    Each is a plain dict with the keys of docs/interfaces.md: ``outage_ids``, ``start``, ``end`` (None while
    ongoing), ``counted_hours``, ``availability_effect``, ``cause``, ``excluded``, ``incidents``,
    ``maintenance_ids``, ``titles`` and ``analysis``; and ``kpi``, the availability KPI it counts towards.
    """
    verdicts = classify_maintenance(ctx)
    m_all = union(iv for v in verdicts for iv in v.m)
    span = ctx.span
    has_website = "website" in ctx.norms.availability
    sets: dict[str, _Sets] = {}
    avail = ctx.norms.availability.get(ctx.environment)
    if avail is not None:
        window = window_of(ctx.calendar, avail.window, span.start, span.end)
        sets["availability"] = _Sets("availability", window, intersect(m_all, window), capacity_minutes(ctx))
    if has_website and ctx.environment == "production":
        site = ctx.norms.availability["website"]
        window = window_of(ctx.calendar, site.window, span.start, span.end)
        sets["availability_website"] = _Sets("availability_website", window, intersect(m_all, window), [])
    excluded_causes = set(ctx.norms.excluded_causes)
    by_kpi: dict[str, list[tuple[Interval, dict[str, Any]]]] = {k: [] for k in sets}
    for o in ctx.snapshots_of("outage"):
        if o.get("ddos"):
            continue  # R24: no analysis of a DDoS attack (it still counts in availability, R8)
        kpi = "availability_website" if has_website and o.get("function") == "website" else "availability"
        iv = _outage_span(ctx, o)
        if iv is not None and kpi in by_kpi:
            by_kpi[kpi].append((iv, o))
    out: list[tuple[int, dict[str, Any]]] = []
    for kpi, spans in by_kpi.items():
        s = sets[kpi]
        for group in _groups(spans):
            counted = [(iv, o) for iv, o in group if o.get("cause") not in excluded_causes]
            secs = s.counted(iv for iv, _ in counted)
            if secs <= 0:
                continue
            outages = [o for _, o in group]
            whole = Interval(
                min((o["started_at"] for o in outages), key=instant_key),
                max((iv.end for iv, _ in group), key=instant_key),
            )
            ongoing = any(o.get("ended_at") is None for o in outages)
            end = None if ongoing else max((o["ended_at"] for o in outages), key=instant_key)
            base = s.base_seconds
            texts = [str(o["analysis"]) for o in outages if o.get("analysis")]
            out.append(
                (
                    instant_key(whole.start),
                    {
                        "kpi": kpi,
                        "outage_ids": [str(o["outage_id"]) for o in outages],
                        "start": local_iso(whole.start),
                        "end": local_iso(end),
                        "counted_hours": hours(secs),
                        "availability_effect": secs / base * 100.0 if base > 0 else None,
                        "cause": counted[0][1].get("cause"),
                        "excluded": len(counted) < len(group),
                        "incidents": _incidents(ctx, whole),
                        "maintenance_ids": _maintenance(verdicts, whole),
                        "titles": [str(o["title"]) for o in outages if o.get("title")],
                        "analysis": "\n\n".join(texts) if texts else None,
                    },
                )
            )
    out.sort(key=lambda kd: (kd[0], kd[1]["outage_ids"]))
    return [d for _, d in out]
