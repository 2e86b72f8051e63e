"""How much, and when: the simulator's daily volumes and the hourly and weekly shapes they follow.

Volumes are at scale 1.0, production's order of magnitude: events per day on an ordinary weekday
(weekends and feestdagen, R3, are lower). A stream's shape spreads a day's volume over its hours, with
other weights on Saturdays and on Sundays and feestdagen, and a factor per day of the week.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sno.simulate.clock import Hour

# Volumes at scale 1.0: events per day on an ordinary weekday (weekends and holidays are lower).

DAILY: Final[dict[str, float]] = {
    "authentication": 1_550_000,
    "transaction": 31_000,
    "message": 310_000,
    "notification": 300_000,
    "berichtpresentatie": 195_000,
    "validatieservice": 4_000,
}
#: Abonnementservice requests per night (23:00–07:00); R18 limits are 225 / 150 / 150.
NIGHTLY: Final[dict[str, float]] = {
    "abonnement-alles": 150,
    "abonnement-bsn-lijst": 100,
    "abonnement-mutatiebasis": 100,
}
#: Support contacts per workday by service and channel.
SUPPORT_DAILY: Final[dict[str, dict[str, float]]] = {
    "digid": {"phone": 4_000, "email": 700, "webform": 500, "twitter": 20, "afnemer": 30},
    "digid-machtigen": {"phone": 300, "email": 40, "webform": 80, "twitter": 2, "afnemer": 6},
    "mijnoverheid": {"phone": 700, "email": 150, "webform": 120, "twitter": 4, "afnemer": 15},
}
#: Low-volume streams keep at least this many per day (per night for the abonnement apis) at any
#: scale, so that a small demo month still shows every api and every support channel.
FLOOR_PER_DAY: Final = 0.7

# Hourly shapes (local hour 0..23), by kind of day. Citizens log in during the day with an evening
# peak; afnemers deliver messages in office hours and in night batches.
# fmt: off
_CITIZEN_WORKDAY: Final = (0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 1.0, 1.25, 1.35, 1.35,
                           1.25, 1.3, 1.3, 1.3, 1.25, 1.15, 1.2, 1.45, 1.55, 1.4, 0.95, 0.55)
_CITIZEN_WEEKEND: Final = (0.35, 0.2, 0.12, 0.08, 0.07, 0.08, 0.15, 0.3, 0.6, 0.95, 1.2, 1.3,
                           1.3, 1.3, 1.3, 1.3, 1.25, 1.2, 1.25, 1.45, 1.55, 1.4, 1.0, 0.6)
_BUSINESS_WORKDAY: Final = (0.4, 0.8, 0.9, 0.7, 0.4, 0.3, 0.4, 0.8, 1.3, 1.6, 1.6, 1.5,
                            1.2, 1.4, 1.5, 1.4, 1.2, 0.9, 0.6, 0.5, 0.5, 0.4, 0.4, 0.4)
_BUSINESS_WEEKEND: Final = (0.5, 0.9, 1.0, 0.8, 0.5, 0.3, 0.3, 0.4, 0.6, 0.8, 0.9, 0.9,
                            0.9, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)
_NIGHT: Final = (1.0, 1.2, 1.3, 1.2, 1.0, 0.8, 0.6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5)
# R20: the phone and Twitter service window is workdays 08:00–22:00 (Machtigen also Saturday 09–17).
_PHONE_WORKDAY: Final = (0, 0, 0, 0, 0, 0, 0, 0, 1.2, 1.5, 1.5, 1.4, 1.1, 1.3, 1.3, 1.2, 1.1, 0.9,
                         0.7, 0.8, 0.7, 0.5, 0, 0)
_SATURDAY_9_17: Final = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_OFFICE: Final = (0, 0, 0, 0, 0, 0, 0, 0, 1, 1.2, 1.2, 1.1, 0.8, 1.1, 1.1, 1.0, 0.8, 0, 0, 0, 0, 0, 0, 0)
_ZERO: Final = (0,) * 24
# fmt: on

# Day factors: Monday .. Sunday, then a feestdag (R3) on a weekday.
_CITIZEN_DAYS: Final = (1.2, 1.05, 1.0, 1.0, 0.9, 0.6, 0.7, 0.55)
_BUSINESS_DAYS: Final = (1.1, 1.0, 1.0, 1.0, 0.9, 0.25, 0.15, 0.2)
_FLAT_DAYS: Final = (1.0,) * 8


@dataclass(frozen=True)
class Shape:
    """When a stream happens: hourly weights for workdays, Saturdays and Sundays/holidays, and day factors."""

    workday: tuple[float, ...]
    saturday: tuple[float, ...]
    sunday: tuple[float, ...]
    days: tuple[float, ...]

    def share(self, kind: str, hour: int) -> float:
        """The fraction of the day's volume that falls in ``hour`` on a day of ``kind``."""
        weights = self.workday if kind == "workday" else self.saturday if kind == "saturday" else self.sunday
        total = _TOTALS.get(weights)
        if total is None:
            total = _TOTALS[weights] = sum(weights)
        return weights[hour] / total if total else 0.0


_TOTALS: dict[tuple[float, ...], float] = {}


CITIZEN: Final = Shape(_CITIZEN_WORKDAY, _CITIZEN_WEEKEND, _CITIZEN_WEEKEND, _CITIZEN_DAYS)
BUSINESS: Final = Shape(_BUSINESS_WORKDAY, _BUSINESS_WEEKEND, _BUSINESS_WEEKEND, _BUSINESS_DAYS)
NIGHTLY_SHAPE: Final = Shape(_NIGHT, _NIGHT, _NIGHT, _FLAT_DAYS)
PHONE: Final = Shape(_PHONE_WORKDAY, _ZERO, _ZERO, _FLAT_DAYS)
PHONE_MACHTIGEN: Final = Shape(_PHONE_WORKDAY, _SATURDAY_9_17, _ZERO, _FLAT_DAYS)
OFFICE_SHAPE: Final = Shape(_OFFICE, _ZERO, _ZERO, _FLAT_DAYS)
WRITTEN: Final = Shape(_CITIZEN_WORKDAY, _CITIZEN_WEEKEND, _CITIZEN_WEEKEND, _CITIZEN_DAYS)


def hourly_rate(hour: Hour, daily: float, shape: Shape, scale: float, floor: float = 0.0) -> float:
    """Expected events in this hour: the day's volume at this scale, spread by the stream's shape."""
    per_day = max(daily * scale, floor)
    return per_day * shape.days[hour.day_index] * shape.share(hour.kind, hour.local_hour)


def expected_count(stream: str, hours: list[Hour], scale: float) -> float:
    """The expected count of a per-minute stream over ``hours`` (for forecasts and rarities)."""
    shape = CITIZEN if stream in ("authentication", "transaction", "berichtpresentatie") else BUSINESS
    return sum(hourly_rate(hour, DAILY[stream], shape, scale) for hour in hours)
