"""Incident resolution times and the P1 notice (R10–R13)."""

from __future__ import annotations

from typing import Any

from sno.core.calendar import clock_seconds
from sno.core.catalogue import P1Notice, ResolutionTarget
from sno.core.intervals import instant_key
from sno.core.kpi import Kpi, info, judged, no_data, within_share
from sno.core.rules.common import Context, hours, local_iso

__all__ = ["incident_kpis", "notified_in_time", "priority", "resolution_seconds"]

_LEVEL = {"hoog": 0, "midden": 1, "laag": 2}


def priority(impact: str, urgency: str) -> int:
    """P1 when impact and urgency are both hoog, P2 when one is hoog and the other midden, else P3 (R10)."""
    a, b = sorted((_LEVEL[impact], _LEVEL[urgency]))
    if (a, b) == (0, 0):
        return 1
    if (a, b) == (0, 1):
        return 2
    return 3


def resolution_seconds(ctx: Context, incident: dict[str, Any], target: ResolutionTarget) -> float:
    """Time from detection to resolution on the target's basis: clock or office hours (R4, R11)."""
    start, end = incident["detected_at"], incident["resolved_at"]
    if target.basis == "clock":
        return clock_seconds(start, end)
    oh = ctx.norms.office_hours
    return ctx.calendar.office_seconds(start, end, oh.from_, oh.to)


def notified_in_time(notice: P1Notice, incident: dict[str, Any]) -> bool:
    """Afnemers were informed of this P1 within the notice time of detection (R13); never informed is
    not in time."""
    notified = incident.get("notified_at")
    return notified is not None and clock_seconds(incident["detected_at"], notified) <= notice.minutes * 60


def _counted(ctx: Context) -> list[tuple[dict[str, Any], int]]:
    """Incidents of this service and environment whose cause is not excluded (R8, R12), with priority."""
    excluded = set(ctx.norms.excluded_causes)
    return [
        (i, priority(i["impact"], i["urgency"]))
        for i in ctx.snapshots_of("incident")
        if i.get("cause") not in excluded
    ]


def incident_kpis(ctx: Context) -> dict[str, Kpi]:
    """``incident_resolution_p1..3``, ``incident_notification_p1`` and ``incidents_open`` (R10–R13).

    An incident counts in the month it was resolved in, judged by its latest snapshot's priority; an
    incident with an excluded cause counts nowhere; pre-production P1 is "N.v.t." (no_data).
    """
    start_k, end_k = instant_key(ctx.month.start), instant_key(ctx.month.end)
    targets = ctx.norms.incidents.targets(ctx.environment)
    incidents = _counted(ctx)
    resolved = [
        (i, p)
        for i, p in incidents
        if i["status"] == "resolved"
        and i.get("resolved_at") is not None
        and start_k <= instant_key(i["resolved_at"]) < end_k
    ]
    out: dict[str, Kpi] = {}
    norm = ctx.norms.incidents.norm
    for p in (1, 2, 3):
        target = targets.of(p)
        kpi_id = f"incident_resolution_p{p}"
        if target is None:
            out[kpi_id] = no_data(unit="%", why=f"P{p} in {ctx.environment} is not judged (N.v.t., R11)")
            continue
        items = []
        for i, pr in resolved:
            if pr != p:
                continue
            secs = resolution_seconds(ctx, i, target)
            items.append(
                {
                    "id": str(i["incident_id"]),
                    "detected_at": local_iso(i["detected_at"]),
                    "resolved_at": local_iso(i["resolved_at"]),
                    "hours": hours(secs),
                    "basis": target.basis,
                    "target_hours": target.hours,
                    "within": target.within(secs),
                    "title": i.get("title"),
                }
            )
        items.sort(key=lambda x: (x["resolved_at"], x["id"]))
        within = sum(1 for x in items if x["within"])
        out[kpi_id] = within_share(
            within,
            len(items),
            norm,
            target_hours=target.hours,
            basis=target.basis,
            items=items,
        )

    notice = ctx.norms.p1_notice
    if notice is not None:
        if targets.p1 is None:
            out["incident_notification_p1"] = judged(
                None, notice.norm, "ge", unit="%", why=f"P1 in {ctx.environment} is not judged (N.v.t., R11)"
            )
        else:
            p1s = [i for i, p in resolved if p == 1]
            within = sum(1 for i in p1s if notified_in_time(notice, i))
            out["incident_notification_p1"] = within_share(within, len(p1s), notice.norm)

    still_open = []
    for i, p in incidents:
        if instant_key(i["detected_at"]) >= end_k:
            continue
        if (
            i["status"] == "resolved"
            and i.get("resolved_at") is not None
            and instant_key(i["resolved_at"]) < end_k
        ):
            continue
        if targets.of(p) is None:
            continue  # not judged, not listed (R11)
        still_open.append(
            {
                "id": str(i["incident_id"]),
                "priority": f"P{p}",
                "detected_at": local_iso(i["detected_at"]),
                "elapsed_hours": hours(clock_seconds(i["detected_at"], ctx.month.end)),
                "title": i.get("title"),
            }
        )
    still_open.sort(key=lambda x: (x["detected_at"], x["id"]))
    out["incidents_open"] = info(len(still_open), unit="count", items=still_open)
    return out
