"""MijnOverheid production limits, forecasts and daily counts per afnemer (R18, R19, R23).

Definitions follow interfaces.md "MijnOverheid KPIs, exactly": counts are over events of the month by
the named instant, in Europe/Amsterdam calendar units; a peak KPI is the highest count in one unit with
``at`` = the unit's start; a share KPI has ``count`` and ``within``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from sno.core.buckets import notifications_out_of_order
from sno.core.calendar import TZ
from sno.core.catalogue import MijnOverheidLimits
from sno.core.intervals import instant_key
from sno.core.kpi import Kpi, info, judged, no_data, share
from sno.core.rules.common import Context, local_iso

__all__ = ["mijnoverheid_kpis", "night_of"]

_ABONNEMENT = ("abonnement-alles", "abonnement-bsn-lijst", "abonnement-mutatiebasis")


def _hour(t: datetime) -> datetime:
    # A UTC hour is a local clock hour: Europe/Amsterdam offsets are whole hours (R1).
    return t.replace(minute=0, second=0, microsecond=0)


def _day(t: datetime) -> date:
    return t.astimezone(TZ).date()


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def night_of(instant: datetime, start: time, end: time) -> date | None:
    """The date a night window [start, end) that ``instant`` falls in started on, or None (R18).

    A night crossing midnight (23:00–07:00) belongs to the date it starts on.
    """
    local = instant.astimezone(TZ)
    t = local.time()
    if start < end:
        return local.date() if start <= t < end else None
    if t >= start:
        return local.date()
    if t < end:
        return local.date() - timedelta(days=1)
    return None


def _peak(
    counts: Iterable[tuple[datetime, int]], unit: Callable[[datetime], object]
) -> tuple[object, int] | None:
    per: dict[object, int] = defaultdict(int)
    for t, n in counts:
        per[unit(t)] += n
    if not per:
        return None
    # Highest count; on a tie the earliest unit.
    return min(per.items(), key=lambda kv: (-kv[1], kv[0]))


def _peak_kpi(counts: list[tuple[datetime, int]], unit: str, norm: int) -> Kpi:
    if not counts:
        return no_data(norm=norm, unit=f"per {unit}")
    if unit == "day":
        found = _peak(counts, _day)
        assert found is not None
        at = _day_start(found[0]).isoformat()  # type: ignore[arg-type]
    else:
        fn = _hour if unit == "hour" else (lambda t: t)
        found = _peak(counts, fn)
        assert found is not None
        at = local_iso(found[0])  # type: ignore[arg-type]
    return judged(found[1], norm, "le", unit=f"per {unit}", at=at)


def mijnoverheid_kpis(ctx: Context) -> dict[str, Kpi]:
    """Every MijnOverheid KPI of R18, R19 and R23 (interfaces.md "MijnOverheid KPIs, exactly")."""
    limits: MijnOverheidLimits | None = ctx.norms.mijnoverheid
    if limits is None:
        return {}
    out: dict[str, Kpi] = {}
    month_end_k = instant_key(ctx.month.end)

    # Messages (by received_at).
    msg_rows = list(ctx.rows("message_second"))
    msg_counts = [(k[3], v[0]) for k, v in msg_rows]
    out["messages_peak_per_day"] = _peak_kpi(msg_counts, "day", limits.messages_per_day)
    out["messages_peak_per_hour"] = _peak_kpi(msg_counts, "hour", limits.messages_per_hour)
    out["messages_peak_per_second"] = _peak_kpi(msg_counts, "second", limits.messages_per_second)

    limit_us = round(limits.message_processing_hours * 3_600_000_000)
    processed = within = late_pending = pending = 0
    for k, v in msg_rows:
        processed += v[5]
        within += v[6]
        if v[7]:
            pending += v[7]
            # Second resolution: a message received in second t passed its limit when t + limit < month end.
            if instant_key(k[3]) + limit_us < month_end_k:
                late_pending += v[7]
    count = processed + late_pending
    out["messages_within_24h"] = judged(
        share(within, count),
        limits.message_processing_norm,
        "ge",
        unit="%",
        count=count,
        within=within,
        pending_past_limit=late_pending,
        pending_within_limit=pending - late_pending,
    )

    total = sum(v[0] for _, v in msg_rows)
    with_attachment = sum(v[3] for _, v in msg_rows)
    over = sum(v[4] for _, v in msg_rows)
    out["attachments_share"] = judged(
        share(with_attachment, total),
        limits.attachments_share_max,
        "le",
        unit="%",
        count=total,
        with_attachment=with_attachment,
    )
    out["attachments_over_500kb"] = judged(
        over if total else None,
        limits.attachments_over_max,
        "le",
        unit="count",
        count=total,
        limit_bytes=limits.attachment_bytes_max,
    )

    # Notifications (by queued_at).
    notif_counts = [(k[3], v[0]) for k, v in ctx.rows("notification_minute")]
    out["notifications_peak_per_hour"] = _peak_kpi(notif_counts, "hour", limits.notifications_per_hour)
    out["notifications_peak_per_day"] = _peak_kpi(notif_counts, "day", limits.notifications_per_day)
    order_rows = [(k[3], k[5], k[4], v[0]) for k, v in ctx.rows("notification_order")]
    out["notifications_out_of_order"] = judged(
        notifications_out_of_order(order_rows) if order_rows else None,
        limits.notifications_out_of_order,
        "le",
        unit="count",
        compared=sum(r[3] for r in order_rows),
    )

    # API requests (by received_at).
    per_api: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for k, v in ctx.rows("api_minute"):
        per_api[k[4]].append((k[3], v[0], v[1]))

    def api_share(apis: Iterable[str], norm: float, **extra: object) -> Kpi:
        n = w = 0
        for api in apis:
            for _, c, wi in per_api.get(api, []):
                n += c
                w += wi
        return judged(share(w, n), norm, "ge", unit="%", count=n, within=w, **extra)

    out["berichtpresentatie_within_200ms"] = api_share(
        ["berichtpresentatie"], limits.berichtpresentatie_norm, limit_ms=limits.berichtpresentatie_ms
    )
    out["validatieservice_peak_per_hour"] = _peak_kpi(
        [(t, c) for t, c, _ in per_api.get("validatieservice", [])], "hour", limits.validatieservice_per_hour
    )
    out["validatieservice_within_30s"] = api_share(
        ["validatieservice"], limits.validatieservice_norm, limit_seconds=limits.validatieservice_seconds
    )
    out["abonnement_within_4h"] = api_share(
        _ABONNEMENT, limits.abonnement_norm, limit_hours=limits.abonnement_hours
    )

    night = limits.abonnement_night
    items = []
    any_rows = False
    for api in _ABONNEMENT:
        per_night: dict[date, int] = defaultdict(int)
        for t, c, _ in per_api.get(api, []):
            any_rows = True
            d = night_of(t, night.from_, night.to)
            if d is not None:
                per_night[d] += c
        norm = limits.abonnement_per_night[api]
        if per_night:
            d, n = min(per_night.items(), key=lambda kv: (-kv[1], kv[0]))
            at = datetime.combine(d, night.from_, tzinfo=TZ).isoformat()
            items.append(
                {
                    "api": api,
                    "value": n,
                    "norm": norm,
                    "night": d.isoformat(),
                    "at": at,
                    "status": "met" if n <= norm else "breached",
                }
            )
        else:
            items.append({"api": api, "value": 0, "norm": norm, "night": None, "at": None, "status": "met"})
    if any_rows:
        breached = any(i["status"] == "breached" for i in items)
        out["abonnement_peak_per_night"] = Kpi(
            value=max(i["value"] for i in items),
            norm=None,
            unit="per night",
            status="breached" if breached else "met",
            items=items,
        )
    else:
        out["abonnement_peak_per_night"] = no_data(unit="per night", items=items)

    # Forecasts (R19): |actual − forecast| / forecast × 100 per afnemer with a forecast for the month.
    actual: dict[str, int] = defaultdict(int)
    for k, v in msg_rows:
        actual[k[2]] += v[0]
    month_key = str(ctx.month)
    f_items = []
    for (svc, env, afnemer, m), forecast in sorted(ctx.snapshots.forecasts.items()):
        if svc != ctx.service or env != ctx.environment or m != month_key:
            continue
        a = actual.get(afnemer, 0)
        deviation = abs(a - forecast) / forecast * 100.0 if forecast > 0 else (0.0 if a == 0 else None)
        f_items.append(
            {
                "afnemer_id": afnemer,
                "forecast": forecast,
                "actual": a,
                "value": deviation,
                "status": "met"
                if deviation is not None and round(deviation, 4) <= limits.forecast_deviation_max
                else "breached",
            }
        )
    if f_items:
        finite = [i["value"] for i in f_items if i["value"] is not None]
        breached = any(i["status"] == "breached" for i in f_items)
        out["forecast_deviation"] = (
            Kpi(
                value=max(finite) if finite else None,
                norm=limits.forecast_deviation_max,
                unit="%",
                status="breached" if breached else "met",
                items=f_items,
            )
            if finite or breached
            else no_data(norm=limits.forecast_deviation_max, unit="%")
        )
    else:
        out["forecast_deviation"] = no_data(norm=limits.forecast_deviation_max, unit="%", items=[])

    # Daily counts per afnemer (R23).
    daily: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for k, v in msg_rows:
        row = daily[(_day(k[3]), k[2])]
        row[0] += v[0]
        row[1] += v[5]
        row[2] += v[2]
    d_items = [
        {"date": d.isoformat(), "afnemer_id": a, "offered": r[0], "processed": r[1], "rejected": r[2]}
        for (d, a), r in sorted(daily.items())
    ]
    afnemers = sorted({a for _, a in daily if a})
    out["messages_per_afnemer"] = info(
        len(afnemers) if msg_rows else None,
        unit="afnemers",
        messages_offered=total,
        messages_processed=processed,
        messages_rejected=sum(v[2] for _, v in msg_rows),
        items=d_items,
    )
    return out
