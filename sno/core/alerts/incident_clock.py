"""``incident_clock`` (R10, R11): an incident has used 50 / 80 / 100 % of its resolution target.

Each version of an incident claims, per threshold of its priority, the span from the crossing instant
(clock hours for P1, office hours for P2/P3, R4) to its resolution; a version resolved within that share
claims nothing, judged by the core's own resolution time (``resolution_seconds``, R11: exactly at the
target is within). The timeline (sno/core/alerts/timeline.py) makes the alerts of it: a resolved P1 of
7 h raises its clocks with their true event times and resolves them at ``resolved_at`` whenever the
snapshot arrives; a clock never fires past the resolution; a clock fired on a snapshot that a later one
re-classifies or excludes resolves at that later snapshot. Targets come from the SNO version of the
month of detection (R5), the environment's table (pre-production P1 is N.v.t.: no clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sno.core.alerts.emit import NAMES
from sno.core.alerts.entity import TimelineRule
from sno.core.alerts.model import Subject, ThresholdSubject, at_key
from sno.core.alerts.timeline import Claim, Group, Key, Transition
from sno.core.buckets import MonthInputs
from sno.core.calendar import Month
from sno.core.catalogue import ResolutionTarget, VersionNorms
from sno.core.intervals import instant_key
from sno.core.rules.common import Context
from sno.core.rules.incidents import priority, resolution_seconds
from sno.core.snapshots import Snapshots

__all__ = ["IncidentClock", "crossing", "incident_facts"]

_US = 1_000_000
#: how far ahead an office-hours crossing is looked for (R11 targets are a few workdays at most)
_OFFICE_HORIZON = timedelta(days=120)


def crossing(norms: VersionNorms, target: ResolutionTarget, detected: datetime, need: float) -> int | None:
    """The instant (µs) at which ``need`` seconds of the target's basis have passed since detection."""
    if target.basis == "clock":
        return instant_key(detected) + round(need * _US)
    oh = norms.office_hours
    left = need
    for iv in norms.calendar.window_intervals(detected, detected + _OFFICE_HORIZON, oh.from_, oh.to, True):
        if iv.seconds >= left:
            return instant_key(iv.start) + round(left * _US)
        left -= iv.seconds
    return None


def incident_facts(
    catalogue: Any, incident: Mapping[str, Any]
) -> tuple[VersionNorms, int, ResolutionTarget | None, Context] | None:
    """The norms (month of detection), priority, target and a core context of one incident version;
    None when no norms apply or its cause is excluded (R8, R12)."""
    service = incident["service"]
    month = Month.of(incident["detected_at"])
    norms = catalogue.norms_for(service, month.year, month.month)
    if norms is None or incident.get("cause") in set(norms.excluded_causes):
        return None
    env = incident.get("environment") or "production"
    p = priority(incident["impact"], incident["urgency"])
    ctx = Context(service, env, month, norms, MonthInputs(), Snapshots())
    return norms, p, norms.incidents.targets(env).of(p), ctx


def resolved_at(incident: Mapping[str, Any]) -> datetime | None:
    return incident.get("resolved_at") if incident["status"] == "resolved" else None


class IncidentClock(TimelineRule):
    name = "incident_clock"
    kinds = frozenset({"incident"})

    def groups_of(self, record: Mapping[str, Any]) -> list[Key]:
        return [(record["service"], str(record["incident_id"]))]

    def member(self, record: Mapping[str, Any]) -> str:
        return "incident"

    def new_group(self, key: Key, record: Mapping[str, Any]) -> Group:
        return Group(key, record["service"], record.get("environment") or "production")

    def group_of_alert(
        self, service: str, environment: str, subject: Subject | None, text: str
    ) -> Key | None:
        if isinstance(subject, ThresholdSubject):
            return (service, subject.incident)
        return (service, text.split(" ")[0])  # a row of the engine before subjects were typed: "ID 50%"

    def claims(self, group: Group, know: dict[str, dict[str, Any]], u: int) -> dict[Subject, Claim]:
        incident = know["incident"]
        facts = incident_facts(self.catalogue, incident)
        if facts is None or facts[2] is None:
            return {}
        norms, p, target, ctx = facts
        assert target is not None
        iid = str(incident["incident_id"])
        detected = incident["detected_at"]
        resolved = resolved_at(incident)
        taken = resolution_seconds(ctx, dict(incident), target) if resolved is not None else None
        out: dict[Subject, Claim] = {}
        for th in self.rules.incident_clock.thresholds:
            need = target.seconds * th.percent / 100
            if taken is not None and taken <= need:
                continue  # resolved within this share of the target (R11)
            start = crossing(norms, target, detected, need)
            if start is None:
                continue
            end = instant_key(resolved) if resolved is not None else None
            data = {
                "p": p,
                "need": need,
                "target": target,
                "taken": taken,
                "afnemer_id": incident.get("afnemer_id"),
                "percent": th.percent,
            }
            out[ThresholdSubject(iid, p, th.percent)] = Claim(start, end, start <= u, th.severity, data)
        return out

    def describe(self, group: Group, tr: Transition) -> tuple[float | int | None, float | int | None, str]:
        d = tr.claim.data
        target: ResolutionTarget = d["target"]
        subject = tr.subject
        assert isinstance(subject, ThresholdSubject)
        name, env = NAMES.get(group.service, group.service), group.environment
        basis = "clock hours" if target.basis == "clock" else "office hours"
        head = f"P{d['p']} incident {subject.incident} of {name} {env}"
        if tr.state == "firing":
            return (
                d["need"] / 3600,
                target.hours,
                f"{head} has been open {d['need'] / 3600:g} of its "
                f"{target.hours:g} {basis} to resolve ({d['percent']:g} % of the R11 target).",
            )
        if tr.how == "end" and d["taken"] is not None:
            return (
                d["taken"] / 3600,
                target.hours,
                f"{head} was resolved after {d['taken'] / 3600:.2f} {basis} (target {target.hours:g}, R11).",
            )
        return (
            None,
            target.hours,
            f"{head}: a later snapshot (at {at_key(tr.at):%Y-%m-%d %H:%M}) re-classifies, excludes or "
            "resolves it before this share of the target, so this clock no longer runs (R10, R11).",
        )

    def ended(self, group: Group) -> int | None:
        incident = group.latest.get("incident")
        done = resolved_at(incident) if incident is not None else None
        return instant_key(done) if done is not None else None
