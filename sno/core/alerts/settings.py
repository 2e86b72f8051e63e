"""How and when to warn, read from ``sno/core/alerts.toml`` (never an SNO number: those come from the norm
catalogue for the month of the alert's event time, R5)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ALERT_RULES_FILE", "MO_MEASURES", "AlertRules", "load_alert_rules"]

#: beside the package, not in norms/: load_catalogue() reads every norms/*.toml as an SNO version
ALERT_RULES_FILE = Path(__file__).resolve().parent.parent / "alerts.toml"

Severity = Literal["page", "ticket"]
Environment = Literal["production", "preproduction"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineSettings(_Strict):
    """Event-time bookkeeping shared by every rule (docs/interfaces.md: ``replayed``;
    sno/core/ALERTS.md: watermark)."""

    replayed_after_seconds: float = Field(gt=0)
    allowed_lateness_seconds: float = Field(ge=0)
    idle_source_seconds: float = Field(gt=0)
    forget_resolved_after_hours: float = Field(gt=0)


class CountingRule(_Strict):
    """A limit per unit of time (R15 capacity per minute, R18 MijnOverheid limits)."""

    severity: Severity
    environments: list[Environment]
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
    environments: list[Environment]
    windows: list[BurnWindow]


class AvailabilityRule(_Strict):
    """The month's unavailability budget (R6–R9, R16)."""

    ongoing_severity: Severity
    exhausted_severity: Severity
    projection_severity: Severity
    projection_min_elapsed_hours: float = Field(ge=0)
    projection_every_minutes: int = Field(gt=0)


class ClockThreshold(_Strict):
    percent: float = Field(gt=0)
    severity: Severity


class IncidentClockRule(_Strict):
    """Fractions of the R11 resolution target at which an open incident alerts."""

    thresholds: list[ClockThreshold]


class SimpleRule(_Strict):
    severity: Severity


class AlertRules(_Strict):
    """Every alert rule's settings (``alerts.toml``)."""

    engine: EngineSettings
    capacity_exceeded: CountingRule
    mijnoverheid_limit: CountingRule
    processing_time_burn: BurnRule
    availability_budget: AvailabilityRule
    incident_clock: IncidentClockRule
    p1_not_notified: SimpleRule
    maintenance_invalid: SimpleRule


#: The R18 measures: event type, api (or None), limit attribute of the catalogue, unit, and the series
#: (time step in seconds) the unit is summed from: seconds for messages, minutes for the others.
MO_MEASURES: dict[str, tuple[str, str | None, str, str, int]] = {
    "messages_per_second": ("message", None, "messages_per_second", "second", 1),
    "messages_per_hour": ("message", None, "messages_per_hour", "hour", 1),
    "messages_per_day": ("message", None, "messages_per_day", "day", 1),
    "notifications_per_hour": ("notification", None, "notifications_per_hour", "hour", 60),
    "notifications_per_day": ("notification", None, "notifications_per_day", "day", 60),
    "validatieservice_per_hour": ("api_request", "validatieservice", "validatieservice_per_hour", "hour", 60),
}


def load_alert_rules(path: Path | None = None) -> AlertRules:
    """Read and validate the alert rules (default: the shipped ``alerts.toml``) so a typo fails loudly."""
    path = ALERT_RULES_FILE if path is None else Path(path)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    try:
        rules = AlertRules.model_validate(data)
    except Exception as exc:
        raise ValueError(f"{path}: {exc}") from exc
    unknown = set(rules.mijnoverheid_limit.measures) - set(MO_MEASURES)
    if unknown:
        raise ValueError(f"{path}: unknown mijnoverheid_limit measures {sorted(unknown)}")
    return rules
