"""``maintenance_invalid`` (R9): a planned window that will count as unavailability.

The group is one service, environment and month of the windows' starts, since a window's validity
depends on the others (at most two planned windows a month). Each knowledge state is classified by the
core's ``classify_maintenance``; a planned, scheduled window whose part inside the availability window
counts as U is claimed until its ``ends_at``. A window invalid on its own (outside 00:00–06:00, not
announced in time, an unknown component) is raised as soon as its snapshot arrives, with its
``announced_at`` as event time; one invalid because of the others (a third window) is raised once the
maintenance topic is quiet, at the instant the knowledge made it so, since a cancellation still in transit
could make it valid. It resolves at its end, or at the snapshot that makes it valid again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sno.core.alerts.emit import NAMES
from sno.core.alerts.entity import TimelineRule
from sno.core.alerts.model import MaintenanceSubject, Subject, at_key
from sno.core.alerts.timeline import Claim, Group, Key, Transition
from sno.core.buckets import MonthInputs
from sno.core.calendar import TZ, Month
from sno.core.intervals import instant_key, intersect, total_seconds
from sno.core.rules.availability import MaintenanceVerdict, classify_maintenance, window_of
from sno.core.rules.common import Context
from sno.core.snapshots import Snapshots

__all__ = ["MaintenanceValidity"]


class MaintenanceValidity(TimelineRule):
    name = "maintenance_invalid"
    kinds = frozenset({"maintenance"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (service, environment, maintenance id) -> the month groups it has been seen in (a moved window)
        self.homes: dict[tuple[str, str, str], set[Key]] = {}
        self._alone_cache: dict[tuple[Key, str], bool] = {}

    def groups_of(self, record: Mapping[str, Any]) -> list[Key]:
        service, env = record["service"], record.get("environment") or "production"
        home = self.homes.setdefault((service, env, str(record["maintenance_id"])), set())
        home.add((service, env, str(Month.of(record["starts_at"]))))
        return sorted(home)

    def member(self, record: Mapping[str, Any]) -> str:
        return str(record["maintenance_id"])

    def forgot(self, group: Group) -> None:
        self._forget_homes(self.homes, group)

    def group_of_alert(
        self, service: str, environment: str, subject: Subject | None, text: str
    ) -> Key | None:
        mid = subject.maintenance if isinstance(subject, MaintenanceSubject) else text
        homes = self.homes.get((service, environment, mid))
        return max(homes) if homes else (service, environment, mid)

    def _context(self, group: Group, records: list[dict[str, Any]]) -> Context | None:
        month = Month.parse(group.key[2])
        norms = self.catalogue.norms_for(group.service, month.year, month.month)
        if norms is None:
            return None
        snaps = Snapshots()
        for r in records:
            snaps.add(r)
        return Context(group.service, group.environment, month, norms, MonthInputs(), snaps)

    def _invalid(self, ctx: Context, verdict: MaintenanceVerdict) -> float:
        """Hours of a window that count as U inside the availability window; 0 when it is valid (R9)."""
        r = verdict.record
        if r["kind"] != "planned" or r["status"] != "scheduled" or Month.of(r["starts_at"]) != ctx.month:
            return 0.0
        avail = ctx.norms.availability.get(ctx.environment)
        u = verdict.u
        if avail is not None:
            u = intersect(u, window_of(ctx.calendar, avail.window, ctx.month.start, ctx.month.end))
        return total_seconds(u) / 3600

    def claims(self, group: Group, know: dict[str, dict[str, Any]], u: int) -> dict[Subject, Claim]:
        ctx = self._context(group, list(know.values()))
        if ctx is None:
            return {}
        out: dict[Subject, Claim] = {}
        severity = self.rules.maintenance_invalid.severity
        for v in classify_maintenance(ctx):
            hours = self._invalid(ctx, v)
            if hours <= 0:
                continue
            r = v.record
            alone = self._alone(group, r)
            announced = r.get("announced_at")
            start = min(u, instant_key(announced)) if alone and announced is not None else u
            data = {"hours": hours, "why": v.why, "record": r, "afnemer_id": r.get("afnemer_id")}
            out[MaintenanceSubject(str(r["maintenance_id"]))] = Claim(
                start, instant_key(r["ends_at"]), alone, severity, data
            )
        return out

    def _alone(self, group: Group, record: dict[str, Any]) -> bool:
        """Whether a window is invalid on its own (whatever the others): then its snapshot proves it."""
        key = (group.key, repr(sorted((k, repr(v)) for k, v in record.items())))
        if key not in self._alone_cache:
            ctx = self._context(group, [record])
            self._alone_cache[key] = ctx is not None and any(
                self._invalid(ctx, w) > 0 for w in classify_maintenance(ctx)
            )
            if len(self._alone_cache) > 4096:  # a bounded cache
                self._alone_cache.clear()
        return self._alone_cache[key]

    def describe(self, group: Group, tr: Transition) -> tuple[float | int | None, float | int | None, str]:
        d = tr.claim.data
        r = d["record"]
        name, env, mid = NAMES.get(group.service, group.service), group.environment, tr.subject.text
        if tr.state == "firing":
            return (
                d["hours"],
                0.0,
                f"Planned maintenance {mid} of {name} {env} on "
                f"{r['starts_at'].astimezone(TZ):%Y-%m-%d %H:%M}–{r['ends_at'].astimezone(TZ):%H:%M} will "
                f"count as {d['hours']:.2f} h of unavailability: {d['why']}.",
            )
        if tr.how == "end":
            return (None, 0.0, f"Planned maintenance {mid} of {name} {env} has ended (R9).")
        return (
            None,
            0.0,
            f"Maintenance {mid} of {name} {env} no longer counts as unavailability after the "
            f"snapshot at {at_key(tr.at):%Y-%m-%d %H:%M} (cancelled, moved or made valid, R9).",
        )

    def ended(self, group: Group) -> int | None:
        """A month's windows are forgotten once the month after it is over (a late change can still move a
        window into or out of it until then)."""
        return instant_key(Month.parse(group.key[2]).next().end)
