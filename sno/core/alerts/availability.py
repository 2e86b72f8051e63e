"""``availability_budget`` (R6–R9, R16): the month's unavailability budget, judged on the month's own
timeline of outage and maintenance snapshots.

The group is one service, environment and month. For each knowledge state the core's
``availability_kpis`` says what counts, exactly as the report does: H and M of the whole month (planned
maintenance still to come included), which outages count as U (R8 causes, R9 maintenance, R16 minutes
over capacity, from the capacity rule). Budget = (H − M) × (100 − norm) %, in minutes. Claims:

- ``outage ID``: a counted outage, from ``started_at`` to ``ended_at`` (page).
- ``YYYY-MM budget``: from the instant U passes the budget to the month's end (page).
- ``YYYY-MM projection``: from the first whole hour (``projection_every_minutes``) at which U at the
  month's rate so far would exceed the budget (after ``projection_min_elapsed_hours`` of the window)
  to the first at which it no longer would (or the month's end) (ticket).

When U accrued is read from the unavailability set built from the same core functions the KPI uses
(``window_of``, ``classify_maintenance``, the outages the KPI counts, the capacity minutes), and the
set's total is checked against the KPI's ``unavailable_hours``. (www.digid.nl: `` website`` subjects.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sno.core.alerts.capacity import MINUTE_US, AuthMinutes
from sno.core.alerts.clock import EventClock
from sno.core.alerts.emit import NAMES
from sno.core.alerts.entity import TimelineRule
from sno.core.alerts.model import Alert, MonthSubject, OutageSubject, Subject, at_key
from sno.core.alerts.timeline import Claim, Group, Key, Transition
from sno.core.buckets import MonthInputs
from sno.core.calendar import Month
from sno.core.intervals import Interval, instant_key, intersect, subtract, union
from sno.core.rules.availability import availability_kpis, capacity_minutes, classify_maintenance, window_of
from sno.core.rules.common import Context
from sno.core.snapshots import Snapshots

__all__ = ["AvailabilityBudget"]

log = logging.getLogger(__name__)
#: the stream whose minutes over capacity a service's availability leaves out (R16)
_CAPACITY_TOPIC = {"digid": "sno.authentications", "digid-machtigen": "sno.transactions"}
_NEVER = -(2**62)
_Spans = list[tuple[int, int]]


def _keys(intervals: list[Interval]) -> _Spans:
    return [(instant_key(a), instant_key(b)) for a, b in intervals]


def _upto(spans: _Spans, t: int) -> int:
    """µs of ``spans`` (sorted, disjoint) before ``t``."""
    return sum(min(b, t) - a for a, b in spans if a < t)


class AvailabilityBudget(TimelineRule):
    name = "availability_budget"
    topics = frozenset({"sno.outages", "sno.maintenance"})
    kinds = frozenset({"outage", "maintenance"})
    horizon = "close"  # the minutes over capacity before it are final (R16)

    def __init__(self, *args: Any, minutes: AuthMinutes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.minutes = minutes
        self.homes: dict[tuple[str, str, str], set[Key]] = {}

    # ---- groups -----------------------------------------------------------------------------------------

    def member(self, record: Mapping[str, Any]) -> str:
        kind = record["type"]
        return (
            ("o:" + str(record["outage_id"])) if kind == "outage" else ("m:" + str(record["maintenance_id"]))
        )

    def groups_of(self, record: Mapping[str, Any]) -> list[Key]:
        service, env = record["service"], record.get("environment") or "production"
        if record["type"] == "outage":
            first = record["started_at"]
            last = record.get("ended_at") or max(record["started_at"], record["updated_at"], key=instant_key)
        else:
            first, last = record["starts_at"], record["ends_at"]
        home = self.homes.setdefault((service, env, self.member(record)), set())
        month, end = Month.of(first), Month.of(last)
        while month <= end:
            home.add((service, env, str(month)))
            month = month.next()
        return sorted(home)

    def group_of_alert(
        self, service: str, environment: str, subject: Subject | None, text: str
    ) -> Key | None:
        if isinstance(subject, MonthSubject):
            return (service, environment, subject.month)
        oid = (
            subject.outage
            if isinstance(subject, OutageSubject)
            else text.removeprefix("outage ").split(" ")[0]
        )
        homes = self.homes.get((service, environment, "o:" + oid))
        if homes:
            return max(homes)
        return (service, environment, text[:7]) if text[:4].isdigit() else None

    def cap(self, group: Group, clock: EventClock) -> int | None:
        """Minutes over capacity leave U (R16), so nothing is sent beyond the close horizon of the stream
        that counts them, once that stream is known (or everything is quiet: none is coming)."""
        topic = _CAPACITY_TOPIC.get(group.service)
        if topic is None:
            return None
        close = clock.close_of((topic,))
        if close is None:
            return clock.time if clock.quiet() else _NEVER
        return close

    def ended(self, group: Group) -> int | None:
        if any(r["type"] == "outage" and r.get("ended_at") is None for r in group.latest.values()):
            return None
        return instant_key(Month.parse(group.key[2]).next().end)

    # ---- claims -----------------------------------------------------------------------------------------

    def _context(self, group: Group, know: dict[str, dict[str, Any]]) -> Context | None:
        month = Month.parse(group.key[2])
        norms = self.catalogue.norms_for(group.service, month.year, month.month)
        if norms is None:
            return None
        snaps = Snapshots()
        for record in know.values():
            snaps.add(record)
        inputs = MonthInputs()
        start, end = instant_key(month.start), instant_key(month.end)
        for minute in sorted(self.minutes.over.get((group.service, group.environment), ())):
            if start <= minute < end:
                cap = self.minutes.capacity(group.service, minute) or 0
                inputs.add(
                    "auth_minute", (group.service, group.environment, "", at_key(minute)), (cap + 1, 0, 0)
                )
        return Context(group.service, group.environment, month, norms, inputs, snaps)

    def _unavailable(self, ctx: Context, website: bool) -> tuple[_Spans, _Spans, _Spans]:
        """U, the window and M as spans, from the core's sets, composed as the KPI composes them (R6–R9)."""
        norms, month = ctx.norms, ctx.month
        avail = norms.availability["website" if website else ctx.environment]
        window = window_of(ctx.calendar, avail.window, month.start, month.end)
        verdicts = classify_maintenance(ctx)
        m_set = intersect(union(iv for v in verdicts for iv in v.m), window)
        excluded = set(norms.excluded_causes)
        split = "website" in norms.availability
        counted: list[Interval] = []
        for o in ctx.snapshots_of("outage"):
            if (split and (o.get("function") == "website") != website) or o.get("cause") in excluded:
                continue
            counted.append(Interval(o["started_at"], o.get("ended_at") or month.end))
        capacity: list[Interval] = []
        if not website:  # maintenance as U and minutes over capacity concern the service only (R7, R16)
            counted += [iv for v in verdicts for iv in v.u]
            capacity = capacity_minutes(ctx)
        u_set = subtract(subtract(intersect(union(counted), window), m_set), capacity)
        return _keys(u_set), _keys(window), _keys(m_set)

    def claims(self, group: Group, know: dict[str, dict[str, Any]], u: int) -> dict[Subject, Claim]:
        ctx = self._context(group, know)
        if ctx is None:
            return {}
        rule = self.rules.availability_budget
        month = ctx.month
        month_end = instant_key(month.end)
        kpis = availability_kpis(ctx)
        out: dict[Subject, Claim] = {}
        for kpi_id, website in (("availability", False), ("availability_website", True)):
            kpi = kpis.get(kpi_id)
            if kpi is None or kpi.status == "no_data" or kpi.norm is None:
                continue
            extra = kpi.model_extra or {}
            h, m, norm = float(extra["hours"]), float(extra["maintenance_hours"]), float(kpi.norm)
            budget = round((h - m) * (100.0 - norm) / 100.0 * 60, 1)
            spans, window, m_spans = self._unavailable(ctx, website)
            total = sum(b - a for a, b in spans)
            if abs(total / 3.6e9 - float(extra["unavailable_hours"])) > 1e-3:
                log.warning(
                    "availability profile of %s differs from the KPI: %.4f h vs %.4f h",
                    group.key,
                    total / 3.6e9,
                    extra["unavailable_hours"],
                )
            data = {"budget": budget, "norm": norm, "spans": spans, "website": website, "hours": h - m}
            for item in extra.get("items", []):
                if item.get("kind") != "outage" or item.get("counted") != "U":
                    continue
                o = know["o:" + str(item["id"])]
                start, ended = instant_key(o["started_at"]), o.get("ended_at")
                out[OutageSubject(str(item["id"]), website)] = Claim(
                    start,
                    instant_key(ended) if ended is not None else None,
                    start <= u,
                    rule.ongoing_severity,
                    {**data, "afnemer_id": o.get("afnemer_id")},
                )
            need = round(budget * 60e6)
            if total > need:
                acc, when = 0, month_end
                for a, b in spans:
                    if acc + (b - a) > need:
                        when = a + (need - acc)
                        break
                    acc += b - a
                out[MonthSubject(str(month), "budget", website)] = Claim(
                    when, month_end, False, rule.exhausted_severity, data
                )
            hot = self._projection(month, spans, window, m_spans, h - m, budget)
            if hot is not None:
                out[MonthSubject(str(month), "projection", website)] = Claim(
                    hot[0], hot[1], False, rule.projection_severity, data
                )
        return out

    def _projection(
        self, month: Month, spans: _Spans, window: _Spans, m_spans: _Spans, hm: float, budget: float
    ) -> tuple[int, int] | None:
        """The first grid instant at which U at the rate so far projects over the budget, and the first
        after it at which it no longer does while budget remains (R6)."""
        rule = self.rules.availability_budget
        if not spans:
            return None
        step = rule.projection_every_minutes * MINUTE_US
        start, end = instant_key(month.start), instant_key(month.end)
        fired: int | None = None
        # Whole intervals from the month's start (local midnight: the local clock's hours); before the first
        # unavailable instant nothing has been used, so nothing can project.
        g = start + ((spans[0][0] - start) // step + 1) * step
        while g <= end:
            used = _upto(spans, g) / 60e6
            elapsed = (_upto(window, g) - _upto(m_spans, g)) / 3.6e9
            remaining = round(budget - used, 1)
            projected = used / elapsed * hm if elapsed > 0 else 0.0
            hot = (
                used > 0
                and remaining > 0
                and elapsed >= rule.projection_min_elapsed_hours
                and projected > budget
            )
            if fired is None and hot:
                fired = g
            elif fired is not None and not hot and remaining > 0:
                return fired, g
            g += step
        return (fired, end) if fired is not None else None

    # ---- text -------------------------------------------------------------------------------------------

    def describe(self, group: Group, tr: Transition) -> tuple[float | int | None, float | int | None, str]:
        d = tr.claim.data
        budget, norm = d["budget"], d["norm"]
        remaining = round(budget - _upto(d["spans"], tr.at) / 60e6, 1)
        name = NAMES.get(group.service, group.service) + (" (www.digid.nl)" if d["website"] else "")
        env, subject = group.environment, tr.subject
        if tr.how == "superseded":
            return (
                remaining,
                budget,
                f"{subject.text} of {name} {env}: a later snapshot (at "
                f"{at_key(tr.at):%Y-%m-%d %H:%M}) no longer shows this (cause, end or maintenance "
                "changed, R8).",
            )
        if isinstance(subject, OutageSubject):
            oid = subject.outage
            if tr.state == "firing":
                return (
                    remaining,
                    budget,
                    f"Outage {oid} of {name} {env} is ongoing and counts as unavailability "
                    f"(R8); {remaining:.0f} of the month's {budget:.0f} minutes of budget remain (norm "
                    f"{norm:g} %, R6).",
                )
            return (
                remaining,
                budget,
                f"Outage {oid} of {name} {env} has ended; {remaining:.0f} of {budget:.0f} "
                "minutes of budget remain (R6, R8).",
            )
        assert isinstance(subject, MonthSubject)
        if subject.what == "budget":
            if tr.state == "firing":
                return (
                    remaining,
                    budget,
                    f"{name} {env} has used its whole unavailability budget for "
                    f"{subject.month}: {budget:.0f} minutes allowed, so its availability norm of {norm:g} % "
                    "is breached (R6).",
                )
            return (remaining, budget, f"The month {subject.month} of {name} {env} has ended (R2, R6).")
        if tr.state == "firing":
            return (
                remaining,
                budget,
                f"At its rate so far {name} {env} would be unavailable for more than the "
                f"{budget:.0f} minutes its norm of {norm:g} % allows in {subject.month}; {remaining:.0f} "
                "minutes remain (R6).",
            )
        return (
            remaining,
            budget,
            f"At its rate so far {name} {env} stays within its unavailability budget for "
            f"{subject.month}, or the month has ended: {remaining:.0f} of {budget:.0f} minutes remain (R6).",
        )

    # ---- time --------------------------------------------------------------------------------------------

    def advance(self, clock: EventClock) -> list[Alert]:
        for service, env, month in sorted(self.minutes.changed):  # minutes over capacity leave U (R16)
            group = self.groups.get((service, env, month))
            if group is not None:
                group.invalidate()
        self.minutes.changed.clear()
        if clock.time is not None:  # an outage still ongoing at a month's end goes on in the next month
            for key, group in list(self.groups.items()):
                if instant_key(Month.parse(key[2]).end) > clock.time:
                    continue
                for member, record in group.latest.items():
                    if record["type"] == "outage" and record.get("ended_at") is None:
                        nxt = (key[0], key[1], str(Month.parse(key[2]).next()))
                        self.homes.setdefault((key[0], key[1], member), set()).add(nxt)
                        self._group(nxt, record).add(member, instant_key(record["updated_at"]), record)
        return super().advance(clock)
