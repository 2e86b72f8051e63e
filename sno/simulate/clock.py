"""Time in the simulator: epoch milliseconds, the hours of a month, RFC 3339 text and office time.

The generator counts in integer epoch milliseconds, because a month at real scale is tens of millions of
instants and an ``int`` costs nothing to add to. Calendar facts (what a workday is, where the office
window of a day lies, R1–R4) are the core's (`sno/core/calendar.py`); this module only converts between
them and milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sno.core.calendar import TZ, WorkCalendar
from sno.core.intervals import instant_key

MINUTE: Final = 60_000
HOUR: Final = 3_600_000
DAY: Final = 86_400_000

#: The office window the simulator answers written contacts and P2/P3 incidents in: workdays 08:00–17:00
#: (R4 under DigiD 3.0, Machtigen 2.1 and MijnOverheid). Only shapes realistic answer times; the rules
#: judge them with each version's own office hours from the norm catalogue.
_OFFICE_OPENS: Final = time(8)
_OFFICE_CLOSES: Final = time(17)
#: How far ahead ``office_after`` asks the calendar for office windows at a time (it asks again beyond).
_OFFICE_HORIZON: Final = timedelta(days=7)

#: "SS.mmm" for every millisecond of a minute: formatting an instant is then one dict look-up and a join.
_SECOND_MILLIS: Final = [f"{ms // 1000:02d}.{ms % 1000:03d}" for ms in range(MINUTE)]


def ms(instant: datetime) -> int:
    """Epoch milliseconds of an aware instant."""
    return int(instant.timestamp() * 1000)


def local_ms(day: date, hour: int, minute: int = 0) -> int:
    """Epoch milliseconds of a local wall-clock time on ``day`` (R1)."""
    return ms(datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ))


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th Monday (0) … Sunday (6) of a month: maintenance days of R9.

    (The core's R9 rule has its own private equivalent in `sno/core/rules/availability.py`; there is no
    public one in `sno/core/calendar.py` to share yet.)
    """
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@dataclass(frozen=True)
class Hour:
    """One clock hour of the generated period, with what kind of day it lies on (R3)."""

    start: int  # epoch ms (UTC hour boundary)
    local_hour: int
    kind: str  # workday | saturday | sunday (holidays count as sunday)
    day_index: int  # 0..6 weekday, 7 for a feestdag on a weekday


def hours_between(start: int, end: int, calendar: WorkCalendar) -> list[Hour]:
    """Every hour from ``start`` to ``end`` (epoch ms), classified by the core's feestdagen (R3)."""
    out: list[Hour] = []
    for hour_start in range(start, end, HOUR):
        local = datetime.fromtimestamp(hour_start / 1000, TZ)
        day = local.date()
        if calendar.is_holiday(day) or day.weekday() == 6:
            kind = "sunday"
        elif day.weekday() == 5:
            kind = "saturday"
        else:
            kind = "workday"
        index = 7 if calendar.is_holiday(day) and day.weekday() < 5 else day.weekday()
        out.append(Hour(hour_start, local.hour, kind, index))
    return out


def office_after(calendar: WorkCalendar, start_ms: int, seconds: float) -> int:
    """The instant ``seconds`` of office time (workdays 08:00–17:00, R3, R4) after ``start_ms``.

    The office windows are the core's (`WorkCalendar.window_intervals`), asked for a week at a time from
    the local midnight of the start; the arithmetic inside them is in milliseconds, as the generator's.
    """
    day = datetime.fromtimestamp(start_ms / 1000, TZ).date()
    remaining = seconds * 1000
    frm = datetime(day.year, day.month, day.day, tzinfo=TZ)
    while True:
        until = frm + _OFFICE_HORIZON
        for window in calendar.window_intervals(frm, until, _OFFICE_OPENS, _OFFICE_CLOSES, True):
            begin = max(start_ms, instant_key(window.start) // 1000)
            closes = instant_key(window.end) // 1000
            if begin < closes:
                if remaining <= closes - begin:
                    return begin + int(remaining)
                remaining -= closes - begin
        frm = until


class TimeFormat:
    """RFC 3339 with millisecond precision from epoch milliseconds, cached per minute."""

    def __init__(self) -> None:
        self._utc: dict[int, str] = {}
        self._local: dict[int, tuple[str, str]] = {}

    def utc(self, ms: int) -> str:
        """The instant in UTC, ``…Z`` (how the DigiD and Machtigen events spell R1)."""
        minute, rest = divmod(ms, MINUTE)
        prefix = self._utc.get(minute) or self._utc_minute(minute)
        return f"{prefix}{_SECOND_MILLIS[rest]}Z"

    def local(self, ms: int) -> str:
        """The instant with the local offset, ``…+02:00`` (the other spelling of R1)."""
        minute, rest = divmod(ms, MINUTE)
        prefix, offset = self._local.get(minute) or self._local_minute(minute)
        return f"{prefix}{_SECOND_MILLIS[rest]}{offset}"

    def _utc_minute(self, minute: int) -> str:
        if len(self._utc) > 4096:  # a bounded cache: the run walks forward, old minutes are not asked again
            self._utc.clear()
        prefix = self._utc[minute] = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        return prefix

    def _local_minute(self, minute: int) -> tuple[str, str]:
        if len(self._local) > 4096:
            self._local.clear()
        local = datetime.fromtimestamp(minute * 60, TZ)
        offset = local.strftime("%z")
        parts = self._local[minute] = (local.strftime("%Y-%m-%dT%H:%M:"), f"{offset[:3]}:{offset[3:]}")
        return parts

    def naive(self, ms: int) -> str:
        """The local wall time without an offset: the mistake `docs/events.md` rejects."""
        return self.local(ms)[:-6]
