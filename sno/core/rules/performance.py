"""Processing time, capacity and capacity management of DigiD and Machtigen (R14–R17)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sno.core.buckets import MonthInputs
from sno.core.calendar import Month
from sno.core.kpi import Kpi, info, judged, within_share
from sno.core.rules.common import Context, local_iso

__all__ = ["capacity_forecast_kpi", "performance_kpis"]


def _per_minute(ctx: Context) -> dict[datetime, list[int]]:
    minutes: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, (count, within, ms) in ctx.rows("auth_minute"):
        m = minutes[key[3]]
        m[0] += count
        m[1] += within
        m[2] += ms
    return minutes


def performance_kpis(ctx: Context) -> dict[str, Kpi]:
    """``volume``, ``peak_per_minute`` and ``processing_time`` (R14–R16).

    Minutes are calendar minutes of ``started_at``; in a minute above the capacity the SNO does not
    apply, so its events leave the processing-time KPI (R16). Within-limit was decided per event with
    the comparison of its SNO version (≤ 4 s DigiD, < 4 s Machtigen, R14).
    """
    perf = ctx.norms.performance
    if perf is None:
        return {}
    minutes = _per_minute(ctx)
    capacity = perf.capacity_per_minute
    out: dict[str, Kpi] = {}
    total = sum(m[0] for m in minutes.values())
    out["volume"] = info(total, unit="count")
    over = sorted(t for t, m in minutes.items() if m[0] > capacity)
    if minutes:
        peak_t, peak = max(minutes.items(), key=lambda kv: (kv[1][0], -kv[0].timestamp()))
        out["peak_per_minute"] = judged(
            peak[0],
            capacity,
            "le",
            unit="per minute",
            at=local_iso(peak_t),
            minutes_over=len(over),
            over=[local_iso(t) for t in over[:100]],
        )
    else:
        out["peak_per_minute"] = judged(None, capacity, "le", unit="per minute", minutes_over=0)
    count = within = ms = 0
    for _t, m in minutes.items():
        if m[0] > capacity:
            continue
        count += m[0]
        within += m[1]
        ms += m[2]
    excluded = total - count
    out["processing_time"] = within_share(
        within,
        count,
        perf.processing_norm,
        mean_seconds=(ms / count / 1000.0) if count else None,
        limit_seconds=perf.processing_limit_seconds,
        comparison=perf.processing_comparison,
        excluded_over_capacity=excluded,
    )
    return out


def capacity_forecast_kpi(ctx: Context) -> dict[str, Kpi]:
    """``capacity_forecast_afnemers``: afnemers above an R17 threshold (a year, one month, one minute).

    Year figures come from ``year_inputs`` (the calendar year up to the month's end) when given,
    otherwise from the month alone (``year_complete: false``). Events without afnemer are not attributed.
    """
    thresholds = ctx.norms.capacity_forecast
    if thresholds is None:
        return {}
    year_start = Month(ctx.month.year, 1).start
    source: MonthInputs = ctx.year_inputs if ctx.year_inputs is not None else ctx.inputs
    start = year_start if ctx.year_inputs is not None else ctx.month.start
    per_afnemer_year: dict[str, int] = defaultdict(int)
    per_afnemer_month: dict[tuple[str, Month], int] = defaultdict(int)
    per_afnemer_peak: dict[str, int] = defaultdict(int)
    per_afnemer_minute: dict[tuple[str, datetime], int] = defaultdict(int)
    for key, values in source.select("auth_minute", ctx.service, ctx.environment, start, ctx.month.end):
        afnemer = key[2]
        if not afnemer:
            continue
        per_afnemer_year[afnemer] += values[0]
        per_afnemer_month[(afnemer, Month.of(key[3]))] += values[0]
        per_afnemer_minute[(afnemer, key[3])] += values[0]
    for (afnemer, _), n in per_afnemer_minute.items():
        per_afnemer_peak[afnemer] = max(per_afnemer_peak[afnemer], n)
    max_month: dict[str, int] = defaultdict(int)
    for (afnemer, _), n in per_afnemer_month.items():
        max_month[afnemer] = max(max_month[afnemer], n)
    items = []
    for afnemer in sorted(per_afnemer_year):
        over = []
        if per_afnemer_year[afnemer] > thresholds.per_year:
            over.append("year")
        if max_month[afnemer] > thresholds.per_month:
            over.append("month")
        if per_afnemer_peak[afnemer] > thresholds.peak_per_minute:
            over.append("peak_per_minute")
        if over:
            items.append(
                {
                    "afnemer_id": afnemer,
                    "year_total": per_afnemer_year[afnemer],
                    "max_month_total": max_month[afnemer],
                    "peak_per_minute": per_afnemer_peak[afnemer],
                    "over": over,
                }
            )
    return {
        "capacity_forecast_afnemers": info(
            len(items),
            unit="afnemers",
            items=items,
            year_complete=ctx.year_inputs is not None,
            thresholds={
                "per_year": thresholds.per_year,
                "per_month": thresholds.per_month,
                "peak_per_minute": thresholds.peak_per_minute,
            },
        )
    }
