"""What every rule needs: the month being judged, its SNO version and its inputs (R1, R2, R5)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sno.core.buckets import MonthInputs
from sno.core.calendar import TZ, Month, WorkCalendar
from sno.core.catalogue import VersionNorms
from sno.core.intervals import Interval
from sno.core.snapshots import Snapshots


@dataclass(frozen=True)
class Context:
    """One service, environment and month, judged by ``norms`` (the version in force on its 1st, R5)."""

    service: str
    environment: str
    month: Month
    norms: VersionNorms
    inputs: MonthInputs
    snapshots: Snapshots
    year_inputs: MonthInputs | None = None

    @property
    def calendar(self) -> WorkCalendar:
        return self.norms.calendar

    @property
    def span(self) -> Interval:
        """The month as an interval of instants (R2)."""
        return Interval(self.month.start, self.month.end)

    def rows(self, family: str, inputs: MonthInputs | None = None) -> Iterator[tuple[tuple, list[int]]]:
        """Bucket rows of this service and environment in this month (R2)."""
        source = self.inputs if inputs is None else inputs
        if family == "support_day":
            return source.select(
                family, self.service, self.environment, self.month.first_day, self.month.next().first_day
            )
        return source.select(family, self.service, self.environment, self.month.start, self.month.end)

    def snapshots_of(self, kind: str) -> Iterator[dict[str, Any]]:
        return self.snapshots.of(kind, self.service, self.environment)


def local_iso(instant: datetime | None) -> str | None:
    """An instant as RFC 3339 in local time (R1), as reports show it."""
    return None if instant is None else instant.astimezone(TZ).isoformat()


def day_iso(day: date) -> str:
    return day.isoformat()


def hours(seconds: float) -> float:
    return seconds / 3600.0
