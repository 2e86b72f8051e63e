"""The norm catalogue: every SNO number, read from one TOML file per SNO version (R5).

The agreements change over time and a new version must be a new data file, never a code change, so
this module only knows the *shape* of a version (which norms exist and their ranges); the numbers live
in ``sno/core/norms/*.toml``. The pydantic models reject unknown keys and out-of-range numbers so that
a typo in a norm file fails loudly instead of silently changing a KPI.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sno.core.calendar import Month, WorkCalendar

SERVICES: tuple[str, ...] = ("digid", "digid-machtigen", "mijnoverheid")
ENVIRONMENTS: tuple[str, ...] = ("production", "preproduction")
CAUSES: tuple[str, ...] = ("logius", "afnemer", "internet", "force_majeure", "dependency")

Service = Literal["digid", "digid-machtigen", "mijnoverheid"]
Environment = Literal["production", "preproduction"]
Cause = Literal["logius", "afnemer", "internet", "force_majeure", "dependency"]
Percent = float
NORMS_FOLDER = Path(__file__).with_name("norms")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Window(_Strict):
    """A daily local wall-clock window (R1, R4, R7); ``from == to == 00:00`` on all days is 24×7.

    ``to <= from`` means the window crosses midnight and belongs to the day it starts on.
    """

    days: Literal["all", "workdays"]
    from_: time = Field(alias="from")
    to: time
    stated: str = ""

    @property
    def is_24x7(self) -> bool:
        return self.days == "all" and self.from_ == time(0) and self.to == time(0)


class StatedNorm(_Strict):
    """A norm reported as stated because no event measures it (section 8, R22)."""

    norm: str
    stated: str
    rule: str = ""


class DatedNote(_Strict):
    """A note a report must carry for months whose first day lies in [from, until] (R5)."""

    text: str
    from_: date | None = Field(default=None, alias="from")
    until: date | None = None

    def applies(self, day: date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.until is None or day <= self.until)


class Availability(_Strict):
    """Availability window and monthly norm of one environment (R7); ``norm`` None = no norm stated."""

    window: Window
    norm: Percent | None = Field(default=None, ge=0, le=100)
    stated: str = ""


class ComponentWindow(_Strict):
    """A MijnOverheid maintenance component with its regular day and hours (R9)."""

    component: str
    per_month: int = Field(ge=0)
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    nth: int = Field(ge=1, le=5)
    hours: Window
    notice_workdays: int = Field(ge=0)
    moved_notice_workdays: int | None = Field(default=None, ge=0)
    counts_as_maintenance: bool = True
    stated: str = ""


class Maintenance(_Strict):
    """Planned-maintenance limits of one environment (R9).

    DigiD and Machtigen: ``max_windows_per_month`` windows, only their part inside ``hours`` counts;
    MijnOverheid: per ``components``. ``max_windows_per_month = 0`` with no components means no
    planned window may fall inside the availability window (pre-production of DigiD and Machtigen).
    """

    max_windows_per_month: int = Field(default=0, ge=0)
    hours: Window | None = None
    notice_workdays: int = Field(default=0, ge=0)
    components: list[ComponentWindow] = []
    usual_days: str = ""
    stated: str = ""

    @model_validator(mode="after")
    def _hours_needed(self) -> Maintenance:
        if self.max_windows_per_month > 0 and self.hours is None:
            raise ValueError("maintenance with max_windows_per_month > 0 needs hours")
        return self


class ResolutionTarget(_Strict):
    """Resolution target of one priority (R11)."""

    hours: float = Field(gt=0)
    basis: Literal["clock", "office"]

    @property
    def seconds(self) -> float:
        """The target in seconds of its basis (clock or office hours)."""
        return self.hours * 3600

    def within(self, seconds: float) -> bool:
        """Resolved within the target: ``seconds`` (on the target's basis) at most the target (R11)."""
        return seconds <= self.seconds


class IncidentTargets(_Strict):
    """Targets per priority of one environment; a missing priority is "N.v.t." (R11)."""

    p1: ResolutionTarget | None = None
    p2: ResolutionTarget | None = None
    p3: ResolutionTarget | None = None

    def of(self, priority: int) -> ResolutionTarget | None:
        """The target of priority 1, 2 or 3 (R10); None: that priority is not judged here (N.v.t.)."""
        target: ResolutionTarget | None = getattr(self, f"p{priority}")
        return target


class Incidents(_Strict):
    """Resolution norms (R10–R12)."""

    norm: Percent = Field(ge=0, le=100)
    production: IncidentTargets
    preproduction: IncidentTargets
    stated: str = ""

    def targets(self, environment: str) -> IncidentTargets:
        """The R11 targets an incident of this environment is judged by: production's, or else the
        pre-production table (the SNO knows the two environments only)."""
        return self.production if environment == "production" else self.preproduction


class P1Notice(_Strict):
    """R13: afnemers are informed within ``minutes`` of detection of a P1."""

    minutes: float = Field(gt=0)
    norm: Percent = Field(ge=0, le=100)
    stated: str = ""


class Performance(_Strict):
    """Processing time and capacity (R14–R16)."""

    processing_limit_seconds: float = Field(gt=0)
    processing_comparison: Literal["le", "lt"]
    processing_norm: Percent = Field(ge=0, le=100)
    capacity_per_minute: int = Field(gt=0)
    stated: str = ""

    @cached_property
    def processing_limit_us(self) -> int:
        """The processing limit in microseconds, rounded once here for every path that judges R14."""
        return round(self.processing_limit_seconds * 1_000_000)

    def within_processing_limit(self, elapsed_us: int) -> bool:
        """R14: a login that took ``elapsed_us`` is within the limit when it took at most (``le``) or less
        than (``lt``) the limit, as the version words it; the one place this is decided."""
        if self.processing_comparison == "le":
            return elapsed_us <= self.processing_limit_us
        return elapsed_us < self.processing_limit_us


class CapacityForecast(_Strict):
    """R17 thresholds (an afnemer above any one must send forecasts)."""

    per_year: int = Field(gt=0)
    per_month: int = Field(gt=0)
    peak_per_minute: int = Field(gt=0)
    stated: str = ""


class MijnOverheidLimits(_Strict):
    """Every MijnOverheid production limit of R18 and R19."""

    messages_per_day: int = Field(gt=0)
    messages_per_hour: int = Field(gt=0)
    messages_per_second: int = Field(gt=0)
    message_processing_hours: float = Field(gt=0)
    message_processing_norm: Percent = Field(ge=0, le=100)
    notifications_per_hour: int = Field(gt=0)
    notifications_per_day: int = Field(gt=0)
    notifications_out_of_order: int = Field(ge=0)
    berichtpresentatie_ms: float = Field(gt=0)
    berichtpresentatie_norm: Percent = Field(ge=0, le=100)
    abonnement_hours: float = Field(gt=0)
    abonnement_norm: Percent = Field(ge=0, le=100)
    abonnement_night: Window
    abonnement_per_night: dict[str, int]
    validatieservice_per_hour: int = Field(gt=0)
    validatieservice_seconds: float = Field(gt=0)
    validatieservice_norm: Percent = Field(ge=0, le=100)
    attachments_share_max: Percent = Field(ge=0, le=100)
    attachment_bytes_max: int = Field(gt=0)
    attachments_over_max: int = Field(ge=0)
    forecast_deviation_max: Percent = Field(ge=0)

    @cached_property
    def message_processing_limit_us(self) -> int:
        """The message processing limit in microseconds (R18, 24 h), rounded once here, so that the fold,
        the rules and the report's SQL parameter judge a message late at the same instant."""
        return round(self.message_processing_hours * 3_600_000_000)

    @model_validator(mode="after")
    def _apis(self) -> MijnOverheidLimits:
        expected = {"abonnement-alles", "abonnement-bsn-lijst", "abonnement-mutatiebasis"}
        if set(self.abonnement_per_night) != expected:
            raise ValueError(f"abonnement_per_night must name exactly {sorted(expected)}")
        if any(v <= 0 for v in self.abonnement_per_night.values()):
            raise ValueError("abonnement_per_night limits must be positive")
        return self


class PhoneSupport(_Strict):
    """R20 phone norms; ``answer_long_*`` only where the text has the 10-minute norm."""

    answer_seconds: float = Field(gt=0)
    answer_norm: Percent = Field(ge=0, le=100)
    answer_long_seconds: float | None = Field(default=None, gt=0)
    answer_long_norm: Percent | None = Field(default=None, ge=0, le=100)
    abandon_max: Percent = Field(ge=0, le=100)
    satisfaction_above: float = Field(ge=1, le=10)
    stated: str = ""


class WrittenSupport(_Strict):
    """R20 e-mail/webform and R21 afnemer norms: answered within ``workdays`` for ``norm`` %."""

    channels: list[Literal["email", "webform", "afnemer"]]
    kinds: list[Literal["question", "complaint", "incident"]]
    workdays: int = Field(gt=0)
    norm: Percent = Field(ge=0, le=100)
    stated: str = ""


class Support(_Strict):
    """Support norms (R20, R21)."""

    phone: PhoneSupport
    written: WrittenSupport
    afnemer: WrittenSupport


class VersionNorms(_Strict):
    """One SNO version: its validity (R5) and every norm the rules read."""

    service: Service
    version: str
    title: str
    source: str
    valid_from: date
    valid_until: date | None = None
    applied_until: date | None = None
    notes: list[DatedNote] = []
    past_term_note: str = ""
    extra_holidays: list[date] = []
    office_hours: Window
    excluded_causes: list[Cause]
    availability: dict[Literal["production", "preproduction", "website"], Availability]
    maintenance: dict[Environment, Maintenance]
    incidents: Incidents
    p1_notice: P1Notice | None = None
    performance: Performance | None = None
    capacity_forecast: CapacityForecast | None = None
    mijnoverheid: MijnOverheidLimits | None = None
    support: Support
    not_measured: list[StatedNorm] = []

    @model_validator(mode="after")
    def _consistent(self) -> VersionNorms:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until lies before valid_from")
        if self.applied_until is not None and self.applied_until < self.valid_from:
            raise ValueError("applied_until lies before valid_from")
        if "production" not in self.availability:
            raise ValueError("availability.production is required")
        if self.service == "mijnoverheid" and self.mijnoverheid is None:
            raise ValueError("a MijnOverheid version needs the [mijnoverheid] limits")
        if self.service != "mijnoverheid" and self.performance is None:
            raise ValueError("a DigiD or Machtigen version needs [performance]")
        if self.office_hours.days != "workdays":
            raise ValueError("office hours are on workdays (R4)")
        return self

    def applies_on(self, day: date) -> bool:
        """Whether this version judges a month whose first day is ``day`` (R5)."""
        if day < self.valid_from:
            return False
        return self.applied_until is None or day <= self.applied_until

    @cached_property
    def calendar(self) -> WorkCalendar:
        """The R3 workday calendar with this version's configured extra days."""
        return WorkCalendar(self.extra_holidays)

    @cached_property
    def processing_limit(self) -> timedelta:
        assert self.performance is not None
        return timedelta(seconds=self.performance.processing_limit_seconds)


@dataclass(frozen=True)
class Selection:
    """The version that judges one month of one service, and the notes its report carries (R5).

    ``norms`` is None for a month before the service's first version; such a Selection is falsy.
    """

    service: str
    month: Month
    norms: VersionNorms | None
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.norms is not None

    @property
    def version(self) -> str | None:
        return None if self.norms is None else self.norms.version


class Catalogue:
    """All SNO versions of all services, indexed for per-event look-ups (R5)."""

    def __init__(self, versions: list[VersionNorms]) -> None:
        by_service: dict[str, list[VersionNorms]] = {s: [] for s in SERVICES}
        for v in versions:
            by_service[v.service].append(v)
        for service, items in by_service.items():
            items.sort(key=lambda v: v.valid_from)
            for a, b in itertools.pairwise(items):
                if a.valid_from == b.valid_from:
                    raise ValueError(f"{service}: versions {a.version} and {b.version} start on the same day")
        self.versions = by_service
        self._cache: dict[tuple[str, int, int], Selection] = {}

    def select(self, service: str, month: Month) -> Selection:
        """The version in force on the month's first day (R5), with the notes the report must carry."""
        key = (service, month.year, month.month)
        found = self._cache.get(key)
        if found is not None:
            return found
        if service not in self.versions:
            raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
        first = month.first_day
        chosen: VersionNorms | None = None
        for v in self.versions[service]:
            if v.applies_on(first):
                chosen = v
        notes: list[str] = []
        if chosen is None:
            earliest = self.versions[service][0].valid_from if self.versions[service] else None
            notes.append(
                f"No SNO version of {service} is in force on {first.isoformat()}"
                + (f" (the first starts {earliest.isoformat()})" if earliest else "")
                + ": there are no norms to judge this month against (R5)."
            )
        else:
            notes.extend(n.text for n in chosen.notes if n.applies(first))
            if chosen.valid_until is not None and first >= chosen.valid_until and chosen.past_term_note:
                notes.append(chosen.past_term_note)
        selection = Selection(service=service, month=month, norms=chosen, notes=notes)
        self._cache[key] = selection
        return selection

    def norms_for(self, service: str, year: int, month: int) -> VersionNorms | None:
        """Fast path for per-event look-ups: the version judging (year, month), or None (R5)."""
        sel = self._cache.get((service, year, month))
        if sel is None:
            sel = self.select(service, Month(year, month))
        return sel.norms


def load_version(path: Path) -> VersionNorms:
    """Read and validate one version file; errors name the file (R5)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    try:
        return VersionNorms.model_validate(data)
    except Exception as exc:
        raise ValueError(f"{path}: {exc}") from exc


def load_catalogue(folder: Path | None = None) -> Catalogue:
    """Load every ``*.toml`` in ``folder`` (default: the shipped norms) as the catalogue (R5)."""
    folder = NORMS_FOLDER if folder is None else Path(folder)
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise ValueError(f"no norm files (*.toml) in {folder}")
    return Catalogue([load_version(p) for p in files])
