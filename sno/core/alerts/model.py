"""The alert itself: its typed subject, its id, and its two outward forms (docs/interfaces.md "Alerts").

An alert id is a hash of (rule, service, environment, subject text) and has one lifecycle, firing →
resolved, so a subject names one breach. The subject is typed here (a minute, an incident threshold, a
burn episode …) and stored as a small JSON key beside its text in `sno_alerts`, so that a restarted
engine knows what a firing alert is about without parsing sentences back out of strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from sno.core.calendar import TZ
from sno.core.intervals import instant_key

__all__ = [
    "ALERT_COLUMNS",
    "INTERFACE_KEYS",
    "RULES",
    "Alert",
    "EpisodeSubject",
    "IncidentSubject",
    "MaintenanceSubject",
    "MinuteSubject",
    "MonthSubject",
    "OutageSubject",
    "Subject",
    "ThresholdSubject",
    "UnitSubject",
    "alert_id",
    "at_key",
    "iso",
    "subject_from_key",
    "subject_of",
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

Severity = Literal["page", "ticket"]
State = Literal["firing", "resolved"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at_key(key_us: int) -> datetime:
    """An instant key (µs since the epoch) as a local aware datetime (R1)."""
    return (_EPOCH + timedelta(microseconds=key_us)).astimezone(TZ)


def iso(key_us: int) -> str:
    return at_key(key_us).isoformat()


def alert_id(rule: str, service: str, environment: str, subject: str) -> str:
    """The stable id of one breach: the same (rule, service, environment, subject) always gives the same
    id, so replays and restarts de-duplicate (docs/interfaces.md)."""
    raw = "\x1f".join((rule, service, environment, subject)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


# ---- subjects ---------------------------------------------------------------------------------------


#: How a field of a subject reads in its text: an instant key as local RFC 3339 (R1), the website flag
#: as a trailing word; any other field as itself.
_TEXT_FORMS: dict[str, Callable[[Any], str]] = {
    "at": iso,
    "website": lambda website: " website" if website else "",
}


#: Every kind of subject by its name, filled as the classes below are defined.
_KINDS: dict[str, type[Subject]] = {}


class Subject:
    """What one alert is about. ``text`` is the interface's subject; ``key()`` the typed form stored.

    Each kind of subject is its fields and a ``template`` that writes them as the text (``subject_of``
    reads texts of older rows back the same way)."""

    kind: ClassVar[str]
    template: ClassVar[str]

    def __init_subclass__(cls, kind: str, template: str, typed: bool = True, **kwargs: Any) -> None:
        """Register the kind, so that a stored key names its class (``subject_from_key``); a subject
        that only stands in for an untyped text (``typed=False``) is never read back from a key."""
        super().__init_subclass__(**kwargs)
        cls.kind, cls.template = kind, template
        if typed:
            _KINDS[kind] = cls

    def values(self) -> dict[str, Any]:
        """The subject's fields by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @property
    def text(self) -> str:
        values = self.values()
        for name, form in _TEXT_FORMS.items():
            if name in values:
                values[name] = form(values[name])
        return self.template.format(**values)

    def key(self) -> str:
        return json.dumps({"kind": self.kind, **self.values()}, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class MinuteSubject(Subject, kind="minute", template="{at}"):
    """A calendar minute over capacity (R15)."""

    at: int


@dataclass(frozen=True)
class UnitSubject(Subject, kind="unit", template="{measure} {at}"):
    """One second, clock hour or calendar day of an R18 measure."""

    measure: str
    at: int


@dataclass(frozen=True)
class EpisodeSubject(Subject, kind="episode", template="{at} {window}"):
    """A burn-rate episode of one window pair, named by the minute boundary it started at (R14)."""

    at: int
    window: str


@dataclass(frozen=True)
class ThresholdSubject(Subject, kind="threshold", template="{incident} P{priority} {percent:g}%"):
    """A share of the resolution target of an incident at one priority (R10, R11): a re-classified
    incident is a new priority and so a new clock."""

    incident: str
    priority: int
    percent: float


@dataclass(frozen=True)
class IncidentSubject(Subject, kind="incident", template="{incident}"):
    """A P1 incident whose afnemers were not informed in time (R13)."""

    incident: str


@dataclass(frozen=True)
class MaintenanceSubject(Subject, kind="maintenance", template="{maintenance}"):
    """A planned maintenance window that will count as unavailability (R9)."""

    maintenance: str


@dataclass(frozen=True)
class OutageSubject(Subject, kind="outage", template="outage {outage}{website}"):
    """One outage spending the availability budget (R6), of the service or of its website."""

    outage: str
    website: bool = False


@dataclass(frozen=True)
class MonthSubject(Subject, kind="month", template="{month} {what}{website}"):
    """The month's availability budget: ``what`` is ``budget`` (spent) or ``projection`` (R6)."""

    month: str
    what: str
    website: bool = False


def subject_from_key(key: str) -> Subject | None:
    """The typed subject of a stored alert row; None for rows written before subjects were typed."""
    if not key:
        return None
    try:
        data = json.loads(key)
        cls = _KINDS[data.pop("kind")]
        return cls(**data)
    except (ValueError, KeyError, TypeError):
        return None


def subject_of(row: Mapping[str, Any]) -> Subject | None:
    """The typed subject of an alert row or ``to_json`` object: from its key, or else read from its text
    the way each rule writes it (rows of the engine before subjects were typed, or JSON off the topic)."""
    typed = subject_from_key(str(row.get("subject_key") or ""))
    if typed is not None:
        return typed
    rule, text = str(row.get("rule")), str(row.get("subject") or "")
    words = text.split(" ")
    try:
        if rule == "capacity_exceeded":
            return MinuteSubject(instant_key(datetime.fromisoformat(text)))
        if rule == "mijnoverheid_limit":
            return UnitSubject(words[0], instant_key(datetime.fromisoformat(words[1])))
        if rule == "processing_time_burn":
            return EpisodeSubject(instant_key(datetime.fromisoformat(words[0])), words[1])
        if rule == "incident_clock" and len(words) == 3:
            return ThresholdSubject(words[0], int(words[1].removeprefix("P")), float(words[2].rstrip("%")))
        if rule == "p1_not_notified":
            return IncidentSubject(text)
        if rule == "maintenance_invalid":
            return MaintenanceSubject(text)
        if rule == "availability_budget" and words[0] == "outage":
            return OutageSubject(words[1], words[-1] == "website")
        if rule == "availability_budget":
            return MonthSubject(words[0], words[1], words[-1] == "website")
    except (ValueError, IndexError):
        return None
    return None


# ---- the alert ----------------------------------------------------------------------------------------


def _num(value: float | int | None) -> float | int | None:
    if isinstance(value, float):
        r = round(value, 4)
        return 0.0 if r == 0 else r
    return value


def _iso_dt(instant: datetime) -> str:
    return instant.astimezone(TZ).isoformat()


#: The keys of an alert on `sno.alerts`, in docs/interfaces.md order (``to_json`` has exactly these).
INTERFACE_KEYS: tuple[str, ...] = (
    "alert_id",
    "rule",
    "severity",
    "state",
    "service",
    "environment",
    "afnemer_id",
    "subject",
    "value",
    "norm",
    "event_time",
    "emitted_at",
    "replayed",
    "summary",
)


@dataclass(frozen=True)
class Alert:
    """One alert state change. The interface's keys, and two columns of `sno_alerts` beyond them:
    ``subject_key`` (the typed subject) and ``fired_at`` (the firing event time, also on a resolved
    alert, so a replayed breach reaches Alertmanager with both its start and its end)."""

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
    subject_key: str = ""
    fired_at: datetime | None = None

    @property
    def typed_subject(self) -> Subject | None:
        return subject_from_key(self.subject_key)

    def to_json(self) -> dict[str, Any]:
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
            "event_time": _iso_dt(self.event_time),
            "emitted_at": _iso_dt(self.emitted_at),
            "replayed": self.replayed,
            "summary": self.summary,
        }

    as_json = to_json  # the name the stream and older callers use

    def to_row(self) -> tuple[Any, ...]:
        """A `sno_alerts` row in ``ALERT_COLUMNS`` order; instants as naive UTC, as the table stores them."""
        return tuple(_naive_utc(getattr(self, c)) for c in ALERT_COLUMNS)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alert:
        """An alert from a `sno_alerts` row or a ``to_json`` object (instants naive UTC or ISO text)."""
        values = {c: row.get(c) for c in ALERT_COLUMNS}
        for key in ("event_time", "emitted_at", "fired_at"):
            values[key] = aware(values[key])
        values["subject_key"] = values["subject_key"] or ""
        values["replayed"] = bool(values["replayed"])
        if values["emitted_at"] is None:
            values["emitted_at"] = values["event_time"]
        return cls(**values)

    @property
    def event_key(self) -> int:
        return instant_key(self.event_time)


#: The columns of `sno_alerts` (migrations 0004 and 0006), in the dataclass's order.
ALERT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Alert))


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def aware(value: Any) -> datetime | None:
    """An instant of a row (naive UTC from the table, ISO text from the topic) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TZ) if isinstance(value, datetime) else None
