"""The SNO calendar: months, workdays, office hours and daily windows in Europe/Amsterdam (R1–R4).

Every calendar notion of the agreements is local to the Netherlands (R1) while events carry instants in
any offset. This module is the single place where the two meet, so that no rule does its own date
arithmetic:

* :class:`Month` is the reporting month of R2, from local midnight to local midnight; its length is the
  real elapsed time (743 h in March 2026, 745 h in October 2026).
* :class:`WorkCalendar` knows the *algemeen erkende feestdagen* of R3 and turns wall-clock windows such as
  "workdays 08:00–17:00" (R4, R7) or "00:00–06:00" (R9) into intervals of real instants.

Windows are wall-clock: 00:00–06:00 on the night clocks go forward lasts five real hours, on the night
they go back seven. A wall-clock time that does not exist (the skipped hour) or exists twice (the repeated
hour) is resolved as Python does with ``fold=0``: the first occurrence, and a skipped time lies as far
after the jump as it was meant to lie after the hour before it. No window of the agreements starts or
ends in those hours.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays as holidays_pkg

from sno.core.intervals import Interval, instant_key

__all__ = ["TZ", "Month", "WorkCalendar", "clock_seconds", "koningsdag"]

TZ = ZoneInfo("Europe/Amsterdam")

_ONE_DAY = timedelta(days=1)
_US_PER_DAY = 86_400_000_000
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


def _require_aware(instant: datetime, name: str) -> None:
    if not isinstance(instant, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} is naive ({instant.isoformat()}): instants must carry a UTC offset (R1)")


def _require_date(day: date, name: str) -> None:
    # A datetime is a date too, but passing one is a bug: its local day depends on the offset.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"{name} must be a date (not a datetime), got {type(day).__name__}")


def _window_span(start: datetime, end: datetime, from_t: time, to_t: time) -> tuple[int, int]:
    """The checked arguments of a daily-window question (aware instants, wall-clock times): [start, end)
    as instant keys."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    _require_wall_time(from_t, "from_t")
    _require_wall_time(to_t, "to_t")
    return instant_key(start), instant_key(end)


def _require_wall_time(t: time, name: str) -> None:
    if not isinstance(t, time):
        raise TypeError(f"{name} must be a datetime.time, got {type(t).__name__}")
    if t.tzinfo is not None:
        raise ValueError(f"{name} must be a local wall-clock time without tzinfo (R1), got {t.isoformat()}")


def clock_seconds(start: datetime, end: datetime) -> float:
    """Real elapsed seconds from ``start`` to ``end`` (klokuren, R4); negative when ``end`` is earlier.

    Subtracting two datetimes that share a ``ZoneInfo`` gives wall-clock time, which is an hour off
    across a DST change; this goes by instants instead (R1).
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    return (instant_key(end) - instant_key(start)) / 1_000_000


@dataclass(frozen=True, order=True)
class Month:
    """A reporting month (R2): local midnight of the 1st to local midnight of the next 1st (R1)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if not 1 <= self.year <= 9998:
            raise ValueError(f"year must be 1..9998, got {self.year}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """The month named ``YYYY-MM`` as on the command line and in reports (R2)."""
        match = _MONTH_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"invalid month {text!r}: expected YYYY-MM, for example 2026-04")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"invalid month {text!r}: the month number must be 01..12")
        return cls(year, month)

    @classmethod
    def of(cls, instant: datetime) -> Month:
        """The local month containing ``instant`` (R1, R2): 2026-03-31T23:30Z is already April."""
        _require_aware(instant, "instant")
        local = instant.astimezone(TZ)
        return cls(local.year, local.month)

    @property
    def first_day(self) -> date:
        """The 1st, the day whose norms apply to the whole month (R5)."""
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        """Local midnight of the 1st (R2); midnight always exists in Europe/Amsterdam."""
        return datetime(self.year, self.month, 1, tzinfo=TZ)

    @property
    def end(self) -> datetime:
        """Local midnight of the next month's 1st (R2), the exclusive end."""
        return self.next().start

    @property
    def hours(self) -> float:
        """Real elapsed hours of the month (R1): 743 in March 2026, 745 in October 2026."""
        return clock_seconds(self.start, self.end) / 3600

    def next(self) -> Month:
        """The following month (R2)."""
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def prev(self) -> Month:
        """The preceding month (R2)."""
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def days(self) -> list[date]:
        """Every local day of the month, for daily KPIs (R2, R18)."""
        first, last = self.first_day, self.next().first_day
        return [first + timedelta(days=i) for i in range((last - first).days)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# The `holidays` package names (language en_US) of the R3 feestdagen it is trusted with, and their Dutch
# names. Koningsdag and 5 mei are computed here instead: the package lists 5 May only in lustrum years and
# its Koningsdag is not the R3 rule in every year.
_PACKAGE_FEESTDAGEN: Mapping[str, str] = MappingProxyType(
    {
        "New Year's Day": "Nieuwjaarsdag",
        "Good Friday": "Goede Vrijdag",
        "Easter Sunday": "Eerste Paasdag",
        "Easter Monday": "Tweede Paasdag",
        "Ascension Day": "Hemelvaartsdag",
        "Pentecost": "Eerste Pinksterdag",
        "Pentecost Monday": "Tweede Pinksterdag",
        "Christmas Day": "Eerste Kerstdag",
        "Second Day of Christmas": "Tweede Kerstdag",
    }
)
KONINGSDAG = "Koningsdag"
BEVRIJDINGSDAG = "Bevrijdingsdag (5 mei)"
EXTRA_DAY = "Gelijkgestelde dag (normcatalogus)"


def koningsdag(year: int) -> date:
    """27 April, or 26 April when the 27th is a Sunday (R3, Algemene termijnenwet art. 3)."""
    day = date(year, 4, 27)
    return day - _ONE_DAY if day.weekday() == 6 else day


@functools.cache
def _feestdagen(year: int) -> Mapping[date, str]:
    """The R3 feestdagen of ``year``: the package's Netherlands calendar, corrected.

    Anything the package lists beyond R3 is dropped; a feestdag it fails to list is an error rather than
    a silent workday, since it would shift every office-hour resolution time around it.
    """
    found: dict[date, str] = {}
    for day, name in holidays_pkg.country_holidays("NL", years=year, language="en_US").items():
        for part in name.split("; "):  # the package joins names of holidays that fall on the same day
            if part in _PACKAGE_FEESTDAGEN:
                found[day] = _PACKAGE_FEESTDAGEN[part]
    missing = set(_PACKAGE_FEESTDAGEN.values()) - set(found.values())
    if missing:
        raise RuntimeError(
            f"the holidays package no longer lists {sorted(missing)} for {year} under the expected names; "
            "update _PACKAGE_FEESTDAGEN (R3)"
        )
    found.setdefault(koningsdag(year), KONINGSDAG)
    found.setdefault(date(year, 5, 5), BEVRIJDINGSDAG)
    return MappingProxyType(dict(sorted(found.items())))


def _weekdays_through(day: date) -> int:
    """Mondays to Fridays from 0001-01-01 (a Monday) through ``day``: a closed form for counting."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


@functools.cache
def _offset_change_days(year: int) -> tuple[date, ...]:
    """Days D of ``year`` whose local midnight has another UTC offset than the next day's (R1).

    Only windows touching such a day differ from their wall-clock length, so the closed form of
    office_seconds corrects just those. Probing month starts first keeps this to a few dozen look-ups.
    """
    changes: list[date] = []
    for m in range(1, 13):
        first = date(year, m, 1)
        nxt = date(year + 1, 1, 1) if m == 12 else date(year, m + 1, 1)
        if _midnight(first).utcoffset() == _midnight(nxt).utcoffset():
            continue
        day = first
        while day < nxt:
            if _midnight(day).utcoffset() != _midnight(day + _ONE_DAY).utcoffset():
                changes.append(day)
            day += _ONE_DAY
    return tuple(changes)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ)


def _day_window(day: date, from_t: time, to_t: time) -> tuple[datetime, datetime]:
    """The wall-clock window [from_t, to_t) that belongs to ``day`` (R4, R7, R9).

    When ``to_t <= from_t`` it ends on the next day (23:00–07:00 of Monday is Monday's night), which also
    makes ``time(0)`` as ``to_t`` mean the midnight that ends ``day``.
    """
    start = datetime.combine(day, from_t, tzinfo=TZ)
    end_day = day + _ONE_DAY if to_t <= from_t else day
    return start, datetime.combine(end_day, to_t, tzinfo=TZ)


def _nominal_us(from_t: time, to_t: time) -> int:
    """Wall-clock length of a daily window in microseconds: its real length on days without a DST change."""

    def us(t: time) -> int:
        return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond

    length = us(to_t) - us(from_t)
    return length + _US_PER_DAY if length <= 0 else length


class WorkCalendar:
    """Workdays of R3 and the windows built on them (R4, R7, R9, R11, R20, R21).

    ``extra_holidays`` are days that a decree equates with a feestdag (for example 15 May 2026); R3 says
    they count only when the norm catalogue configures them, so they are a constructor argument.
    """

    def __init__(self, extra_holidays: Iterable[date] = ()) -> None:
        extras = tuple(extra_holidays)
        for day in extras:
            _require_date(day, "extra holiday")
        self._extra: frozenset[date] = frozenset(extras)
        self._years: dict[int, Mapping[date, str]] = {}

    def __repr__(self) -> str:
        return f"WorkCalendar(extra_holidays={sorted(self._extra)!r})"

    @property
    def extra_holidays(self) -> frozenset[date]:
        """The configured extra days (R3)."""
        return self._extra

    def _of_year(self, year: int) -> Mapping[date, str]:
        found = self._years.get(year)
        if found is None:
            days = dict(_feestdagen(year))
            for extra in self._extra:
                if extra.year == year:
                    days.setdefault(extra, EXTRA_DAY)
            found = self._years[year] = MappingProxyType(dict(sorted(days.items())))
        return found

    def holidays(self, year: int) -> dict[date, str]:
        """The feestdagen of R3 in ``year`` plus the configured extra days, with their Dutch names."""
        return dict(self._of_year(year))

    def is_holiday(self, d: date) -> bool:
        """True on an algemeen erkende feestdag of R3 or a configured extra day, whatever the weekday."""
        _require_date(d, "d")
        return d in self._of_year(d.year)

    def is_workday(self, d: date) -> bool:
        """Not a Saturday, a Sunday or a feestdag (R3)."""
        _require_date(d, "d")
        return d.weekday() < 5 and d not in self._of_year(d.year)

    def add_workdays(self, d: date, n: int) -> date:
        """The ``n``-th workday after ``d`` (R3): deadlines such as "announced 5 workdays before" (R9)
        and "answered within 2 workdays" (R20, R21). ``n=0`` gives ``d`` itself."""
        _require_date(d, "d")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day = d
        while n > 0:
            day += _ONE_DAY
            if self.is_workday(day):
                n -= 1
        return day

    def workdays_between(self, a: date, b: date) -> int:
        """Workdays ``d`` with ``a < d <= b`` (R3); negative (minus the count of ``b < d <= a``) when
        ``b < a``. Closed form, so spans of years cost only their holidays."""
        _require_date(a, "a")
        _require_date(b, "b")
        if b < a:
            return -self.workdays_between(b, a)
        count = _weekdays_through(b) - _weekdays_through(a)
        for year in range(a.year, b.year + 1):
            count -= sum(1 for h in self._of_year(year) if a < h <= b and h.weekday() < 5)
        return count

    def _counts(self, day: date, workdays_only: bool) -> bool:
        return self.is_workday(day) if workdays_only else True

    def window_intervals(
        self, start: datetime, end: datetime, from_t: time, to_t: time, workdays_only: bool
    ) -> list[Interval]:
        """The daily wall-clock windows [from_t, to_t) inside [start, end), in local time (R4, R7, R9).

        Each window belongs to the day it starts on, so a night window of a workday counts even when
        it ends on a Saturday; on DST nights a window is as long as the clocks make it (R1).
        """
        ks, ke = _window_span(start, end, from_t, to_t)
        if ke <= ks:
            return []
        start, end = start.astimezone(TZ), end.astimezone(TZ)
        out: list[Interval] = []
        day, last = start.date() - _ONE_DAY, end.date()
        while day <= last:
            if self._counts(day, workdays_only):
                ws, we = _day_window(day, from_t, to_t)
                kws, kwe = instant_key(ws), instant_key(we)
                if kws < ks:
                    kws, ws = ks, start
                if kwe > ke:
                    kwe, we = ke, end
                if kwe > kws:
                    out.append(Interval(ws, we))
            day += _ONE_DAY
        return out

    def window_seconds(
        self, start: datetime, end: datetime, from_t: time, to_t: time, workdays_only: bool
    ) -> float:
        """Seconds of [start, end) inside the daily windows of :meth:`window_intervals` (R4, R7).

        Closed form: the two ends are clipped day by day, the whole days between are counted (workdays
        via :meth:`workdays_between`) times the wall-clock length, and only windows touching a DST change
        are corrected. A span of years costs a handful of days, not one step per day or minute.
        """
        ks, ke = _window_span(start, end, from_t, to_t)
        if ke <= ks:
            return 0.0
        first, last = start.astimezone(TZ).date(), end.astimezone(TZ).date()
        # Windows of days first+1 .. last-2 lie wholly inside [start, end): a window of day X ends at
        # the latest at midnight ending day X+1. Days outside that range may be cut by start or end.
        mid_first, mid_last = first + _ONE_DAY, last - 2 * _ONE_DAY
        total = 0
        edge_days = sorted({first - _ONE_DAY, first, last - _ONE_DAY, last})
        for day in edge_days:
            if mid_first <= day <= mid_last or not self._counts(day, workdays_only):
                continue
            ws, we = _day_window(day, from_t, to_t)
            total += max(0, min(instant_key(we), ke) - max(instant_key(ws), ks))
        if mid_first <= mid_last:
            nominal = _nominal_us(from_t, to_t)
            if workdays_only:
                days = self.workdays_between(mid_first - _ONE_DAY, mid_last)
            else:
                days = (mid_last - mid_first).days + 1
            total += days * nominal
            # A DST change on day C alters the windows of C (it may contain the change) and of C-1 (a
            # window crossing midnight into C may contain it).
            affected: set[date] = set()
            for year in range(mid_first.year, mid_last.year + 2):
                for change in _offset_change_days(year):
                    affected.update((change - _ONE_DAY, change))
            for day in affected:
                if mid_first <= day <= mid_last and self._counts(day, workdays_only):
                    ws, we = _day_window(day, from_t, to_t)
                    total += instant_key(we) - instant_key(ws) - nominal
        return total / 1_000_000

    def office_seconds(self, start: datetime, end: datetime, from_t: time, to_t: time) -> float:
        """Seconds of [start, end) in office hours, the workday windows [from_t, to_t) (kantooruren, R4),
        exact to the microsecond; used for P2/P3 resolution times (R11). Zero when ``end <= start``."""
        return self.window_seconds(start, end, from_t, to_t, workdays_only=True)
