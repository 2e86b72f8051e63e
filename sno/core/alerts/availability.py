"""``availability_budget`` (R6–R9, R16): the month's unavailability budget, judged on the month's own
timeline of outage and maintenance snapshots.

The group is one service, environment and month. For each knowledge state, H, M and U are the sets the
core defines them by — the availability window (``window_of``, R7), valid maintenance and maintenance
counted as U (``classify_maintenance``, R9), outages whose cause is not excluded (R8), minutes over
capacity (``capacity_minutes``, R16, from the capacity rule) — composed as R6 composes them (the same
sets ``availability_kpis`` measures; tests/test_alerts_order.py checks they give the report's figures).
H and M are the whole month's (planned maintenance still to come included). Budget = (H − M) × (100 −
norm) %, in minutes. Claims:

- ``outage ID``: an outage with time that counts as U, from ``started_at`` to ``ended_at`` (page).
- ``YYYY-MM budget``: from the instant U passes the budget to the month's end (page).
- ``YYYY-MM projection``: from the first whole hour (``projection_every_minutes``) at which U at the
  month's rate so far would exceed the budget (after ``projection_min_elapsed_hours`` of the window)
  to the first at which it no longer would while budget remains (or the month's end) (ticket).

www.digid.nl has its own window and norm (`` website`` subjects, R7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from sno.core.rules.availability import capacity_minutes, classify_maintenance, window_of
from sno.core.rules.common import Context
from sno.core.snapshots import Snapshots
from sno.core.topics import AUTH_TOPIC_OF_SERVICE

__all__ = ["AvailabilityBudget"]

#: the stream whose minutes over capacity a service's availability leaves out (R16)
_NEVER = -(2**62)
_Spans = list[tuple[int, int]]


def _keys(intervals: list[Interval]) -> _Spans:
    return [(instant_key(a), instant_key(b)) for a, b in intervals]


@dataclass(frozen=True)
class _Measure:
    """The month's availability as typed sets (µs spans) and the outages that count (R6–R9)."""

    u: _Spans
    window: _Spans
    m: _Spans
    norm: float
    outages: list[dict[str, Any]]

    @property
    def hours(self) -> float:
        return sum(b - a for a, b in self.window) / 3.6e9

    @property
    def maintenance_hours(self) -> float:
        return sum(b - a for a, b in self.m) / 3.6e9

    @property
    def unavailable_hours(self) -> float:
        return sum(b - a for a, b in self.u) / 3.6e9


def _upto(spans: _Spans, t: int) -> int:
    """µs of ``spans`` (sorted, disjoint) before ``t``."""
    return sum(min(b, t) - a for a, b in spans if a < t)


class AvailabilityBudget(TimelineRule):
    name = "availability_budget"
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

    def forgot(self, group: Group) -> None:
        self._forget_homes(self.homes, group)

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
        topic = AUTH_TOPIC_OF_SERVICE.get(group.service)
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

    def measure(self, ctx: Context, website: bool) -> _Measure | None:
        """H, M and U of the month as sets, from the core's own sets (``window_of`` R7,
        ``classify_maintenance`` R9, ``capacity_minutes`` R16, the norms' excluded causes R8), composed as
        R6 composes them: U = (counted outages ∪ maintenance counted as U) ∩ window − M − over capacity.
        None when the SNO states no window (or no norm) for it."""
        norms, month = ctx.norms, ctx.month
        split = "website" in norms.availability
        if website and (not split or ctx.environment != "production"):
            return None  # www.digid.nl has a production norm only (R7)
        avail = norms.availability.get("website" if website else ctx.environment)
        if avail is None or avail.norm is None:
            return None
        window = window_of(ctx.calendar, avail.window, month.start, month.end)
        verdicts = classify_maintenance(ctx)
        m_set = intersect(union(iv for v in verdicts for iv in v.m), window)
        excluded = set(norms.excluded_causes)
        outages: list[tuple[dict[str, Any], Interval]] = []
        for o in ctx.snapshots_of("outage"):
            if (split and (o.get("function") == "website") != website) or o.get("cause") in excluded:
                continue
            outages.append((o, Interval(o["started_at"], o.get("ended_at") or month.end)))
        counted = [iv for _o, iv in outages]
        capacity: list[Interval] = []
        if not website:  # maintenance as U and minutes over capacity concern the service only (R7, R16)
            counted += [iv for v in verdicts for iv in v.u]
            capacity = capacity_minutes(ctx)

        def unavailable(ivs: list[Interval]) -> list[Interval]:
            return subtract(subtract(intersect(union(ivs), window), m_set), capacity)

        return _Measure(
            u=_keys(unavailable(counted)),
            window=_keys(window),
            m=_keys(m_set),
            norm=float(avail.norm),
            outages=[o for o, iv in outages if unavailable([iv])],
        )

    def claims(self, group: Group, know: dict[str, dict[str, Any]], u: int) -> dict[Subject, Claim]:
        ctx = self._context(group, know)
        if ctx is None:
            return {}
        rule = self.rules.availability_budget
        month = ctx.month
        month_end = instant_key(month.end)
        out: dict[Subject, Claim] = {}
        for website in (False, True):
            sets = self.measure(ctx, website)
            if sets is None or sets.hours - sets.maintenance_hours <= 0:
                continue
            hm = sets.hours - sets.maintenance_hours
            budget = round(hm * (100.0 - sets.norm) / 100.0 * 60, 1)
            spans = sets.u
            data = {"budget": budget, "norm": sets.norm, "spans": spans, "website": website, "hours": hm}
            for o in sets.outages:
                start, ended = instant_key(o["started_at"]), o.get("ended_at")
                out[OutageSubject(str(o["outage_id"]), website)] = Claim(
                    start,
                    instant_key(ended) if ended is not None else None,
                    start <= u,
                    rule.ongoing_severity,
                    {**data, "afnemer_id": o.get("afnemer_id")},
                )
            need = round(budget * 60e6)
            if sum(b - a for a, b in spans) > need:
                acc, when = 0, month_end
                for a, b in spans:
                    if acc + (b - a) > need:
                        when = a + (need - acc)
                        break
                    acc += b - a
                out[MonthSubject(str(month), "budget", website)] = Claim(
                    when, month_end, False, rule.exhausted_severity, data
                )
            hot = self._projection(month, spans, sets.window, sets.m, hm, budget)
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
