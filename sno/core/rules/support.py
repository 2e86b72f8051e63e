"""Citizen support (R20) and afnemer questions and complaints (R21)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sno.core.calendar import TZ
from sno.core.catalogue import WrittenSupport
from sno.core.intervals import instant_key
from sno.core.kpi import Kpi, judged, share, within_share
from sno.core.rules.common import Context

__all__ = ["support_kpis"]

# support_day values: count, answered, abandoned, within, within_long, satisfaction_sum, satisfaction_count


def _written(
    ctx: Context, norms: WrittenSupport, rows: list[tuple[tuple, list[int]]]
) -> tuple[int, int, int]:
    """(count, within, unanswered past deadline) of written contacts (R20, R21).

    An answered contact counts; an unanswered one counts as not within once its deadline (the end of the
    ``workdays``-th workday after the day of receipt) has passed by the month's end, and not before.
    """
    count = within = late = 0
    end_k = instant_key(ctx.month.end)
    for key, v in rows:
        if key[4] not in norms.channels or key[5] not in norms.kinds:
            continue
        day: date = key[3]
        count += v[1]
        within += v[3]
        unanswered = v[0] - v[1]
        if unanswered:
            deadline = ctx.calendar.add_workdays(day, norms.workdays) + timedelta(days=1)
            if instant_key(datetime(deadline.year, deadline.month, deadline.day, tzinfo=TZ)) <= end_k:
                count += unanswered
                late += unanswered
    return count, within, late


def support_kpis(ctx: Context) -> dict[str, Kpi]:
    """``support_phone_*``, ``support_written_answer_time`` and ``support_afnemer_answer_time`` (R20, R21).

    Phone shares are over all calls received (an abandoned call was not answered in time); the abandon
    rate is abandoned calls over all calls; satisfaction is the mean score, judged strictly above the norm.
    """
    support = ctx.norms.support
    rows = list(ctx.rows("support_day"))
    phone = [0] * 7
    for key, v in rows:
        if key[4] == "phone":
            for i, x in enumerate(v):
                phone[i] += x
    calls = phone[0]
    p = support.phone
    out: dict[str, Kpi] = {}
    out["support_phone_answer_time"] = within_share(
        phone[3], calls, p.answer_norm, threshold_seconds=p.answer_seconds
    )
    if p.answer_long_seconds is not None and p.answer_long_norm is not None:
        out["support_phone_answer_time_long"] = within_share(
            phone[4], calls, p.answer_long_norm, threshold_seconds=p.answer_long_seconds
        )
    out["support_phone_abandon_rate"] = judged(
        share(phone[2], calls), p.abandon_max, "le", unit="%", count=calls, abandoned=phone[2]
    )
    out["support_phone_satisfaction"] = judged(
        phone[5] / phone[6] if phone[6] else None,
        p.satisfaction_above,
        "gt",
        unit="score 1-10",
        count=phone[6],
    )
    for kpi_id, norms in (
        ("support_written_answer_time", support.written),
        ("support_afnemer_answer_time", support.afnemer),
    ):
        count, within, late = _written(ctx, norms, rows)
        out[kpi_id] = within_share(
            within,
            count,
            norms.norm,
            unanswered_past_deadline=late,
            threshold_workdays=norms.workdays,
            channels=list(norms.channels),
        )
    return out
