"""MijnOverheid production limits, forecasts and daily counts per afnemer (R18, R19, R23).

Definitions follow docs/interfaces.md "MijnOverheid KPIs, exactly": counts are over events of the month by
the named instant, in Europe/Amsterdam calendar units; a peak KPI is the highest count in one unit with
``at`` = the unit's start; a share KPI has ``count`` and ``within``.

The KPIs are judged from :class:`MijnOverheidMeasures`: the month's bucket rows summed down to what the
KPIs read. A full month holds millions of per-second message rows and exact notification instants, too
many to bring into Python for a report, so the report has ClickHouse do the reduction
(``sno.report.load``); :func:`mijnoverheid_measures` does the same reduction on
:class:`~sno.core.buckets.MonthInputs` for the reference evaluation, and tests hold the two equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from sno.core.buckets import notifications_out_of_order
from sno.core.calendar import TZ
from sno.core.catalogue import MijnOverheidLimits, Window
from sno.core.intervals import instant_key
from sno.core.kpi import Kpi, info, judged, no_data, share, within_share
from sno.core.rules.common import Context, local_iso

__all__ = [
    "ABONNEMENT_APIS",
    "AfnemerMonth",
    "MessageTotals",
    "MijnOverheidMeasures",
    "abonnement_nights",
    "afnemer_months",
    "mijnoverheid_kpis",
    "mijnoverheid_measures",
    "night_of",
    "not_all_processed",
    "per_hour",
]

#: The three Abonnementservice apis, judged together for throughput and per api per night (R18).
ABONNEMENT_APIS = ("abonnement-alles", "abonnement-bsn-lijst", "abonnement-mutatiebasis")

_K = TypeVar("_K", bound=Hashable)


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


@dataclass(frozen=True)
class MessageTotals:
    """The month's Berichtenbox messages summed over every second and afnemer (R18, R23).

    ``pending_past_limit`` are the pending messages whose second plus the processing limit lies before the
    month's end: docs/interfaces.md counts those as not within 24 h, and a younger pending one not at all.
    """

    count: int = 0
    rejected: int = 0
    with_attachment: int = 0
    over_bytes: int = 0
    processed: int = 0
    processed_within: int = 0
    pending: int = 0
    pending_past_limit: int = 0


@dataclass(frozen=True)
class MijnOverheidMeasures:
    """Everything the MijnOverheid KPIs of one month read, already summed (R18, R19, R23).

    Each field is as small as its KPI allows: the clock-hour series give the hourly and daily peaks (a UTC
    hour lies in one local day, R1), the busiest second is found where the seconds are, and the order of
    notifications is judged where their instants are. Sequences are sorted, so two equal months give equal
    objects whichever path summed them. Instants are aware UTC.
    """

    messages: MessageTotals
    #: (UTC hour start, messages received in it), ascending.
    messages_per_hour: tuple[tuple[datetime, int], ...]
    #: The second with the most messages received (the earliest on a tie) and its count; None without any.
    messages_peak_second: tuple[datetime, int] | None
    #: (local day, afnemer_id, offered, processed, rejected), ascending (R23).
    messages_per_day: tuple[tuple[date, str, int, int, int], ...]
    #: (UTC hour start, notifications queued in it), ascending.
    notifications_per_hour: tuple[tuple[datetime, int], ...]
    #: Sent notifications sent before one queued earlier on their channel; None when none was sent.
    notifications_out_of_order: int | None
    #: Sent notifications compared for the order.
    notifications_compared: int
    #: (api, UTC hour start, requests, requests within the api's limit), ascending.
    api_per_hour: tuple[tuple[str, datetime, int, int], ...]
    #: (abonnement api, night's date, requests received in that night), ascending.
    abonnement_per_night: tuple[tuple[str, date, int], ...]


def per_hour(counts: Iterable[tuple[datetime, int]]) -> tuple[tuple[datetime, int], ...]:
    """Counts of UTC instants summed per clock hour (R1, R18), ascending."""
    per: dict[datetime, int] = defaultdict(int)
    for t, n in counts:
        per[_hour(t)] += n
    return tuple(sorted(per.items()))


def abonnement_nights(
    rows: Iterable[tuple[str, datetime, int]], night: Window
) -> tuple[tuple[str, date, int], ...]:
    """Abonnementservice requests (api, received minute, count) summed per api and night (R18): the night
    window runs 23:00–07:00 and belongs to the date it starts on; requests outside it count in no night."""
    per: dict[tuple[str, date], int] = defaultdict(int)
    for api, t, n in rows:
        if api not in ABONNEMENT_APIS:
            continue
        d = night_of(t, night.from_, night.to)
        if d is not None:
            per[(api, d)] += n
    return tuple((api, d, n) for (api, d), n in sorted(per.items()))


def mijnoverheid_measures(ctx: Context) -> MijnOverheidMeasures:
    """The month's measures from its bucket rows (R18, R19, R23): the reference for the ones ClickHouse
    sums for the report. Needs a SNO version with MijnOverheid limits (the processing limit and the
    Abonnementservice night are part of the measures)."""
    limits = ctx.norms.mijnoverheid
    if limits is None:
        raise ValueError(f"SNO {ctx.norms.version} has no MijnOverheid limits to measure against")
    month_end_k = instant_key(ctx.month.end)
    limit_us = limits.message_processing_limit_us

    totals = [0] * 8
    seconds: dict[datetime, int] = defaultdict(int)
    daily: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for k, v in ctx.rows("message_second"):
        second, afnemer = k[3], k[2]
        for i, j in enumerate((0, 2, 3, 4, 5, 6, 7)):
            totals[i] += v[j]
        # Second resolution: a message received in second t passed its limit when t + limit < month end.
        if v[7] and instant_key(second) + limit_us < month_end_k:
            totals[7] += v[7]
        seconds[second] += v[0]
        row = daily[(_day(second), afnemer)]
        row[0] += v[0]
        row[1] += v[5]
        row[2] += v[2]

    order_rows = [(k[3], k[5], k[4], v[0]) for k, v in ctx.rows("notification_order")]
    api_hours: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    api_minutes: list[tuple[str, datetime, int]] = []
    for k, v in ctx.rows("api_minute"):
        cell = api_hours[(k[4], _hour(k[3]))]
        cell[0] += v[0]
        cell[1] += v[1]
        api_minutes.append((k[4], k[3], v[0]))

    return MijnOverheidMeasures(
        messages=MessageTotals(*totals),
        messages_per_hour=per_hour(seconds.items()),
        messages_peak_second=_peak(seconds),
        messages_per_day=tuple((d, a, *r) for (d, a), r in sorted(daily.items())),  # type: ignore[misc]
        notifications_per_hour=per_hour((k[3], v[0]) for k, v in ctx.rows("notification_minute")),
        notifications_out_of_order=notifications_out_of_order(order_rows) if order_rows else None,
        notifications_compared=sum(r[3] for r in order_rows),
        api_per_hour=tuple((api, h, c, w) for (api, h), (c, w) in sorted(api_hours.items())),
        abonnement_per_night=abonnement_nights(api_minutes, limits.abonnement_night),
    )


@dataclass(frozen=True)
class AfnemerMonth:
    """One afnemer's month of R23's daily counts (the ``messages_per_afnemer`` items of that afnemer).

    ``offered`` is also the afnemer's actual of R19 (``forecast_deviation``). The busiest day is the day
    with the most messages offered, the earliest on a tie; ``days_not_all_processed`` counts the days for
    which :func:`not_all_processed` holds.
    """

    afnemer_id: str
    #: Local days with at least one message offered.
    days: int
    offered: int
    processed: int
    rejected: int
    #: ISO date of the busiest day, and the messages offered on it.
    busiest_date: str
    busiest_offered: int
    days_not_all_processed: int


def not_all_processed(item: Mapping[str, Any]) -> bool:
    """R23: on this day (a ``messages_per_afnemer`` item) not every message the afnemer offered was
    processed: some were rejected, or are still pending at the month's end. These are the days an afnemer
    has to act on (the SNO asks it to handle rejected messages, e.g. offer them again)."""
    return int(item["processed"]) < int(item["offered"])


def afnemer_months(items: Iterable[Mapping[str, Any]]) -> tuple[AfnemerMonth, ...]:
    """The ``messages_per_afnemer`` items (one per local day and afnemer, R23) summed per afnemer over the
    month, ordered by afnemer id: what the report shows people per afnemer, and R19's actual."""
    per: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        per[str(item["afnemer_id"])].append(item)
    out = []
    for afnemer in sorted(per):
        days = per[afnemer]
        busiest = min(days, key=lambda i: (-int(i["offered"]), str(i["date"])))  # earliest on a tie
        out.append(
            AfnemerMonth(
                afnemer_id=afnemer,
                days=len({str(i["date"]) for i in days}),
                offered=sum(int(i["offered"]) for i in days),
                processed=sum(int(i["processed"]) for i in days),
                rejected=sum(int(i["rejected"]) for i in days),
                busiest_date=str(busiest["date"]),
                busiest_offered=int(busiest["offered"]),
                days_not_all_processed=sum(1 for i in days if not_all_processed(i)),
            )
        )
    return tuple(out)


def _peak(per: Mapping[_K, int]) -> tuple[_K, int] | None:
    if not per:
        return None
    # Highest count; on a tie the earliest unit.
    return min(per.items(), key=lambda kv: (-kv[1], kv[0]))  # type: ignore[operator]


def _peak_kpi(found: tuple[datetime, int] | tuple[date, int] | None, unit: str, norm: int) -> Kpi:
    if found is None:
        return judged(None, norm, "le", unit=f"per {unit}")
    when, value = found
    at = _day_start(when).isoformat() if unit == "day" else local_iso(when)  # type: ignore[arg-type]
    return judged(value, norm, "le", unit=f"per {unit}", at=at)


def _daily_peak(hours: Iterable[tuple[datetime, int]]) -> tuple[date, int] | None:
    per: dict[date, int] = defaultdict(int)
    for h, n in hours:
        per[_day(h)] += n
    return _peak(per)


def mijnoverheid_kpis(ctx: Context, measures: MijnOverheidMeasures | None = None) -> dict[str, Kpi]:
    """Every MijnOverheid KPI of R18, R19 and R23 (docs/interfaces.md "MijnOverheid KPIs, exactly").

    ``measures`` are the month's figures summed elsewhere (the report's ClickHouse queries); without them
    they are summed here from the context's bucket rows (:func:`mijnoverheid_measures`).
    """
    limits: MijnOverheidLimits | None = ctx.norms.mijnoverheid
    if limits is None:
        return {}
    m = mijnoverheid_measures(ctx) if measures is None else measures
    msg = m.messages
    out: dict[str, Kpi] = {}

    # Messages (by received_at).
    out["messages_peak_per_day"] = _peak_kpi(_daily_peak(m.messages_per_hour), "day", limits.messages_per_day)
    out["messages_peak_per_hour"] = _peak_kpi(
        _peak(dict(m.messages_per_hour)), "hour", limits.messages_per_hour
    )
    out["messages_peak_per_second"] = _peak_kpi(m.messages_peak_second, "second", limits.messages_per_second)

    count = msg.processed + msg.pending_past_limit
    out["messages_within_24h"] = within_share(
        msg.processed_within,
        count,
        limits.message_processing_norm,
        pending_past_limit=msg.pending_past_limit,
        pending_within_limit=msg.pending - msg.pending_past_limit,
    )
    out["attachments_share"] = judged(
        share(msg.with_attachment, msg.count),
        limits.attachments_share_max,
        "le",
        unit="%",
        count=msg.count,
        with_attachment=msg.with_attachment,
    )
    out["attachments_over_500kb"] = judged(
        msg.over_bytes if msg.count else None,
        limits.attachments_over_max,
        "le",
        unit="count",
        count=msg.count,
        limit_bytes=limits.attachment_bytes_max,
    )

    # Notifications (by queued_at).
    out["notifications_peak_per_hour"] = _peak_kpi(
        _peak(dict(m.notifications_per_hour)), "hour", limits.notifications_per_hour
    )
    out["notifications_peak_per_day"] = _peak_kpi(
        _daily_peak(m.notifications_per_hour), "day", limits.notifications_per_day
    )
    out["notifications_out_of_order"] = judged(
        m.notifications_out_of_order,
        limits.notifications_out_of_order,
        "le",
        unit="count",
        compared=m.notifications_compared,
    )

    # API requests (by received_at).
    per_api: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for api, h, c, w in m.api_per_hour:
        per_api[api].append((h, c, w))

    def api_share(apis: Iterable[str], norm: float, **extra: object) -> Kpi:
        n = w = 0
        for api in apis:
            for _, c, wi in per_api.get(api, []):
                n += c
                w += wi
        return within_share(w, n, norm, **extra)

    out["berichtpresentatie_within_200ms"] = api_share(
        ["berichtpresentatie"], limits.berichtpresentatie_norm, limit_ms=limits.berichtpresentatie_ms
    )
    validatie_hours: dict[datetime, int] = defaultdict(int)
    for h, c, _ in per_api.get("validatieservice", []):
        validatie_hours[h] += c
    out["validatieservice_peak_per_hour"] = _peak_kpi(
        _peak(validatie_hours), "hour", limits.validatieservice_per_hour
    )
    out["validatieservice_within_30s"] = api_share(
        ["validatieservice"], limits.validatieservice_norm, limit_seconds=limits.validatieservice_seconds
    )
    out["abonnement_within_4h"] = api_share(
        ABONNEMENT_APIS, limits.abonnement_norm, limit_hours=limits.abonnement_hours
    )

    night = limits.abonnement_night
    items = []
    for api in ABONNEMENT_APIS:
        per_night = {d: n for a, d, n in m.abonnement_per_night if a == api}
        norm = limits.abonnement_per_night[api]
        found = _peak(per_night)
        if found is not None:
            d, n = found
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
    if any(api in per_api for api in ABONNEMENT_APIS):
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

    # Daily counts per afnemer (R23).
    d_items = [
        {"date": d.isoformat(), "afnemer_id": a, "offered": o, "processed": p, "rejected": r}
        for d, a, o, p, r in m.messages_per_day
    ]

    # Forecasts (R19): |actual − forecast| / forecast × 100 per afnemer with a forecast for the month; the
    # actual is the afnemer's month of the daily counts (R23), summed in one place.
    actual = {a.afnemer_id: a.offered for a in afnemer_months(d_items)}
    month_key = str(ctx.month)
    f_items = []
    for (svc, env, afnemer, mk), forecast in sorted(ctx.snapshots.forecasts.items()):
        if svc != ctx.service or env != ctx.environment or mk != month_key:
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
                norm_comparison="le",  # each afnemer's deviation at most the norm (R19)
                items=f_items,
            )
            if finite or breached
            else judged(None, limits.forecast_deviation_max, "le", unit="%")
        )
    else:
        out["forecast_deviation"] = judged(None, limits.forecast_deviation_max, "le", unit="%", items=[])

    # Daily counts per afnemer (R23), their items made above.
    afnemers = sorted({a for _, a, *_ in m.messages_per_day if a})
    out["messages_per_afnemer"] = info(
        len(afnemers) if m.messages_per_day else None,
        unit="afnemers",
        messages_offered=msg.count,
        messages_processed=msg.processed,
        messages_rejected=msg.rejected,
        items=d_items,
    )
    return out
