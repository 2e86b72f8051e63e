"""Real-time SNO breach alerts, judged by event time (docs/interfaces.md "Alerts"; rules in
sno/core/ALERTS.md).

The monthly report says afterwards whether a norm was met; these alerts say so while it happens, so that
someone can still act. The engine is fed the same validated, de-duplicated records as the buckets and
judges them by *event time*, never by wall clock: replaying a month raises exactly the alerts that month
would have raised live (marked ``replayed``), and a restart that re-reads part of the stream, with the
states restored, raises nothing twice. Every SNO number comes from the norm catalogue for the month of the
alert's event time (R5); only how and when to warn comes from ``alerts.toml``.

Each alert id is a hash of (rule, service, environment, subject) and goes through one lifecycle,
firing → resolved. A subject is therefore a single breach (a minute, an incident threshold, a burn-rate
episode starting at a given minute), so a replay reproduces the same ids and the states say what was
already sent.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sno.core.buckets import MonthInputs
from sno.core.calendar import TZ, Month
from sno.core.catalogue import Catalogue, IncidentTargets, ResolutionTarget, VersionNorms
from sno.core.intervals import instant_key, intersect, total_seconds
from sno.core.rules.availability import availability_kpis, classify_maintenance, window_of
from sno.core.rules.common import Context
from sno.core.rules.incidents import priority
from sno.core.snapshots import Snapshots

__all__ = [
    "ALERT_COLUMNS",
    "RULES",
    "Alert",
    "AlertEngine",
    "AlertRules",
    "alert_id",
    "load_alert_rules",
]

RULES: tuple[str, ...] = (
    "capacity_exceeded",
    "mijnoverheid_limit",
    "processing_time_burn",
    "availability_budget",
    "incident_clock",
    "p1_not_notified",
    "maintenance_invalid",
)
ALERT_RULES_FILE = Path(__file__).with_name("alerts.toml")

Severity = Literal["page", "ticket"]
State = Literal["firing", "resolved"]

_US = 1_000_000
_MINUTE_US = 60 * _US
_HOUR_US = 3600 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMES = {"digid": "DigiD", "digid-machtigen": "DigiD Machtigen", "mijnoverheid": "MijnOverheid"}


# --------------------------------------------------------------------------------------------------
# Alert rules as data


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineSettings(_Strict):
    """Event-time bookkeeping shared by every rule (docs/interfaces.md: ``replayed``)."""

    replayed_after_seconds: float = Field(gt=0)
    allowed_lateness_seconds: float = Field(ge=0)
    forget_resolved_after_hours: float = Field(gt=0)


class CountingRule(_Strict):
    """A limit per unit of time (R15 capacity per minute, R18 MijnOverheid limits)."""

    severity: Severity
    environments: list[Literal["production", "preproduction"]]
    measures: list[str] = []


class BurnWindow(_Strict):
    """One multi-window burn-rate alert (R14): both windows must burn faster than ``factor``."""

    name: str
    severity: Severity
    long_minutes: int = Field(gt=0)
    short_minutes: int = Field(gt=0)
    factor: float = Field(gt=0)
    min_events: int = Field(ge=1)


class BurnRule(_Strict):
    environments: list[Literal["production", "preproduction"]]
    windows: list[BurnWindow]


class AvailabilityRule(_Strict):
    """The month's unavailability budget (R6–R9, R16)."""

    ongoing_severity: Severity
    exhausted_severity: Severity
    projection_severity: Severity
    projection_min_elapsed_hours: float = Field(ge=0)
    evaluate_every_seconds_ongoing: float = Field(gt=0)
    evaluate_every_seconds_idle: float = Field(gt=0)


class ClockThreshold(_Strict):
    percent: float = Field(gt=0)
    severity: Severity


class IncidentClockRule(_Strict):
    """Fractions of the R11 resolution target at which an open incident alerts."""

    thresholds: list[ClockThreshold]


class SimpleRule(_Strict):
    severity: Severity


class AlertRules(_Strict):
    """Every alert rule's settings, read from ``alerts.toml`` (never an SNO number, R5)."""

    engine: EngineSettings
    capacity_exceeded: CountingRule
    mijnoverheid_limit: CountingRule
    processing_time_burn: BurnRule
    availability_budget: AvailabilityRule
    incident_clock: IncidentClockRule
    p1_not_notified: SimpleRule
    maintenance_invalid: SimpleRule


def load_alert_rules(path: Path | None = None) -> AlertRules:
    """Read and validate the alert rules (default: the shipped ``alerts.toml``) so a typo fails loudly."""
    path = ALERT_RULES_FILE if path is None else Path(path)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    try:
        rules = AlertRules.model_validate(data)
    except Exception as exc:
        raise ValueError(f"{path}: {exc}") from exc
    unknown = set(rules.mijnoverheid_limit.measures) - set(_MO_MEASURES)
    if unknown:
        raise ValueError(f"{path}: unknown mijnoverheid_limit measures {sorted(unknown)}")
    return rules


# --------------------------------------------------------------------------------------------------
# The alert


def alert_id(rule: str, service: str, environment: str, subject: str) -> str:
    """The stable id of one breach: the same (rule, service, environment, subject) always gives the same
    id, so replays and restarts de-duplicate (docs/interfaces.md)."""
    raw = "\x1f".join((rule, service, environment, subject)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _iso(instant: datetime) -> str:
    return instant.astimezone(TZ).isoformat()


def _num(value: float | int | None) -> float | int | None:
    if isinstance(value, float):
        r = round(value, 4)
        return 0.0 if r == 0 else r
    return value


@dataclass(frozen=True)
class Alert:
    """One alert state change, with exactly the keys of docs/interfaces.md ("Alerts")."""

    alert_id: str
    rule: str
    severity: Severity
    state: State
    service: str
    environment: str
    afnemer_id: str | None
    subject: str
    value: float | int | None
    norm: float | int | None
    event_time: datetime
    emitted_at: datetime
    replayed: bool
    summary: str

    def as_json(self) -> dict[str, Any]:
        """The JSON object published to ``sno.alerts``; instants as RFC 3339 in local time (R1)."""
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "severity": self.severity,
            "state": self.state,
            "service": self.service,
            "environment": self.environment,
            "afnemer_id": self.afnemer_id,
            "subject": self.subject,
            "value": _num(self.value),
            "norm": _num(self.norm),
            "event_time": _iso(self.event_time),
            "emitted_at": _iso(self.emitted_at),
            "replayed": self.replayed,
            "summary": self.summary,
        }


#: The keys of an alert in docs/interfaces.md order: the JSON on `sno.alerts` and the columns of `sno_alerts`.
ALERT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Alert))


# --------------------------------------------------------------------------------------------------
# Helpers


def _key(instant: datetime) -> int:
    return instant_key(instant)


def _at(key_us: int) -> datetime:
    return (_EPOCH + timedelta(microseconds=key_us)).astimezone(TZ)


def _env(record: Mapping[str, Any]) -> str:
    return record.get("environment") or "production"


def _norms(catalogue: Catalogue, service: str, instant: datetime) -> VersionNorms | None:
    local = instant.astimezone(TZ)
    return catalogue.norms_for(service, local.year, local.month)


def _targets(norms: VersionNorms, environment: str) -> IncidentTargets:
    inc = norms.incidents
    return inc.production if environment == "production" else inc.preproduction


def _local_day_bounds(key_us: int) -> tuple[int, int]:
    day: date = _at(key_us).date()
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=TZ)
    return _key(start), _key(end)


def office_crossing(
    norms: VersionNorms, start: datetime, need_seconds: float, until: datetime
) -> datetime | None:
    """The instant at which ``need_seconds`` of office hours (R4) have passed since ``start``, if that is
    no later than ``until``; P2/P3 resolution clocks run in office hours only (R11)."""
    oh = norms.office_hours
    cal = norms.calendar
    if cal.office_seconds(start, until, oh.from_, oh.to) < need_seconds:
        return None
    left = need_seconds
    for iv in cal.window_intervals(start, until, oh.from_, oh.to, True):
        secs = iv.seconds
        if secs >= left:
            return _at(_key(iv.start) + round(left * _US))
        left -= secs
    return None  # pragma: no cover - office_seconds said it was reached


def _crossing(
    norms: VersionNorms, target: ResolutionTarget, detected: datetime, need: float, until: datetime
):
    if target.basis == "clock":
        t = _at(_key(detected) + round(need * _US))
        return t if _key(t) <= _key(until) else None
    return office_crossing(norms, detected, need, until)


# Units of the R18 measures: (event type, api or None, limit attribute, unit)
_MO_MEASURES: dict[str, tuple[str, str | None, str, str]] = {
    "messages_per_second": ("message", None, "messages_per_second", "second"),
    "messages_per_hour": ("message", None, "messages_per_hour", "hour"),
    "messages_per_day": ("message", None, "messages_per_day", "day"),
    "notifications_per_hour": ("notification", None, "notifications_per_hour", "hour"),
    "notifications_per_day": ("notification", None, "notifications_per_day", "day"),
    "validatieservice_per_hour": ("api_request", "validatieservice", "validatieservice_per_hour", "hour"),
}
_MO_TIME_FIELD = {"message": "received_at", "notification": "queued_at", "api_request": "received_at"}
_MO_WORDS = {
    "messages_per_second": ("messages", "second"),
    "messages_per_hour": ("messages", "hour"),
    "messages_per_day": ("messages", "day"),
    "notifications_per_hour": ("notifications", "hour"),
    "notifications_per_day": ("notifications", "day"),
    "validatieservice_per_hour": ("Validatieservice queries", "hour"),
}


def _unit_bounds(key_us: int, unit: str) -> tuple[int, int]:
    if unit == "second":
        s = key_us - key_us % _US
        return s, s + _US
    if unit == "hour":
        # A UTC hour is a local clock hour: Europe/Amsterdam offsets are whole hours (R1).
        s = key_us - key_us % _HOUR_US
        return s, s + _HOUR_US
    return _local_day_bounds(key_us)


@dataclass
class _Counter:
    """Events of one service and environment in one unit of time (R15, R18)."""

    end: int
    count: int = 0
    within: int = 0
    excluded: bool = False  # a minute over capacity, left out of the processing-time budget (R16)
    fired: bool = False  # its limit was passed, so its end resolves the alert


@dataclass
class _Burn:
    """Sliding window sums of one service and environment for the burn-rate rule (R14, R16)."""

    boundary: int  # the next minute boundary to evaluate
    evaluated: bool = False  # whether a boundary was judged yet (minutes before it are inside the windows)
    sums: dict[int, list[int]] = field(default_factory=dict)  # window minutes -> [count, not within]
    episodes: dict[str, str] = field(default_factory=dict)  # window name -> subject of the firing episode


@dataclass
class _Tracked:
    """An alert this engine may still have to resolve, with what it needs to do so."""

    rule: str
    severity: Severity
    service: str
    environment: str
    subject: str
    afnemer_id: str | None = None


# --------------------------------------------------------------------------------------------------
# The engine


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class AlertEngine:
    """Turns validated, de-duplicated events and snapshots into alert state changes, by event time.

    ``observe`` handles what one record changes at once (counts passing a limit, an announced maintenance
    window); ``advance(now)`` handles what the passing of event time changes (a minute closing, a burn
    window moving, incident clocks, the P1 notice, an ongoing outage). Call ``advance`` with the newest
    event time seen, after each batch. Memory is bounded: closed units of time, ended snapshots and
    resolved alert states are forgotten behind the newest event time.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        rules: AlertRules | None = None,
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self.catalogue = catalogue
        self.rules = rules or load_alert_rules()
        self.clock = clock
        eng = self.rules.engine
        self._replayed_us = round(eng.replayed_after_seconds * _US)
        self._lateness_us = round(eng.allowed_lateness_seconds * _US)
        self._forget_us = round(eng.forget_resolved_after_hours * _HOUR_US)
        self._now: int | None = None
        #: alert id -> state, and when a resolved state may be forgotten (µs; None: at the next advance)
        self._states: dict[str, State] = {}
        self._forget_at: dict[str, int | None] = {}
        self._restored: dict[str, dict[str, Any]] = {}
        #: (service, environment) -> minute start (µs) -> counter (R15, R16, R14)
        self._minutes: dict[tuple[str, str], dict[int, _Counter]] = {}
        self._burn: dict[tuple[str, str], _Burn] = {}
        self._burn_lengths = sorted(
            {w.long_minutes for w in self.rules.processing_time_burn.windows}
            | {w.short_minutes for w in self.rules.processing_time_burn.windows}
        )
        self._keep_minutes_us = (max(self._burn_lengths, default=1) + 1) * _MINUTE_US + self._lateness_us
        #: (measure, environment) -> unit start (µs) -> counter (R18)
        self._units: dict[tuple[str, str], dict[int, _Counter]] = {}
        #: over-capacity minutes per (service, environment): minute start (µs) -> count (R16)
        self._over: dict[tuple[str, str], dict[int, int]] = {}
        self._snaps = Snapshots()
        #: availability: (service, environment) -> next evaluation (µs), and pairs to evaluate at once
        self._avail_next: dict[tuple[str, str], int] = {}
        self._avail_dirty: set[tuple[str, str]] = set()
        #: alerts that resolve by themselves later: alert id -> what they are about
        self._open: dict[str, _Tracked] = {}
        #: burn episodes restored before their service had a burn state: (service, env) -> name -> subject
        self._pending_episodes: dict[tuple[str, str], dict[str, str]] = {}

    # ---- public API ------------------------------------------------------------------------------

    def observe(self, record: Mapping[str, Any]) -> list[Alert]:
        """Fold in one validated, de-duplicated event or snapshot (a dict like
        ``schemas.validate.Accepted.record``) and return the alerts it raises at once (R9, R15, R18)."""
        out: list[Alert] = []
        kind = record.get("type")
        if kind in ("authentication", "transaction"):
            self._observe_auth(record, out)
        elif kind in ("message", "notification", "api_request"):
            self._observe_mijnoverheid(record, out)
        elif kind in ("incident", "outage", "maintenance"):
            self._observe_snapshot(record, out)
        return out

    def advance(self, now: datetime) -> list[Alert]:
        """Event time has moved on to ``now`` (the newest event time seen): raise and resolve what the
        passing of time decides (R11, R13, R14–R16, R18, R6–R9). ``now`` never moves backwards."""
        k = _key(now)
        if self._now is not None and k < self._now:
            k = self._now
        self._now = k
        out: list[Alert] = []
        self._advance_counters(k, out)
        self._advance_burn(k, out)
        self._advance_incidents(k, out)
        self._advance_maintenance(k, out)
        self._advance_availability(k, out)
        self._forget(k)
        out.sort(key=lambda a: _key(a.event_time))
        return out

    def restore(self, states: Iterable[tuple[str, str] | Mapping[str, Any]]) -> None:
        """Take over what was already fired or resolved before a restart, so nothing is sent twice.

        Each item is ``(alert_id, state)`` or an alert row/JSON object (with ``alert_id`` and ``state``);
        with a whole row, a firing burn-rate episode or availability alert can also be resolved later.
        The latest state of an id wins when several are given in order.
        """
        for item in states:
            if isinstance(item, Mapping):
                aid, state = str(item["alert_id"]), str(item["state"])
                if state == "firing" and "rule" in item:
                    self._restored[aid] = dict(item)
                else:
                    self._restored.pop(aid, None)
            else:
                aid, state = str(item[0]), str(item[1])
            if state not in ("firing", "resolved"):
                raise ValueError(f"unknown alert state {state!r}")
            self._states[aid] = state  # type: ignore[assignment]
            self._forget_at[aid] = None if state == "resolved" else self._forget_at.get(aid)
            if state == "firing" and aid in self._restored:
                row = self._restored[aid]
                self._open[aid] = _Tracked(
                    rule=str(row["rule"]),
                    severity=row.get("severity", "ticket"),
                    service=str(row["service"]),
                    environment=str(row["environment"]),
                    subject=str(row["subject"]),
                    afnemer_id=row.get("afnemer_id"),
                )
                if row["rule"] == "processing_time_burn":
                    name = str(row["subject"]).rsplit(" ", 1)[-1]
                    key = (str(row["service"]), str(row["environment"]))
                    burn = self._burn.get(key)
                    if burn is not None:
                        burn.episodes[name] = str(row["subject"])
                    else:
                        self._pending_episodes.setdefault(key, {})[name] = str(row["subject"])

    def states(self) -> dict[str, str]:
        """Alert id -> last state, as held now (for persisting alongside the stream's offsets)."""
        return dict(self._states)

    def size(self) -> int:
        """How many things the engine holds, to check that memory stays bounded."""
        return (
            len(self._states)
            + sum(len(v) for v in self._minutes.values())
            + sum(len(v) for v in self._units.values())
            + sum(len(v) for v in self._over.values())
            + len(self._snaps.incidents)
            + len(self._snaps.outages)
            + len(self._snaps.maintenance)
            + len(self._open)
        )

    # ---- emission ---------------------------------------------------------------------------------

    def _emit(
        self,
        out: list[Alert],
        rule: str,
        severity: Severity,
        state: State,
        service: str,
        environment: str,
        subject: str,
        value: float | int | None,
        norm: float | int | None,
        event_time: datetime,
        summary: str,
        afnemer_id: str | None = None,
    ) -> bool:
        """Record a state change of one alert id and append it to ``out``; False when it is not a change
        (already firing, already resolved, or resolving what never fired)."""
        aid = alert_id(rule, service, environment, subject)
        held = self._states.get(aid)
        if state == "firing":
            if held is not None:
                return False
            self._open[aid] = _Tracked(rule, severity, service, environment, subject, afnemer_id)
        else:
            if held != "firing":
                return False
            self._open.pop(aid, None)
            self._forget_at[aid] = _key(event_time) + self._forget_us
        self._states[aid] = state
        emitted = self.clock()
        out.append(
            Alert(
                alert_id=aid,
                rule=rule,
                severity=severity,
                state=state,
                service=service,
                environment=environment,
                afnemer_id=afnemer_id,
                subject=subject,
                value=value,
                norm=norm,
                event_time=event_time.astimezone(TZ),
                emitted_at=emitted,
                replayed=_key(emitted) - _key(event_time) > self._replayed_us,
                summary=summary,
            )
        )
        return True

    def _is_firing(self, rule: str, service: str, environment: str, subject: str) -> bool:
        return self._states.get(alert_id(rule, service, environment, subject)) == "firing"

    def _forget(self, now: int) -> None:
        for aid, at in list(self._forget_at.items()):
            if at is None:
                self._forget_at[aid] = now + self._forget_us
            elif at <= now and self._states.get(aid) == "resolved":
                del self._forget_at[aid]
                self._states.pop(aid, None)
        month_start = _key(Month.of(_at(now)).prev().start)
        for table in self._over.values():
            for m in [m for m in table if m < month_start]:
                del table[m]
        for aid in list(self._restored):
            if self._states.get(aid) != "firing":
                del self._restored[aid]

    # ---- R15/R16 capacity and the R14 burn rate -------------------------------------------------

    def _observe_auth(self, record: Mapping[str, Any], out: list[Alert]) -> None:
        service, env = record["service"], _env(record)
        started: datetime = record["started_at"]
        k = _key(started)
        minute = k - k % _MINUTE_US
        if self._now is not None and minute + _MINUTE_US < self._now - self._lateness_us:
            return  # later than the allowed lateness: the minute is closed and forgotten
        norms = _norms(self.catalogue, service, started)
        if norms is None or norms.performance is None:
            return
        perf = norms.performance
        elapsed = _key(record["completed_at"]) - k
        limit_us = round(perf.processing_limit_seconds * _US)
        within = elapsed <= limit_us if perf.processing_comparison == "le" else elapsed < limit_us
        table = self._minutes.setdefault((service, env), {})
        c = table.get(minute)
        if c is None:
            c = table[minute] = _Counter(end=minute + _MINUTE_US)
        c.count += 1
        c.within += 1 if within else 0
        if env in self.rules.processing_time_burn.environments:
            self._burn_add(service, env, minute, 0 if within else 1, c)
        capacity = perf.capacity_per_minute
        if c.count > capacity:
            self._over.setdefault((service, env), {})[minute] = c.count
        if c.count == capacity + 1 and env in self.rules.capacity_exceeded.environments:
            c.fired = True
            what = "authentications" if service == "digid" else "transactions"
            self._emit(
                out,
                "capacity_exceeded",
                self.rules.capacity_exceeded.severity,
                "firing",
                service,
                env,
                _iso(_at(minute)),
                c.count,
                capacity,
                started,
                f"{_NAMES.get(service, service)} {env} passed its capacity of {capacity:,} {what} in the "
                f"minute from {_at(minute):%Y-%m-%d %H:%M}; in that minute the SNO does not apply (R15, "
                "R16).",
            )

    def _burn_add(self, service: str, env: str, minute: int, bad: int, c: _Counter) -> None:
        """Minutes enter the burn windows when they close; an event for a minute already inside them
        (late, within the allowed lateness) is added to the windows that hold its minute (R14)."""
        burn = self._burn.get((service, env))
        if burn is None:
            burn = self._burn[(service, env)] = _Burn(boundary=minute + _MINUTE_US)
            burn.sums = {n: [0, 0] for n in self._burn_lengths}
            burn.episodes.update(self._pending_episodes.pop((service, env), {}))
            return
        last = burn.boundary - _MINUTE_US  # the last boundary judged, when ``evaluated``
        if not burn.evaluated:
            burn.boundary = min(burn.boundary, minute + _MINUTE_US)
            return
        if minute >= last or c.excluded:
            return
        for n, sums in burn.sums.items():
            if last - n * _MINUTE_US <= minute:
                sums[0] += 1
                sums[1] += bad

    def _advance_counters(self, now: int, out: list[Alert]) -> None:
        """Resolve capacity and R18 alerts of units that ended; forget units past the lateness (R15, R18)."""
        for (service, env), table in self._minutes.items():
            for minute in list(table):
                c = table[minute]
                if c.end <= now and c.fired:
                    c.fired = False
                    subject = _iso(_at(minute))
                    if self._is_firing("capacity_exceeded", service, env, subject):
                        norms = _norms(self.catalogue, service, _at(minute))
                        capacity = (
                            norms.performance.capacity_per_minute if norms and norms.performance else None
                        )
                        self._emit(
                            out,
                            "capacity_exceeded",
                            self.rules.capacity_exceeded.severity,
                            "resolved",
                            service,
                            env,
                            subject,
                            c.count,
                            capacity,
                            _at(c.end),
                            f"The minute from {_at(minute):%Y-%m-%d %H:%M} ended with {c.count:,} against a "
                            f"capacity of {capacity:,} for {_NAMES.get(service, service)} {env} (R15).",
                        )
                if c.end + self._keep_minutes_us < now:
                    del table[minute]
        for (measure, env), units in self._units.items():
            for start in list(units):
                c = units[start]
                if c.end <= now and c.fired:
                    c.fired = False
                    subject = f"{measure} {_iso(_at(start))}"
                    if self._is_firing("mijnoverheid_limit", "mijnoverheid", env, subject):
                        limit = self._mo_limit(measure, _at(start))
                        noun, unit = _MO_WORDS[measure]
                        self._emit(
                            out,
                            "mijnoverheid_limit",
                            self.rules.mijnoverheid_limit.severity,
                            "resolved",
                            "mijnoverheid",
                            env,
                            subject,
                            c.count,
                            limit,
                            _at(c.end),
                            f"The {unit} from {_at(start):%Y-%m-%d %H:%M:%S} ended with {c.count:,} {noun} "
                            f"against the MijnOverheid limit of {limit:,} per {unit} (R18).",
                        )
                if c.end + self._lateness_us < now:
                    del units[start]

    def _advance_burn(self, now: int, out: list[Alert]) -> None:
        """Move every burn window to the last closed minute boundary and judge it there (R14, R16)."""
        for (service, env), burn in self._burn.items():
            minutes = self._minutes.get((service, env), {})
            while burn.boundary <= now:
                b = burn.boundary
                entering = minutes.get(b - _MINUTE_US)
                norms = _norms(self.catalogue, service, _at(b - _MINUTE_US))
                if entering is not None and norms is not None and norms.performance is not None:
                    entering.excluded = entering.count > norms.performance.capacity_per_minute
                for n, sums in burn.sums.items():
                    if entering is not None and not entering.excluded:
                        sums[0] += entering.count
                        sums[1] += entering.count - entering.within
                    leaving = minutes.get(b - _MINUTE_US - n * _MINUTE_US)
                    if leaving is not None and not leaving.excluded:
                        sums[0] -= leaving.count
                        sums[1] -= leaving.count - leaving.within
                self._judge_burn(service, env, burn, b, out)
                burn.boundary = b + _MINUTE_US
                burn.evaluated = True
                if all(s[0] == 0 for s in burn.sums.values()) and not burn.episodes:
                    later = [m for m in minutes if m >= burn.boundary]
                    nxt = min(later) if later else now - now % _MINUTE_US
                    if nxt > burn.boundary:
                        burn.boundary = nxt + (_MINUTE_US if later else 0)
                        for sums in burn.sums.values():
                            sums[0] = sums[1] = 0

    def _judge_burn(self, service: str, env: str, burn: _Burn, boundary: int, out: list[Alert]) -> None:
        norms = _norms(self.catalogue, service, _at(boundary - 1))
        if norms is None or norms.performance is None:
            return
        budget = (100.0 - norms.performance.processing_norm) / 100.0
        if budget <= 0:
            return
        at = _at(boundary)
        for w in self.rules.processing_time_burn.windows:
            long_c, long_bad = burn.sums[w.long_minutes]
            short_c, short_bad = burn.sums[w.short_minutes]
            burn_long = (long_bad / long_c) / budget if long_c else 0.0
            burn_short = (short_bad / short_c) / budget if short_c else 0.0
            hot = short_c >= w.min_events and burn_long > w.factor and burn_short > w.factor
            episode = burn.episodes.get(w.name)
            name = _NAMES.get(service, service)
            limit = f"{norms.performance.processing_limit_seconds:g} s"
            if hot and episode is None:
                subject = f"{_iso(at)} {w.name}"
                days_left = 30.0 / burn_long if burn_long else float("inf")
                fired = self._emit(
                    out,
                    "processing_time_burn",
                    w.severity,
                    "firing",
                    service,
                    env,
                    subject,
                    burn_long,
                    w.factor,
                    at,
                    f"{name} {env} burns its processing-time error budget ({100 * budget:g} % over {limit} "
                    f"a month) {burn_long:.1f}× too fast over {w.long_minutes} min and {burn_short:.1f}× "
                    "over "
                    f"{w.short_minutes} min (alert above {w.factor:g}×): at this rate a month's budget lasts "
                    f"{days_left:.1f} days (R14).",
                )
                if fired or self._is_firing("processing_time_burn", service, env, subject):
                    burn.episodes[w.name] = subject
            elif not hot and episode is not None:
                self._emit(
                    out,
                    "processing_time_burn",
                    w.severity,
                    "resolved",
                    service,
                    env,
                    episode,
                    burn_long,
                    w.factor,
                    at,
                    f"{name} {env} processing time burns its budget {burn_long:.1f}× over {w.long_minutes} "
                    "min "
                    f"and {burn_short:.1f}× over {w.short_minutes} min, no longer both above {w.factor:g}× "
                    "(R14).",
                )
                del burn.episodes[w.name]

    # ---- R18 MijnOverheid limits ------------------------------------------------------------------

    def _mo_limit(self, measure: str, instant: datetime) -> int | None:
        norms = _norms(self.catalogue, "mijnoverheid", instant)
        if norms is None or norms.mijnoverheid is None:
            return None
        return int(getattr(norms.mijnoverheid, _MO_MEASURES[measure][2]))

    def _observe_mijnoverheid(self, record: Mapping[str, Any], out: list[Alert]) -> None:
        rule = self.rules.mijnoverheid_limit
        service, env = record["service"], _env(record)
        if service != "mijnoverheid" or env not in rule.environments:
            return
        kind = record["type"]
        instant: datetime = record[_MO_TIME_FIELD[kind]]
        k = _key(instant)
        for measure in rule.measures:
            m_kind, api, _attr, unit = _MO_MEASURES[measure]
            if m_kind != kind or (api is not None and record.get("api") != api):
                continue
            start, end = _unit_bounds(k, unit)
            if self._now is not None and end < self._now - self._lateness_us:
                continue
            units = self._units.setdefault((measure, env), {})
            c = units.get(start)
            if c is None:
                c = units[start] = _Counter(end=end)
            c.count += 1
            limit = self._mo_limit(measure, instant)
            if limit is not None and c.count == limit + 1:
                c.fired = True
                noun, unit_word = _MO_WORDS[measure]
                self._emit(
                    out,
                    "mijnoverheid_limit",
                    rule.severity,
                    "firing",
                    service,
                    env,
                    f"{measure} {_iso(_at(start))}",
                    c.count,
                    limit,
                    instant,
                    f"MijnOverheid received more than its limit of {limit:,} {noun} per {unit_word} in the "
                    f"{unit_word} from {_at(start):%Y-%m-%d %H:%M:%S} (R18).",
                )

    # ---- snapshots: incidents (R11, R13), outages and maintenance (R6–R9) ------------------------

    def _observe_snapshot(self, record: Mapping[str, Any], out: list[Alert]) -> None:
        kind = record["type"]
        if self._too_old(record):
            return
        previous = None
        if kind == "maintenance":
            previous = self._snaps.maintenance.get((record["service"], str(record["maintenance_id"])))
        if not self._snaps.add(record):
            return
        service, env = record["service"], _env(record)
        t: datetime = record["updated_at"]
        if kind == "incident":
            self._judge_incident(
                self._snaps.incidents[(service, str(record["incident_id"]))], self._clock_at(t), out
            )
        elif kind == "maintenance":
            months = {Month.of(record["starts_at"])}
            if previous is not None:
                months.add(Month.of(previous["starts_at"]))
            for month in sorted(months):
                self._judge_maintenance(service, env, month, t, out)
            self._avail_dirty.add((service, env))
        else:
            self._avail_dirty.add((service, env))

    def _clock_at(self, t: datetime) -> int:
        return max(_key(t), self._now) if self._now is not None else _key(t)

    def _too_old(self, record: Mapping[str, Any]) -> bool:
        """A snapshot of something that ended long before the newest event time (a late re-delivery of a
        forgotten incident, outage or window) must not raise its alerts again."""
        if self._now is None:
            return False
        end = {"incident": "resolved_at", "outage": "ended_at", "maintenance": "ends_at"}[record["type"]]
        ended = record.get(end)
        return ended is not None and _key(ended) < self._now - self._forget_us

    # incidents

    def _advance_incidents(self, now: int, out: list[Alert]) -> None:
        for key in list(self._snaps.incidents):
            incident = self._snaps.incidents[key]
            self._judge_incident(incident, now, out)
            resolved = incident.get("resolved_at")
            if (
                incident["status"] == "resolved"
                and resolved is not None
                and _key(resolved) < now - self._forget_us
            ):
                del self._snaps.incidents[key]

    def _judge_incident(self, incident: Mapping[str, Any], now: int, out: list[Alert]) -> None:
        """R11 clock thresholds and the R13 P1 notice of one incident, as of event time ``now``."""
        service, env = incident["service"], _env(incident)
        iid = str(incident["incident_id"])
        detected: datetime = incident["detected_at"]
        resolved_at: datetime | None = (
            incident.get("resolved_at") if incident["status"] == "resolved" else None
        )
        ref = resolved_at if resolved_at is not None and _key(resolved_at) <= now else _at(now)
        norms = _norms(self.catalogue, service, ref)
        updated: datetime = incident["updated_at"]
        name = _NAMES.get(service, service)
        afnemer = incident.get("afnemer_id")
        if norms is None:
            return
        excluded = incident.get("cause") in set(norms.excluded_causes)
        p = priority(incident["impact"], incident["urgency"])
        target: ResolutionTarget | None = getattr(_targets(norms, env), f"p{p}")
        now_dt = _at(now)
        done = resolved_at is not None and _key(resolved_at) <= now
        for th in self.rules.incident_clock.thresholds:
            subject = f"{iid} {th.percent:g}%"
            firing = self._is_firing("incident_clock", service, env, subject)
            if excluded or target is None:
                if firing:
                    self._emit(
                        out,
                        "incident_clock",
                        th.severity,
                        "resolved",
                        service,
                        env,
                        subject,
                        None,
                        None,
                        _at(max(_key(updated), now)),
                        f"Incident {iid} of {name} {env} is no longer judged against a resolution target "
                        f"(cause excluded or not judged in this environment, R8, R11).",
                        afnemer,
                    )
                continue
            need = target.hours * 3600 * th.percent / 100
            until = resolved_at if done else now_dt
            assert until is not None
            crossing = _crossing(norms, target, detected, need, until)
            if crossing is not None and done and _key(crossing) >= _key(until):
                crossing = None  # resolved exactly at the threshold: within (R11)
            basis = "clock hours" if target.basis == "clock" else "office hours"
            if crossing is not None:
                self._emit(
                    out,
                    "incident_clock",
                    th.severity,
                    "firing",
                    service,
                    env,
                    subject,
                    need / 3600,
                    target.hours,
                    crossing,
                    f"P{p} incident {iid} of {name} {env} has been open {need / 3600:g} of its "
                    f"{target.hours:g} "
                    f"{basis} to resolve ({th.percent:g} % of the R11 target).",
                    afnemer,
                )
            if done:
                assert resolved_at is not None
                secs = (
                    (_key(resolved_at) - _key(detected)) / _US
                    if target.basis == "clock"
                    else norms.calendar.office_seconds(
                        detected, resolved_at, norms.office_hours.from_, norms.office_hours.to
                    )
                )
                self._emit(
                    out,
                    "incident_clock",
                    th.severity,
                    "resolved",
                    service,
                    env,
                    subject,
                    secs / 3600,
                    target.hours,
                    resolved_at,
                    f"P{p} incident {iid} of {name} {env} was resolved after {secs / 3600:.2f} {basis} "
                    f"(target {target.hours:g}, R11).",
                    afnemer,
                )
        self._judge_p1_notice(incident, norms, p, target is not None and not excluded, now, out)

    def _judge_p1_notice(
        self,
        incident: Mapping[str, Any],
        norms: VersionNorms,
        p: int,
        judged: bool,
        now: int,
        out: list[Alert],
    ) -> None:
        notice = norms.p1_notice
        service, env = incident["service"], _env(incident)
        if notice is None:
            return
        iid = str(incident["incident_id"])
        subject = iid
        severity = self.rules.p1_not_notified.severity
        name = _NAMES.get(service, service)
        afnemer = incident.get("afnemer_id")
        detected: datetime = incident["detected_at"]
        due = _key(detected) + round(notice.minutes * 60 * _US)
        notified: datetime | None = incident.get("notified_at")
        resolved: datetime | None = incident.get("resolved_at") if incident["status"] == "resolved" else None
        firing = self._is_firing("p1_not_notified", service, env, subject)
        if not (judged and p == 1):
            if firing:
                self._emit(
                    out,
                    "p1_not_notified",
                    severity,
                    "resolved",
                    service,
                    env,
                    subject,
                    None,
                    notice.minutes,
                    _at(max(now, _key(incident["updated_at"]))),
                    f"Incident {iid} of {name} {env} is no longer a judged P1 (R10, R13).",
                    afnemer,
                )
            return
        late = notified is None or _key(notified) > due
        if late and due <= now:
            self._emit(
                out,
                "p1_not_notified",
                severity,
                "firing",
                service,
                env,
                subject,
                notice.minutes,
                notice.minutes,
                _at(due),
                f"Afnemers of {name} {env} were not informed of P1 incident {iid} within {notice.minutes:g} "
                f"minutes of its detection at {detected.astimezone(TZ):%Y-%m-%d %H:%M} (R13).",
                afnemer,
            )
        ended: int | None = None
        if notified is not None and _key(notified) <= now:
            ended = _key(notified)
        elif resolved is not None and _key(resolved) <= now:
            ended = _key(resolved)
        if ended is not None:
            minutes = None if notified is None else (_key(notified) - _key(detected)) / 60 / _US
            told = (
                f"informed {minutes:.0f} minutes after detection"
                if minutes is not None
                else "resolved without afnemers being informed"
            )
            self._emit(
                out,
                "p1_not_notified",
                severity,
                "resolved",
                service,
                env,
                subject,
                minutes,
                notice.minutes,
                _at(max(ended, due)),
                f"P1 incident {iid} of {name} {env}: {told} (norm {notice.minutes:g} minutes, R13).",
                afnemer,
            )

    # maintenance

    def _context(
        self, service: str, env: str, month: Month, norms: VersionNorms, snaps: Snapshots
    ) -> Context:
        inputs = MonthInputs()
        for minute, count in self._over.get((service, env), {}).items():
            inputs.add("auth_minute", (service, env, "", _at(minute)), (count, 0, 0))
        return Context(service, env, month, norms, inputs, snaps)

    def _judge_maintenance(self, service: str, env: str, month: Month, t: datetime, out: list[Alert]) -> None:
        """Re-judge every planned window of a month when one is announced or changes (R9)."""
        norms = self.catalogue.norms_for(service, month.year, month.month)
        if norms is None:
            return
        ctx = self._context(service, env, month, norms, self._snaps)
        avail = norms.availability.get(env)
        window = window_of(norms.calendar, avail.window, month.start, month.end) if avail else None
        severity = self.rules.maintenance_invalid.severity
        name = _NAMES.get(service, service)
        now = self._clock_at(t)
        for v in classify_maintenance(ctx):
            r = v.record
            if Month.of(r["starts_at"]) != month:
                continue
            mid = str(r["maintenance_id"])
            subject = mid
            u = intersect(v.u, window) if window is not None else v.u
            hours_u = total_seconds(u) / 3600
            invalid = r["kind"] == "planned" and r["status"] == "scheduled" and hours_u > 0
            if invalid and _key(r["ends_at"]) > now - self._forget_us:
                self._emit(
                    out,
                    "maintenance_invalid",
                    severity,
                    "firing",
                    service,
                    env,
                    subject,
                    hours_u,
                    0.0,
                    max(t, r["updated_at"], key=_key),
                    f"Planned maintenance {mid} of {name} {env} on "
                    f"{r['starts_at'].astimezone(TZ):%Y-%m-%d %H:%M}"
                    f"–{r['ends_at'].astimezone(TZ):%H:%M} will count as {hours_u:.2f} h of unavailability: "
                    f"{v.why}.",
                    r.get("afnemer_id"),
                )
                if _key(r["ends_at"]) <= now:
                    self._resolve_maintenance(out, service, env, r, _at(max(now, _key(r["ends_at"]))))
            elif not invalid and self._is_firing("maintenance_invalid", service, env, subject):
                self._emit(
                    out,
                    "maintenance_invalid",
                    severity,
                    "resolved",
                    service,
                    env,
                    subject,
                    hours_u,
                    0.0,
                    t,
                    f"Maintenance {mid} of {name} {env} no longer counts as unavailability: {v.why}.",
                    r.get("afnemer_id"),
                )

    def _resolve_maintenance(
        self, out: list[Alert], service: str, env: str, r: Mapping[str, Any], at: datetime
    ) -> None:
        self._emit(
            out,
            "maintenance_invalid",
            self.rules.maintenance_invalid.severity,
            "resolved",
            service,
            env,
            str(r["maintenance_id"]),
            None,
            0.0,
            at,
            f"Planned maintenance {r['maintenance_id']} of {_NAMES.get(service, service)} {env} has ended "
            "(R9).",
            r.get("afnemer_id"),
        )

    def _advance_maintenance(self, now: int, out: list[Alert]) -> None:
        for key in list(self._snaps.maintenance):
            r = self._snaps.maintenance[key]
            ends = _key(r["ends_at"])
            if ends <= now:
                self._resolve_maintenance(out, r["service"], _env(r), r, r["ends_at"])
            month_start = _key(Month.of(_at(now)).prev().start)
            if ends < min(now - self._forget_us, month_start):
                del self._snaps.maintenance[key]

    # availability

    def _advance_availability(self, now: int, out: list[Alert]) -> None:
        pairs = {(s, _env(r)) for (s, _), r in self._snaps.outages.items()}
        pairs |= {(s, _env(r)) for (s, _), r in self._snaps.maintenance.items()}
        pairs |= {(t.service, t.environment) for t in self._open.values() if t.rule == "availability_budget"}
        for pair in sorted(pairs):
            if pair in self._avail_dirty or now >= self._avail_next.get(pair, 0):
                self._avail_next[pair] = self._judge_availability(pair[0], pair[1], now, out)
        self._avail_dirty.clear()
        for key in list(self._snaps.outages):
            o = self._snaps.outages[key]
            ended = o.get("ended_at")
            if ended is not None and _key(ended) < min(
                now - self._forget_us, _key(Month.of(_at(now)).prev().start)
            ):
                del self._snaps.outages[key]

    def _judge_availability(self, service: str, env: str, now: int, out: list[Alert]) -> int:
        """The month's unavailability budget as R6–R9 and R16 count it, as of event time ``now``; returns
        when to look again."""
        rule = self.rules.availability_budget
        at = _at(now)
        month = Month.of(at)
        # Alerts of an earlier month end with it.
        for tr in list(self._open.values()):
            if tr.rule != "availability_budget" or (tr.service, tr.environment) != (service, env):
                continue
            if not tr.subject.startswith(str(month)) and not tr.subject.startswith("outage"):
                self._emit(
                    out,
                    "availability_budget",
                    tr.severity,
                    "resolved",
                    service,
                    env,
                    tr.subject,
                    None,
                    None,
                    Month.parse(tr.subject[:7]).end,
                    f"The month {tr.subject[:7]} of {_NAMES.get(service, service)} {env} has ended (R2, R6).",
                )
        norms = self.catalogue.norms_for(service, month.year, month.month)
        idle = now + round(rule.evaluate_every_seconds_idle * _US)
        if norms is None:
            return idle
        full = Snapshots()
        clipped = Snapshots()
        ongoing_any = False
        next_start: int | None = None
        for table, kind in ((self._snaps.outages, "outage"), (self._snaps.maintenance, "maintenance")):
            for (svc, _), r in table.items():
                if svc != service or _env(r) != env:
                    continue
                full.add(r)
                start_f, end_f = ("started_at", "ended_at") if kind == "outage" else ("starts_at", "ends_at")
                start, end = r[start_f], r.get(end_f)
                if _key(start) >= now:
                    next_start = _key(start) if next_start is None else min(next_start, _key(start))
                    if kind == "maintenance":
                        clipped.add(r)  # its slot and validity do not depend on its length (R9)
                    continue
                if end is None or _key(end) > now:
                    if kind == "outage" or r.get("status") == "scheduled":
                        ongoing_any = True
                    c = dict(r)
                    c[end_f] = at
                    clipped.add(c)
                else:
                    clipped.add(r)
        ctx_full = self._context(service, env, month, norms, full)
        ctx_now = self._context(service, env, month, norms, clipped)
        kpis_full = availability_kpis(ctx_full)
        kpis_now = availability_kpis(ctx_now)
        for kpi_id, scope in (("availability", ""), ("availability_website", " website")):
            if kpi_id not in kpis_full or kpis_full[kpi_id].status == "no_data":
                continue
            self._judge_budget(
                service, env, month, norms, kpi_id, scope, kpis_full[kpi_id], kpis_now[kpi_id], now, out
            )
        step = rule.evaluate_every_seconds_ongoing if ongoing_any else rule.evaluate_every_seconds_idle
        nxt = now + round(step * _US)
        if next_start is not None:
            nxt = min(nxt, next_start)
        return min(nxt, _key(month.end))

    def _judge_budget(
        self,
        service: str,
        env: str,
        month: Month,
        norms: VersionNorms,
        kpi_id: str,
        scope: str,
        full: Any,
        so_far: Any,
        now: int,
        out: list[Alert],
    ) -> None:
        rule = self.rules.availability_budget
        at = _at(now)
        norm = full.norm
        if norm is None:
            return
        h, m = float(full.hours), float(full.maintenance_hours)
        budget_min = (h - m) * (100.0 - float(norm)) / 100.0 * 60
        u_now_min = float(so_far.unavailable_hours) * 60
        # Hours come rounded to 4 decimals from the KPI (as reported); minutes to 0.1 say no more than that.
        budget_min = round(budget_min, 1)
        remaining = round(budget_min - u_now_min, 1)
        name = _NAMES.get(service, service) + (" (www.digid.nl)" if scope else "")
        # Ongoing outages that count (R8): the items of the KPI clipped to now.
        ongoing: dict[str, Mapping[str, Any]] = {}
        for item in so_far.items:
            if item.get("kind") != "outage" or item.get("counted") != "U":
                continue
            o = self._snaps.outages.get((service, item["id"]))
            if o is None:
                continue
            if o.get("ended_at") is None or _key(o["ended_at"]) > now:
                ongoing[item["id"]] = o
        for oid, o in ongoing.items():
            started = max(_key(o["started_at"]), _key(o["updated_at"]))
            self._emit(
                out,
                "availability_budget",
                rule.ongoing_severity,
                "firing",
                service,
                env,
                f"outage {oid}{scope}",
                remaining,
                budget_min,
                _at(min(started, now)),
                f"Outage {oid} of {name} {env} is ongoing and counts as unavailability (R8); "
                f"{remaining:.0f} of the month's {budget_min:.0f} minutes of budget remain (norm {norm:g} "
                "%, R6).",
                o.get("afnemer_id"),
            )
        for tr in list(self._open.values()):
            if (
                tr.rule == "availability_budget"
                and (tr.service, tr.environment) == (service, env)
                and tr.subject.startswith("outage ")
                and tr.subject.endswith(scope)
                and (scope or not tr.subject.endswith(" website"))
            ):
                oid = tr.subject[len("outage ") : len(tr.subject) - len(scope)]
                if oid in ongoing:
                    continue
                o = self._snaps.outages.get((service, oid))
                ended = o.get("ended_at") if o is not None else None
                when = ended if ended is not None and _key(ended) <= now else at
                self._emit(
                    out,
                    "availability_budget",
                    tr.severity,
                    "resolved",
                    service,
                    env,
                    tr.subject,
                    remaining,
                    budget_min,
                    when,
                    f"Outage {oid} of {name} {env} no longer counts as ongoing unavailability; "
                    f"{remaining:.0f} of "
                    f"{budget_min:.0f} minutes of budget remain (R6, R8).",
                )
        exhausted = f"{month} budget{scope}"
        if remaining < 0:
            self._emit(
                out,
                "availability_budget",
                rule.exhausted_severity,
                "firing",
                service,
                env,
                exhausted,
                remaining,
                budget_min,
                at,
                f"{name} {env} has used its whole unavailability budget for {month}: {u_now_min:.0f} minutes "
                f"against {budget_min:.0f} allowed, so its availability norm of {norm:g} % is breached (R6).",
            )
        projection = f"{month} projection{scope}"
        avail = norms.availability.get(env if not scope else "website")
        elapsed_h = 0.0
        if avail is not None:
            elapsed_h = total_seconds(window_of(norms.calendar, avail.window, month.start, at)) / 3600
        elapsed_h -= float(so_far.maintenance_hours)
        projected = u_now_min / elapsed_h * (h - m) if elapsed_h > 0 else 0.0
        hot = (
            u_now_min > 0
            and remaining > 0
            and elapsed_h >= rule.projection_min_elapsed_hours
            and projected > budget_min
        )
        if hot:
            self._emit(
                out,
                "availability_budget",
                rule.projection_severity,
                "firing",
                service,
                env,
                projection,
                remaining,
                budget_min,
                at,
                f"At its rate so far {name} {env} would be unavailable {projected:.0f} minutes in {month}, "
                "over "
                f"the {budget_min:.0f} minutes its norm of {norm:g} % allows; {remaining:.0f} minutes "
                "remain (R6).",
            )
        elif self._is_firing("availability_budget", service, env, projection) and remaining > 0:
            self._emit(
                out,
                "availability_budget",
                rule.projection_severity,
                "resolved",
                service,
                env,
                projection,
                remaining,
                budget_min,
                at,
                f"At its rate so far {name} {env} stays within its unavailability budget for {month}: "
                f"{remaining:.0f} of {budget_min:.0f} minutes remain (R6).",
            )
