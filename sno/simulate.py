"""Synthetic events that look like a month of production, for `sno simulate`, `sno demo` and the benchmark.

The pipeline is only convincing when it is fed what production sends: volumes with a daily and weekly
rhythm, a few large afnemers and a long tail of small ones, processing times with a tail over the limit,
snapshots that change and arrive out of order, re-sent duplicates and lines that break the contract
(events.md). A month at real scale is tens of millions of events, so the generator streams: it walks the
month minute by minute in time order, keeps only the current minute (and a handful of snapshot events)
in memory, shuffles each minute so arrival is not perfectly ordered, and writes it out at once.

Everything is drawn from one seeded `random.Random`, and nothing depends on the wall clock, so the same
arguments give the same bytes. Per-event choices come from precomputed tables of JSON fragments: the
hot loop does a few random draws and one f-string per event.

Instants are written with millisecond precision, DigiD and Machtigen events in UTC (`Z`), MijnOverheid,
support and snapshot events with the local offset (`+01:00`/`+02:00`), so both spellings of R1 occur.
"""

from __future__ import annotations

import math
import random
import statistics
import time as _time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO, ClassVar, Final

import orjson

from sno.core.calendar import TZ, Month, WorkCalendar

__all__ = [
    "INVALID_KINDS",
    "SERVICES",
    "SimulationSummary",
    "digid_capacity_limit",
    "simulate",
]

SERVICES: Final = ("digid", "digid-machtigen", "mijnoverheid")

#: The kinds of contract-breaking lines the simulator writes (events.md, "Invalid input").
INVALID_KINDS: Final = ("not_json", "naive_instant", "completed_before_started", "bsn_field")

_MINUTE: Final = 60_000
_HOUR: Final = 3_600_000
_DAY: Final = 86_400_000
_UTC: Final = UTC

# ---------------------------------------------------------------------------------------------------
# Volumes at scale 1.0: events per day on an ordinary weekday (weekends and holidays are lower).

_DAILY: Final[dict[str, float]] = {
    "authentication": 1_550_000,
    "transaction": 31_000,
    "message": 310_000,
    "notification": 300_000,
    "berichtpresentatie": 195_000,
    "validatieservice": 4_000,
}
#: Abonnementservice requests per night (23:00–07:00); R18 limits are 225 / 150 / 150.
_NIGHTLY: Final[dict[str, float]] = {
    "abonnement-alles": 150,
    "abonnement-bsn-lijst": 100,
    "abonnement-mutatiebasis": 100,
}
#: Support contacts per workday by service and channel.
_SUPPORT_DAILY: Final[dict[str, dict[str, float]]] = {
    "digid": {"phone": 4_000, "email": 700, "webform": 500, "twitter": 20, "afnemer": 30},
    "digid-machtigen": {"phone": 300, "email": 40, "webform": 80, "twitter": 2, "afnemer": 6},
    "mijnoverheid": {"phone": 700, "email": 150, "webform": 120, "twitter": 4, "afnemer": 15},
}
#: Low-volume streams keep at least this many per day (per night for the abonnement apis) at any
#: scale, so that a small demo month still shows every api and every support channel.
_FLOOR_PER_DAY: Final = 0.7

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
class _Shape:
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


_CITIZEN: Final = _Shape(_CITIZEN_WORKDAY, _CITIZEN_WEEKEND, _CITIZEN_WEEKEND, _CITIZEN_DAYS)
_BUSINESS: Final = _Shape(_BUSINESS_WORKDAY, _BUSINESS_WEEKEND, _BUSINESS_WEEKEND, _BUSINESS_DAYS)
_NIGHTLY_SHAPE: Final = _Shape(_NIGHT, _NIGHT, _NIGHT, _FLAT_DAYS)
_PHONE: Final = _Shape(_PHONE_WORKDAY, _ZERO, _ZERO, _FLAT_DAYS)
_PHONE_MACHTIGEN: Final = _Shape(_PHONE_WORKDAY, _SATURDAY_9_17, _ZERO, _FLAT_DAYS)
_OFFICE_SHAPE: Final = _Shape(_OFFICE, _ZERO, _ZERO, _FLAT_DAYS)
_WRITTEN: Final = _Shape(_CITIZEN_WORKDAY, _CITIZEN_WEEKEND, _CITIZEN_WEEKEND, _CITIZEN_DAYS)


# ---------------------------------------------------------------------------------------------------
# Precomputed tables. Built from quantiles or a fixed private seed, never from the run's generator, so
# they are the same in every run and cost nothing per event.

_TABLE_BITS: Final = 14
_TABLE_SIZE: Final = 1 << _TABLE_BITS
_NORMAL: Final = statistics.NormalDist()


def _lognormal_table(
    median_ms: float,
    sigma: float,
    tail_share: float,
    tail_lo: float,
    tail_hi: float,
    cap_ms: float | None = None,
) -> list[int]:
    """Quantiles of a log-normal body with a log-uniform tail on top: the shape of service times."""
    n_tail = round(_TABLE_SIZE * tail_share)
    body = _TABLE_SIZE - n_tail
    out: list[int] = []
    for i in range(body):
        z = _NORMAL.inv_cdf((i + 0.5) / body)
        value = median_ms * math.exp(sigma * z)
        if cap_ms is not None:
            value = min(value, cap_ms)
        out.append(max(1, int(value)))
    for i in range(n_tail):
        u = (i + 0.5) / n_tail
        out.append(int(tail_lo * (tail_hi / tail_lo) ** u))
    return out


# R14: DigiD mostly 0.5–3 s, about 0.25 % over the 4 s limit; Machtigen a little faster.
_AUTH_MS: Final = _lognormal_table(1_300, 0.33, 0.0025, 4_050, 20_000, cap_ms=3_950)
_TXN_MS: Final = _lognormal_table(900, 0.4, 0.002, 4_000, 15_000, cap_ms=3_950)
# Under a capacity burst (R16) the tail grows.
_BURST_MS: Final = _lognormal_table(2_200, 0.45, 0.06, 4_050, 30_000, cap_ms=3_950)
# R18: Berichtenbox processing mostly seconds, a tail of minutes and a few hours (all within 24 h).
_MESSAGE_MS: Final = _lognormal_table(1_500, 0.8, 0.006, 60_000, 20 * _HOUR)
_BERICHTPRESENTATIE_MS: Final = _lognormal_table(35, 0.5, 0.0, 1, 1, cap_ms=2_000)
_VALIDATIE_MS: Final = _lognormal_table(4_000, 0.45, 0.0, 1, 1, cap_ms=28_000)
_ABONNEMENT_MS: Final = _lognormal_table(40 * _MINUTE, 0.7, 0.0, 1, 1, cap_ms=int(3.8 * _HOUR))
_NOTIFY_DELAY_MS: Final = _lognormal_table(4_000, 0.6, 0.0, 1, 1, cap_ms=60_000)
_PHONE_WAIT_MS: Final = _lognormal_table(9_000, 0.95, 0.004, 600_000, 1_500_000)


def _weighted_table(items: Sequence[tuple[str, float]], size: int = 1024) -> list[str]:
    """A list in which each item fills a share of the slots proportional to its weight."""
    total = sum(w for _, w in items)
    out: list[str] = []
    acc = 0.0
    for value, weight in items:
        acc += weight
        while len(out) < round(acc / total * size):
            out.append(value)
    return out


# R14 events: outcome and assurance level together, as the tail of the JSON object.
_AUTH_TAIL: Final = _weighted_table(
    [
        (f',"outcome":"{o}"' + (f',"level":"{lv}"' if lv else "") + "}", wo * wl)
        for o, wo in (("success", 0.86), ("cancelled", 0.08), ("failure", 0.05), ("error", 0.01))
        for lv, wl in (
            ("midden", 0.45),
            ("substantieel", 0.26),
            ("basis", 0.22),
            ("hoog", 0.05),
            ("2f", 0.01),
            (None, 0.01),
        )
    ]
)
_TXN_TAIL: Final = _weighted_table(
    [
        (f',"outcome":"{o}"' + (f',"operation":"{op}"' if op else "") + "}", wo * wp)
        for o, wo in (("success", 0.9), ("cancelled", 0.05), ("failure", 0.04), ("error", 0.01))
        for op, wp in (
            ("verifieren", 0.58),
            ("inzien", 0.2),
            ("aanvragen", 0.1),
            ("activeren", 0.08),
            ("balie", 0.02),
            (None, 0.02),
        )
    ]
)
_API_STATUS: Final = _weighted_table(
    [("200", 0.989), ("404", 0.005), ("401", 0.002), ("500", 0.003), ("503", 0.001)]
)


def _attachment_table() -> list[str]:
    """R18: about 45 % of messages carry attachments, rarely more than 500 kB in total."""
    rng = random.Random(18)
    out: list[str] = []
    for _ in range(_TABLE_SIZE):
        if rng.random() >= 0.45:
            out.append(',"attachment_count":0,"attachment_bytes":0')
            continue
        count = rng.choices((1, 2, 3, 4), (0.7, 0.2, 0.07, 0.03))[0]
        size = sum(int(rng.lognormvariate(math.log(60_000), 0.7)) for _ in range(count))
        if rng.random() < 0.0003:
            size = rng.randint(500_001, 2_000_000)
        out.append(f',"attachment_count":{count},"attachment_bytes":{size}')
    return out


_ATTACHMENTS: Final = _attachment_table()

#: "SS.mmm" for every millisecond of a minute: formatting an instant is then one dict look-up and a join.
_SECOND_MILLIS: Final = [f"{ms // 1000:02d}.{ms % 1000:03d}" for ms in range(_MINUTE)]


# ---------------------------------------------------------------------------------------------------
# Afnemers: a fixed population (the same in every run and month), skewed like production.


def _oins(count: int, salt: int) -> list[str]:
    """Distinct 20-digit OINs in the usual shapes (00000001 + RSIN + 000, 00000003 + KvK + 0000)."""
    rng = random.Random(salt)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        if rng.random() < 0.7:
            oin = f"00000001{rng.randrange(10**8, 10**9):09d}000"
        else:
            oin = f"00000003{rng.randrange(10**7, 10**8):08d}0000"
        if oin not in seen:
            seen.add(oin)
            out.append(oin)
    return out


_ALL_OINS: Final = _oins(700, 1_017)


def _population(start: int, count: int, exponent: float, salt: int) -> tuple[list[str], list[float]]:
    """Afnemers of one service with Zipf-like cumulative weights: a few large ones, a long tail."""
    rng = random.Random(salt)
    members = list(_ALL_OINS[start : start + count])
    rng.shuffle(members)
    cumulative: list[float] = []
    acc = 0.0
    for rank in range(1, count + 1):
        acc += rank**-exponent
        cumulative.append(acc)
    return members, cumulative


# Overlapping ranges: many organisations use more than one service.
_DIGID_AFNEMERS: Final = _population(0, 450, 1.1, 1)
_MACHTIGEN_AFNEMERS: Final = _population(200, 160, 1.0, 2)
_MIJNOVERHEID_AFNEMERS: Final = _population(300, 260, 1.2, 3)


# ---------------------------------------------------------------------------------------------------


@dataclass
class SimulationSummary:
    """What was written: the figures `sno simulate` prints and tests check against the file."""

    month: str
    services: tuple[str, ...]
    scale: float
    seed: int
    events: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    #: 1-based line numbers of the invalid lines (the first ``MAX_LISTED`` of them).
    invalid_line_numbers: list[int] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    capacity_limit: int = 0
    burst_minutes: list[str] = field(default_factory=list)
    file: str = ""

    MAX_LISTED: ClassVar[int] = 100_000

    @property
    def valid_events(self) -> int:
        return sum(self.events.values())

    @property
    def invalid_lines(self) -> int:
        return sum(self.invalid.values())

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        """The human summary printed on stderr."""
        rows = [
            f"sno simulate {self.month} ({', '.join(self.services)}), scale {self.scale:g}, seed {self.seed}"
        ]
        width = max((len(t) for t in self.events), default=10)
        for event_type, count in sorted(self.events.items()):
            rows.append(f"  {event_type:<{width}}  {count:>12,}")
        rows.append(f"  {'valid events':<{width}}  {self.valid_events:>12,}")
        rows.append(f"  {'duplicates':<{width}}  {self.duplicates:>12,}  (same event_id re-sent)")
        invalid = ", ".join(f"{k} {v}" for k, v in sorted(self.invalid.items())) or "none"
        rows.append(f"  {'invalid lines':<{width}}  {self.invalid_lines:>12,}  ({invalid})")
        if self.burst_minutes:
            rows.append(
                f"  capacity burst over {self.capacity_limit:,}/min at {', '.join(self.burst_minutes)}"
            )
        rate = f"{self.lines_per_second:,.0f} lines/s" if self.seconds > 0 else ""
        rows.append(
            f"  {self.lines:,} lines, {self.bytes:,} bytes in {self.seconds:.1f} s {rate} -> "
            f"{self.file or 'stream'}"
        )
        return "\n".join(rows)


def digid_capacity_limit(month: Month) -> int:
    """DigiD's authentications per minute (R15) in force in ``month``, from the norm catalogue; for a
    month before the first DigiD version, the first version's limit (the burst must still look real)."""
    from sno.core.catalogue import load_catalogue

    catalogue = load_catalogue()
    norms = catalogue.norms_for("digid", month.year, month.month) or catalogue.versions["digid"][0]
    if norms.performance is None:
        raise ValueError("the DigiD norm file has no [performance] section")
    return int(norms.performance.capacity_per_minute)


def simulate(
    month: str | Month,
    services: Iterable[str] = SERVICES,
    scale: float = 1.0,
    seed: int = 0,
    out: BinaryIO | None = None,
    *,
    invalid_share: float = 0.0002,
    duplicate_share: float = 0.001,
    days: int | None = None,
    capacity_burst: bool = True,
) -> SimulationSummary:
    """Write a month of synthetic events as JSON Lines to ``out`` and say what was written.

    ``scale`` 1.0 is production's order of magnitude; 0.001 is a demo month. ``invalid_share`` and
    ``duplicate_share`` are fractions of the valid lines; whenever they are above zero at least one
    line of every invalid kind and a few duplicates are written. ``days`` limits the run to the first
    days of the month (benchmarks and tests); snapshots planned later are then left out. With
    ``capacity_burst`` a few minutes exceed DigiD's per-minute limit (R15, R16).
    """
    if out is None:
        raise ValueError("simulate needs a binary output stream")
    the_month = month if isinstance(month, Month) else Month.parse(month)
    chosen = tuple(s for s in SERVICES if s in set(services))
    unknown = set(services) - set(SERVICES)
    if unknown or not chosen:
        raise ValueError(f"unknown or no services {sorted(unknown)}; expected some of {', '.join(SERVICES)}")
    if not scale > 0:
        raise ValueError("scale must be above 0")
    for name, share in (("invalid_share", invalid_share), ("duplicate_share", duplicate_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must lie in 0..1")
    if days is not None and days < 1:
        raise ValueError("days must be at least 1")
    generator = _Generator(
        the_month, chosen, scale, seed, invalid_share, duplicate_share, days, capacity_burst
    )
    return generator.run(out)


# ---------------------------------------------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count: exact for small means, normal approximation above 30."""
    if lam <= 0:
        return 0
    if lam < 30:
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _local_ms(day: date, hour: int, minute: int = 0) -> int:
    return _ms(datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th Monday (0) … Sunday (6) of a month: maintenance days of R9."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@dataclass(frozen=True)
class _Hour:
    start: int  # epoch ms (UTC hour boundary)
    local_hour: int
    kind: str  # workday | saturday | sunday (holidays count as sunday)
    day_index: int  # 0..6 weekday, 7 for a feestdag on a weekday


class _TimeFormat:
    """RFC 3339 with millisecond precision from epoch milliseconds, cached per minute."""

    def __init__(self) -> None:
        self._utc: dict[int, str] = {}
        self._local: dict[int, tuple[str, str]] = {}

    def utc(self, ms: int) -> str:
        minute, rest = divmod(ms, _MINUTE)
        prefix = self._utc.get(minute)
        if prefix is None:
            if len(self._utc) > 4096:
                self._utc.clear()
            prefix = self._utc[minute] = datetime.fromtimestamp(minute * 60, _UTC).strftime("%Y-%m-%dT%H:%M:")
        return f"{prefix}{_SECOND_MILLIS[rest]}Z"

    def local(self, ms: int) -> str:
        minute, rest = divmod(ms, _MINUTE)
        parts = self._local.get(minute)
        if parts is None:
            if len(self._local) > 4096:
                self._local.clear()
            local = datetime.fromtimestamp(minute * 60, TZ)
            offset = local.strftime("%z")
            parts = self._local[minute] = (local.strftime("%Y-%m-%dT%H:%M:"), f"{offset[:3]}:{offset[3:]}")
        return f"{parts[0]}{_SECOND_MILLIS[rest]}{parts[1]}"

    def naive(self, ms: int) -> str:
        """The local wall time without an offset: the mistake events.md rejects."""
        return self.local(ms)[:-6]


class _Generator:
    """One run. Holds only the current minute, the small snapshot plan and a few counters."""

    def __init__(
        self,
        month: Month,
        services: tuple[str, ...],
        scale: float,
        seed: int,
        invalid_share: float,
        duplicate_share: float,
        days: int | None,
        capacity_burst: bool,
    ) -> None:
        self.month = month
        self.services = services
        self.scale = scale
        self.seed = seed
        self.invalid_share = invalid_share
        self.duplicate_share = duplicate_share
        self.capacity_burst = capacity_burst
        self.rng = random.Random(f"sno-simulate/{month}/{seed}")
        self.calendar = WorkCalendar()
        self.fmt = _TimeFormat()
        self.start = _ms(month.start)
        self.month_end = _ms(month.end)
        self.end = (
            self.month_end if days is None else min(self.month_end, _ms(month.start + timedelta(days=days)))
        )
        self.summary = SimulationSummary(str(month), services, scale, seed)
        self.summary.capacity_limit = self.capacity = digid_capacity_limit(month)
        self.id_prefix = f"{self.rng.getrandbits(32):08x}-"
        self.seq = 0
        self.hours = self._hours()
        self.last_sent = {"email": 0, "app": 0}
        self.ooo_pending = 0
        self.snapshots: list[tuple[int, int, str, str]] = []
        self.bursts: dict[int, tuple[int, str]] = {}
        self.forced_invalid: dict[int, list[str]] = {}
        self.forced_duplicates: set[int] = set()
        self.ooo_minutes: set[int] = set()
        self.pending_minutes: set[int] = set()
        self.outage_seq = 0
        self.maintenance_seq = 0
        self.incident_seq = 0
        self.month_code = f"{month.year}{month.month:02d}"

    # ---- plumbing -------------------------------------------------------------------------------

    def next_id(self) -> str:
        self.seq += 1
        return f"{self.id_prefix}{self.seq:010x}"

    def _hours(self) -> list[_Hour]:
        out: list[_Hour] = []
        for start in range(self.start, self.end, _HOUR):
            local = datetime.fromtimestamp(start / 1000, TZ)
            day = local.date()
            if self.calendar.is_holiday(day) or day.weekday() == 6:
                kind = "sunday"
            elif day.weekday() == 5:
                kind = "saturday"
            else:
                kind = "workday"
            index = 7 if self.calendar.is_holiday(day) and day.weekday() < 5 else day.weekday()
            out.append(_Hour(start, local.hour, kind, index))
        return out

    def rate(self, hour: _Hour, daily: float, shape: _Shape, floor: float = 0.0) -> float:
        """Expected events in this hour: the day's volume at this scale, spread by the stream's shape."""
        per_day = max(daily * self.scale, floor)
        return per_day * shape.days[hour.day_index] * shape.share(hour.kind, hour.local_hour)

    def random_ms(self, lo: int, hi: int) -> int:
        return lo + int(self.rng.random() * max(1, hi - lo))

    def snapshot(self, emit_ms: int, record: dict[str, Any]) -> None:
        """Queue a snapshot or forecast; it is written in the minute of ``emit_ms`` (R2 order, roughly)."""
        record = {"type": record["type"], "event_id": self.next_id(), **record}
        line = orjson.dumps(record).decode()
        self.snapshots.append((max(emit_ms, self.start), len(self.snapshots), record["type"], line))

    def office_after(self, start_ms: int, seconds: float) -> int:
        """The instant ``seconds`` of office time (workdays 08:00–17:00, R4) after ``start_ms``."""
        local = datetime.fromtimestamp(start_ms / 1000, TZ)
        day = local.date()
        remaining = seconds * 1000
        cursor = start_ms
        while True:
            if self.calendar.is_workday(day):
                opens, closes = _local_ms(day, 8), _local_ms(day, 17)
                begin = max(cursor, opens)
                if begin < closes:
                    if remaining <= closes - begin:
                        return begin + int(remaining)
                    remaining -= closes - begin
            day += timedelta(days=1)
            cursor = _local_ms(day, 0)

    # ---- the run --------------------------------------------------------------------------------

    def run(self, out: BinaryIO) -> SimulationSummary:
        began = _time.perf_counter()
        self.plan()
        snapshots = sorted(self.snapshots)
        next_snapshot = 0
        carry: list[str] = []
        summary = self.summary
        rng = self.rng
        for hour in self.hours:
            later = self.low_rate_hour(hour)
            rates = self.minute_rates(hour)
            for index in range(60):
                minute = hour.start + index * _MINUTE
                batch = self.minute(minute, rates)
                batch.extend(later[index])
                while next_snapshot < len(snapshots) and snapshots[next_snapshot][0] < minute + _MINUTE:
                    _, _, event_type, line = snapshots[next_snapshot]
                    if snapshots[next_snapshot][0] < self.end:
                        batch.append(line)
                        summary.events[event_type] += 1
                    next_snapshot += 1
                resend = self.duplicates_of(batch, minute)
                batch.extend(carry)
                carry = resend
                rng.shuffle(batch)
                invalid = self.invalid_lines(len(batch), minute)
                if invalid:
                    batch = self.insert_invalid(batch, invalid)
                self.write(out, batch)
        if carry:
            self.write(out, carry)
        summary.seconds = _time.perf_counter() - began
        return summary

    def write(self, out: BinaryIO, batch: list[str]) -> None:
        if not batch:
            return
        chunk = ("\n".join(batch) + "\n").encode()
        out.write(chunk)
        self.summary.lines += len(batch)
        self.summary.bytes += len(chunk)

    def duplicates_of(self, batch: list[str], minute: int) -> list[str]:
        """Exact re-sends of lines of this minute, written in the next minute (same event_id)."""
        if not batch or self.duplicate_share <= 0:
            return []
        count = _poisson(self.rng, len(batch) * self.duplicate_share)
        if minute in self.forced_duplicates:
            count = max(count, 1)
        self.summary.duplicates += count
        return [batch[self.rng.randrange(len(batch))] for _ in range(count)]

    def invalid_lines(self, valid: int, minute: int) -> list[tuple[str, str]]:
        if self.invalid_share <= 0:
            return []
        kinds = list(self.forced_invalid.get(minute, ()))
        for _ in range(_poisson(self.rng, valid * self.invalid_share)):
            kinds.append(self.rng.choice(INVALID_KINDS))
        return [(kind, self.invalid_line(kind, minute)) for kind in kinds]

    def insert_invalid(self, batch: list[str], invalid: list[tuple[str, str]]) -> list[str]:
        """Put the invalid lines at random places and record where they landed."""
        summary = self.summary
        total = len(batch) + len(invalid)
        positions = sorted(self.rng.sample(range(total), len(invalid)))
        merged: list[str] = []
        taken = 0
        for position, (kind, line) in zip(positions, invalid, strict=True):
            step = position - len(merged)
            merged.extend(batch[taken : taken + step])
            taken += step
            merged.append(line)
            summary.invalid[kind] += 1
            if len(summary.invalid_line_numbers) < summary.MAX_LISTED:
                summary.invalid_line_numbers.append(summary.lines + position + 1)
        merged.extend(batch[taken:])
        return merged

    def invalid_line(self, kind: str, minute: int) -> str:
        """One line that breaks the contract in the way ``kind`` names (events.md, "Invalid input")."""
        rng = self.rng
        fmt = self.fmt
        start = minute + int(rng.random() * _MINUTE)
        end = start + 300 + rng.randrange(3_000)
        service = rng.choice(self.services)
        event_type, first, last = {
            "digid": ("authentication", "started_at", "completed_at"),
            "digid-machtigen": ("transaction", "started_at", "completed_at"),
            "mijnoverheid": ("api_request", "received_at", "completed_at"),
        }[service]
        record: dict[str, Any] = {
            "type": event_type,
            "event_id": self.next_id(),
            "service": service,
            "afnemer_id": rng.choice(_ALL_OINS),
            first: fmt.utc(start),
            last: fmt.utc(end),
        }
        if event_type == "api_request":
            record.update(api="berichtpresentatie", status_code=200, bsn_count=1)
        else:
            record["outcome"] = "success"
        if kind == "naive_instant":
            record[first] = fmt.naive(start)
        elif kind == "completed_before_started":
            record[last] = fmt.utc(start - 1 - rng.randrange(5_000))
        elif kind == "bsn_field":
            # Test BSNs (the 99999xxxx range); nested in half of the cases (events.md: "at any depth").
            bsn = f"99999{rng.randrange(10_000):04d}"
            if rng.random() < 0.5:
                record["bsn"] = bsn
            else:
                record["context"] = {"session": rng.getrandbits(32), "bsn": bsn}
        line = orjson.dumps(record).decode()
        if kind == "not_json":
            line = line[: 10 + rng.randrange(len(line) - 12)]
        return line

    # ---- per-minute streams (the bulk) ----------------------------------------------------------

    def minute_rates(self, hour: _Hour) -> tuple[float, ...]:
        """Per-minute means of the bulk streams in this hour (zero for services not simulated)."""
        services = self.services
        per_minute = [
            ("digid", _DAILY["authentication"], _CITIZEN),
            ("digid-machtigen", _DAILY["transaction"], _CITIZEN),
            ("mijnoverheid", _DAILY["message"], _BUSINESS),
            ("mijnoverheid", _DAILY["notification"] * 0.62, _BUSINESS),
            ("mijnoverheid", _DAILY["notification"] * 0.38, _BUSINESS),
            ("mijnoverheid", _DAILY["berichtpresentatie"], _CITIZEN),
        ]
        return tuple(
            self.rate(hour, daily, shape) / 60 if s in services else 0.0 for s, daily, shape in per_minute
        )

    def minute(self, minute: int, rates: tuple[float, ...]) -> list[str]:
        lines: list[str] = []
        rng = self.rng
        auth, txn, message, email, app, presentation = rates
        if auth:
            self.authentications(lines, minute, _poisson(rng, auth), self.bursts.get(minute))
        if txn:
            self.transactions(lines, minute, _poisson(rng, txn))
        if message:
            self.messages(lines, minute, _poisson(rng, message))
            if minute in self.pending_minutes:
                self.messages(lines, minute, 1, pending=True)
            if minute in self.ooo_minutes:
                self.ooo_pending += 1
            self.notifications(lines, minute, "email", _poisson(rng, email))
            self.notifications(lines, minute, "app", _poisson(rng, app))
            self.berichtpresentatie(lines, minute, _poisson(rng, presentation))
        return lines

    def authentications(self, lines: list[str], minute: int, n: int, burst: tuple[int, str] | None) -> None:
        """DigiD authentications started in this minute (R14, R15); a burst minute exceeds the limit (R16)."""
        rng = self.rng
        members, weights = _DIGID_AFNEMERS
        table = _AUTH_MS
        afnemers = rng.choices(members, cum_weights=weights, k=n)
        if burst is not None:
            target, campaign = burst
            afnemers += [campaign] * max(0, target - n)
            table = _BURST_MS
        self.summary.events["authentication"] += len(afnemers)
        fmt = self.fmt.utc
        rand = rng.random
        bits = rng.getrandbits
        tails = _AUTH_TAIL
        prefix = self.id_prefix
        seq = self.seq
        append = lines.append
        for afnemer in afnemers:
            seq += 1
            started = minute + int(rand() * _MINUTE)
            append(
                f'{{"type":"authentication","event_id":"{prefix}{seq:010x}","service":"digid",'
                f'"afnemer_id":"{afnemer}","started_at":"{fmt(started)}",'
                f'"completed_at":"{fmt(started + table[bits(_TABLE_BITS)])}"{tails[bits(10)]}'
            )
        self.seq = seq

    def transactions(self, lines: list[str], minute: int, n: int) -> None:
        """DigiD Machtigen transactions started in this minute (R14, R15)."""
        if n == 0:
            return
        rng = self.rng
        members, weights = _MACHTIGEN_AFNEMERS
        self.summary.events["transaction"] += n
        fmt = self.fmt.utc
        rand = rng.random
        bits = rng.getrandbits
        prefix = self.id_prefix
        seq = self.seq
        for afnemer in rng.choices(members, cum_weights=weights, k=n):
            seq += 1
            started = minute + int(rand() * _MINUTE)
            lines.append(
                f'{{"type":"transaction","event_id":"{prefix}{seq:010x}","service":"digid-machtigen",'
                f'"afnemer_id":"{afnemer}","started_at":"{fmt(started)}",'
                f'"completed_at":"{fmt(started + _TXN_MS[bits(_TABLE_BITS)])}"{_TXN_TAIL[bits(10)]}'
            )
        self.seq = seq

    def messages(self, lines: list[str], minute: int, n: int, pending: bool = False) -> None:
        """Berichtenbox messages received in this minute (R18); some are still pending at the month's end.

        ``pending`` forces this minute's messages to be unprocessed: a few are planned in the month's last
        hour so that every month has pending messages, whatever the scale.
        """
        if n == 0:
            return
        rng = self.rng
        members, weights = _MIJNOVERHEID_AFNEMERS
        self.summary.events["message"] += n
        fmt = self.fmt.local
        rand = rng.random
        bits = rng.getrandbits
        prefix = self.id_prefix
        seq = self.seq
        month_end = self.month_end
        closing = month_end - 2 * _HOUR
        for afnemer in rng.choices(members, cum_weights=weights, k=n):
            seq += 1
            received = minute + int(rand() * _MINUTE)
            processed = received + _MESSAGE_MS[bits(_TABLE_BITS)]
            status = "rejected" if rand() < 0.004 else "accepted"
            if pending or processed >= month_end or (received >= closing and rand() < 0.03):
                done = "null"
                status = "accepted"
            else:
                done = f'"{fmt(processed)}"'
            lines.append(
                f'{{"type":"message","event_id":"{prefix}{seq:010x}","service":"mijnoverheid",'
                f'"afnemer_id":"{afnemer}","received_at":"{fmt(received)}","processed_at":{done},'
                f'"status":"{status}"{_ATTACHMENTS[bits(_TABLE_BITS)]}}}'
            )
        self.seq = seq

    def notifications(self, lines: list[str], minute: int, channel: str, n: int) -> None:
        """Notifications queued in this minute, sent in order of arrival per channel (R18).

        Sends are first-in first-out: each goes out after its own delay and after the one queued before
        it. Rarely (at pre-drawn minutes) one overtakes the queue, the out-of-order send R18 counts.
        """
        if n == 0:
            return
        rng = self.rng
        members, weights = _MIJNOVERHEID_AFNEMERS
        self.summary.events["notification"] += n
        fmt = self.fmt.local
        bits = rng.getrandbits
        prefix = self.id_prefix
        seq = self.seq
        last = self.last_sent[channel]
        month_end = self.month_end
        queued_times = sorted(minute + int(rng.random() * _MINUTE) for _ in range(n))
        afnemers = rng.choices(members, cum_weights=weights, k=n)
        for queued, afnemer in zip(queued_times, afnemers, strict=True):
            seq += 1
            sent = max(queued + _NOTIFY_DELAY_MS[bits(_TABLE_BITS)], last + 1)
            if self.ooo_pending and last > queued + 2 and sent < month_end:
                sent = queued + 1 + rng.randrange(last - queued - 1)  # overtakes; the queue keeps `last`
                self.ooo_pending -= 1
            else:
                last = sent
            done = f'"{fmt(sent)}"' if sent < month_end else "null"
            lines.append(
                f'{{"type":"notification","event_id":"{prefix}{seq:010x}","service":"mijnoverheid",'
                f'"afnemer_id":"{afnemer}","channel":"{channel}","queued_at":"{fmt(queued)}",'
                f'"sent_at":{done}}}'
            )
        self.last_sent[channel] = last
        self.seq = seq

    def berichtpresentatie(self, lines: list[str], minute: int, n: int) -> None:
        """REST presentation API requests (R18: 200 ms for 99.9 %)."""
        if n == 0:
            return
        rng = self.rng
        members, weights = _MIJNOVERHEID_AFNEMERS
        self.summary.events["api_request"] += n
        fmt = self.fmt.local
        rand = rng.random
        bits = rng.getrandbits
        prefix = self.id_prefix
        seq = self.seq
        for afnemer in rng.choices(members, cum_weights=weights, k=n):
            seq += 1
            received = minute + int(rand() * _MINUTE)
            lines.append(
                f'{{"type":"api_request","event_id":"{prefix}{seq:010x}","service":"mijnoverheid",'
                f'"afnemer_id":"{afnemer}","api":"berichtpresentatie","received_at":"{fmt(received)}",'
                f'"completed_at":"{fmt(received + _BERICHTPRESENTATIE_MS[bits(_TABLE_BITS)])}",'
                f'"status_code":{_API_STATUS[bits(10)]},"bsn_count":1}}'
            )
        self.seq = seq

    # ---- per-hour streams (low volume) ----------------------------------------------------------

    def low_rate_hour(self, hour: _Hour) -> list[list[str]]:
        """Low-volume events of this hour, bucketed by minute so they join the minute they belong to."""
        buckets: list[list[str]] = [[] for _ in range(60)]
        rng = self.rng
        if "mijnoverheid" in self.services:
            lam = self.rate(hour, _DAILY["validatieservice"], _BUSINESS, _FLOOR_PER_DAY * 3)
            for _ in range(_poisson(rng, lam)):
                self.api_request(
                    buckets,
                    hour,
                    "validatieservice",
                    _VALIDATIE_MS,
                    250 if rng.random() < 0.8 else rng.randint(1, 250),
                )
            for api, nightly in _NIGHTLY.items():
                for _ in range(_poisson(rng, self.rate(hour, nightly, _NIGHTLY_SHAPE, _FLOOR_PER_DAY))):
                    count = rng.randint(500, 60_000) if api == "abonnement-bsn-lijst" else 0
                    self.api_request(buckets, hour, api, _ABONNEMENT_MS, count)
        for service in self.services:
            for channel, daily in _SUPPORT_DAILY[service].items():
                if channel == "phone":
                    shape = _PHONE_MACHTIGEN if service == "digid-machtigen" else _PHONE
                elif channel == "twitter":
                    shape = _PHONE
                elif channel == "afnemer":
                    shape = _OFFICE_SHAPE
                else:
                    shape = _WRITTEN
                for _ in range(_poisson(rng, self.rate(hour, daily, shape, _FLOOR_PER_DAY))):
                    self.support_contact(buckets, hour, service, channel)
        return buckets

    def api_request(
        self, buckets: list[list[str]], hour: _Hour, api: str, table: list[int], bsn_count: int
    ) -> None:
        """Validatieservice and Abonnementservice requests (R18 limits per hour and per night)."""
        rng = self.rng
        members, weights = _MIJNOVERHEID_AFNEMERS
        offset = int(rng.random() * _HOUR)
        received = hour.start + offset
        completed = received + table[rng.getrandbits(_TABLE_BITS)]
        status = _API_STATUS[rng.getrandbits(10)]
        record = (
            f'{{"type":"api_request","event_id":"{self.next_id()}","service":"mijnoverheid",'
            f'"afnemer_id":"{rng.choices(members, cum_weights=weights)[0]}","api":"{api}",'
            f'"received_at":"{self.fmt.local(received)}","completed_at":"{self.fmt.local(completed)}",'
            f'"status_code":{status},"bsn_count":{bsn_count}}}'
        )
        buckets[offset // _MINUTE].append(record)
        self.summary.events["api_request"] += 1

    def support_contact(self, buckets: list[list[str]], hour: _Hour, service: str, channel: str) -> None:
        """One citizen or afnemer contact (R20, R21), answered (or not) in a realistic time."""
        rng = self.rng
        offset = int(rng.random() * _HOUR)
        received = hour.start + offset
        abandoned = False
        satisfaction: int | None = None
        afnemer: str | None = None
        if channel == "phone":
            if rng.random() < 0.02:
                abandoned = True
                answered: int | None = None
            else:
                answered = received + _PHONE_WAIT_MS[rng.getrandbits(_TABLE_BITS)]
                if rng.random() < 0.3:
                    satisfaction = min(10, max(1, round(rng.gauss(8.1, 1.4))))
            kind = rng.choices(("question", "complaint", "incident"), (0.9, 0.07, 0.03))[0]
        elif channel == "twitter":
            answered = received + rng.randint(60_000, 90 * _MINUTE)
            kind = rng.choices(("question", "complaint"), (0.8, 0.2))[0]
        elif channel == "afnemer":
            members, weights = {
                "digid": _DIGID_AFNEMERS,
                "digid-machtigen": _MACHTIGEN_AFNEMERS,
                "mijnoverheid": _MIJNOVERHEID_AFNEMERS,
            }[service]
            afnemer = rng.choices(members, cum_weights=weights)[0]
            office_hours = rng.lognormvariate(math.log(5), 0.8)
            answered = self.office_after(received, office_hours * 3600)
            kind = rng.choices(("question", "complaint", "incident"), (0.7, 0.2, 0.1))[0]
        else:  # email, webform: R20 "within 2 workdays" (18 office hours)
            office_hours = rng.lognormvariate(math.log(4), 0.75)
            answered = self.office_after(received, office_hours * 3600)
            if rng.random() < 0.15:
                satisfaction = min(10, max(1, round(rng.gauss(7.8, 1.6))))
            kind = rng.choices(("question", "complaint", "incident"), (0.88, 0.1, 0.02))[0]
        if answered is not None and answered >= self.month_end:
            answered = None  # still open when the month's file was written
            satisfaction = None
        record: dict[str, Any] = {"type": "support_contact", "event_id": self.next_id(), "service": service}
        if afnemer is not None:
            record["afnemer_id"] = afnemer
        record.update(
            channel=channel,
            received_at=self.fmt.local(received),
            answered_at=None if answered is None else self.fmt.local(answered),
            abandoned=abandoned,
            kind=kind,
        )
        if satisfaction is not None:
            record["satisfaction"] = satisfaction
        buckets[offset // _MINUTE].append(orjson.dumps(record).decode())
        self.summary.events["support_contact"] += 1

    # ---- the month's plan: bursts, snapshots, forecasts, forced rarities ------------------------

    def plan(self) -> None:
        if self.capacity_burst and "digid" in self.services:
            self.plan_burst()
        for service in self.services:
            self.plan_outages(service)
            self.plan_maintenance(service)
            self.plan_incidents(service)
        self.plan_special_maintenance()
        if "mijnoverheid" in self.services:
            self.plan_forecasts()
            for _ in range(max(2, round(self.expected("notification") * 4e-6))):
                self.ooo_minutes.add(self.random_minute())
            if self.end == self.month_end:
                last_hour = self.month_end - _HOUR
                self.pending_minutes.update(last_hour + self.rng.randrange(60) * _MINUTE for _ in range(3))
        if self.invalid_share > 0:
            for kind in INVALID_KINDS:
                self.forced_invalid.setdefault(self.random_minute(), []).append(kind)
        if self.duplicate_share > 0:
            self.forced_duplicates.update(self.random_minute() for _ in range(3))

    def random_minute(self) -> int:
        return self.start + self.rng.randrange((self.end - self.start) // _MINUTE) * _MINUTE

    def expected(self, stream: str) -> float:
        """The expected count of a per-minute stream in the generated period (for forecasts, rarities)."""
        shape = _CITIZEN if stream in ("authentication", "transaction", "berichtpresentatie") else _BUSINESS
        return sum(self.rate(hour, _DAILY[stream], shape) for hour in self.hours)

    def local_day(self, ms: int) -> date:
        return datetime.fromtimestamp(ms / 1000, TZ).date()

    def days_in_range(self, workdays_only: bool = False) -> list[date]:
        first = self.local_day(self.start)
        last = self.local_day(self.end - 1)
        out = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        if workdays_only:
            out = [d for d in out if self.calendar.is_workday(d)] or out
        return out

    def plan_burst(self) -> None:
        """R15/R16: a few minutes in which one large afnemer's campaign pushes DigiD over its limit."""
        rng = self.rng
        day = rng.choice(self.days_in_range(workdays_only=True))
        minutes = 3 if self.scale >= 0.01 else 1
        first = _local_ms(day, rng.randint(10, 15), rng.randint(0, 55))
        first = min(max(first, self.start), self.end - minutes * _MINUTE)
        campaign = _DIGID_AFNEMERS[0][rng.randrange(3, 8)]
        for i in range(minutes):
            minute = first + i * _MINUTE
            self.bursts[minute] = (int(self.capacity * rng.uniform(1.02, 1.15)), campaign)
            self.summary.burst_minutes.append(self.fmt.local(minute)[:16])
        if "digid" in self.services:
            # Overload often brings a short outage with it; R16 leaves that minute out of U.
            end = first + rng.randint(2, 6) * _MINUTE
            self.outage(
                "digid",
                first + 20_000,
                end,
                "logius",
                function="authenticatie",
                title="Vertraging bij inloggen door piekbelasting",
            )

    def outage(
        self,
        service: str,
        started: int,
        ended: int | None,
        cause: str | None,
        *,
        function: str | None = None,
        title: str | None = None,
        environment: str | None = None,
        ddos: bool = False,
        analysis: str | None = None,
    ) -> None:
        """Snapshots of one outage: reported while ongoing (cause often unknown), then closed; the owner's
        ``analysis`` (R24) comes with the closing snapshot, ``ddos`` is known from the start."""
        rng = self.rng
        self.outage_seq += 1
        outage_id = f"{_CODE[service]}-{self.month_code}-S{self.outage_seq:03d}"
        base: dict[str, Any] = {"type": "outage", "service": service}
        if environment:
            base["environment"] = environment
        base.update(outage_id=outage_id, started_at=self.fmt.local(started))
        if function:
            base["function"] = function
        if title:
            base["title"] = title
        if ddos:
            base["ddos"] = True
        reported = started + rng.randint(2, 8) * _MINUTE
        if ended is None or reported < ended:
            first = dict(base, updated_at=self.fmt.local(reported), ended_at=None)
            if rng.random() < 0.5 and cause is not None:
                first["cause"] = cause
            self.snapshot(reported, first)
        if ended is not None:
            closed = ended + rng.randint(1, 20) * _MINUTE
            last = dict(base, updated_at=self.fmt.local(closed), ended_at=self.fmt.local(ended))
            if analysis:
                last["analysis"] = analysis
            if cause is not None:
                last["cause"] = cause
            self.snapshot(closed, last)

    def plan_outages(self, service: str) -> None:
        """A few outages per service, some with a cause R8 excludes; DigiD's website has one of its own."""
        rng = self.rng
        lo, hi = self.start, self.end

        def span(minutes_lo: int, minutes_hi: int) -> tuple[int, int]:
            started = self.random_ms(lo, hi)
            return started, started + rng.randint(minutes_lo, minutes_hi) * _MINUTE

        if service == "digid":
            self.outage(
                service,
                *span(10, 40),
                "logius",
                function="authenticatie",
                title="Inloggen met de DigiD app mislukt",
                analysis="Een verlopen certificaat tussen app en koppelvlak; het is vervangen en de "
                "bewaking van vervaldata is aangescherpt.",
            )
            self.outage(
                service, *span(20, 90), rng.choice(("internet", "afnemer")), title="Storing bij een afnemer"
            )
            self.outage(
                service, *span(15, 60), "logius", function="website", title="www.digid.nl onbereikbaar"
            )
            day = rng.choice(self.days_in_range(workdays_only=True))
            started = _local_ms(day, rng.randint(9, 15))
            self.outage(
                service,
                started,
                started + rng.randint(30, 120) * _MINUTE,
                "logius",
                environment="preproduction",
                title="Pre-productie onbeschikbaar",
            )
        elif service == "digid-machtigen":
            self.outage(service, *span(15, 45), "logius", title="Machtigen traag en onbereikbaar", ddos=True)
            self.outage(service, *span(20, 60), "dependency", title="Storing DigiD")
        else:
            self.outage(
                service,
                *span(30, 90),
                "logius",
                function="berichtenbox",
                title="Berichtenbox niet beschikbaar",
            )
            self.outage(service, *span(20, 45), "dependency", function="portaal", title="Storing Diginetwerk")
            if rng.random() < 0.3:
                self.outage(service, *span(60, 180), "force_majeure", function="app", title="Calamiteit")
        if rng.random() < 0.3:
            started = self.random_ms(max(lo, hi - 2 * _DAY), hi)
            self.outage(service, started, None, None, title="Onderzoek naar verstoring loopt")

    def maintenance(
        self,
        service: str,
        starts: int,
        ends: int,
        announced: int,
        *,
        kind: str = "planned",
        component: str | None = None,
        cancelled_at: int | None = None,
    ) -> None:
        """Snapshots of one maintenance window: announced, and for a cancelled one, the cancellation (R9)."""
        self.maintenance_seq += 1
        record: dict[str, Any] = {
            "type": "maintenance",
            "service": service,
            "maintenance_id": f"{_CODE[service]}-{self.month_code}-M{self.maintenance_seq:02d}",
            "updated_at": self.fmt.local(announced),
            "kind": kind,
            "status": "scheduled",
            "announced_at": self.fmt.local(announced),
            "starts_at": self.fmt.local(starts),
            "ends_at": self.fmt.local(ends),
        }
        if component:
            record["component"] = component
        self.snapshot(announced, dict(record))
        if cancelled_at is not None:
            record.update(updated_at=self.fmt.local(cancelled_at), status="cancelled")
            self.snapshot(cancelled_at, record)

    def plan_maintenance(self, service: str) -> None:
        """Planned windows on the usual days of R9, sometimes a third or one running past 06:00."""
        rng = self.rng
        year, month = self.month.year, self.month.month

        def window(
            day: date,
            from_h: int,
            to_h: int,
            *,
            to_m: int = 0,
            component: str | None = None,
            notice_days: int = 14,
        ) -> None:
            starts = _local_ms(day, from_h)
            ends = _local_ms(day, to_h, to_m)
            announced = starts - notice_days * _DAY - rng.randint(0, 8) * _HOUR
            self.maintenance(service, starts, ends, announced, component=component)

        if service == "digid":
            # One month in three a window runs past 06:00, one in three has a third window; which months
            # depends on the seed, so a few consecutive seeds (or months) always show both.
            variant = (self.seed + month) % 3
            window(_nth_weekday(year, month, 0, 2), 0, rng.choice((3, 4, 5)))
            if variant == 1:
                window(_nth_weekday(year, month, 2, 2), 4, 7, to_m=30)  # partly outside 00:00–06:00
            else:
                window(_nth_weekday(year, month, 2, 2), 1, 5)
            if variant == 2:
                window(_nth_weekday(year, month, 0, 4), 1, 3, notice_days=7)  # a third window
        elif service == "digid-machtigen":
            window(_nth_weekday(year, month, 2, 2), 1, 4)
            if rng.random() < 0.2:
                window(_nth_weekday(year, month, 1, 3), 3, 6, to_m=45)
            else:
                window(_nth_weekday(year, month, 1, 3), 0, 4)
        else:
            window(_nth_weekday(year, month, 2, 2), 0, 6, component="portaal-technisch")
            window(_nth_weekday(year, month, 2, 4), 1, 5, component="portaal-functioneel")
            window(_nth_weekday(year, month, 1, 2), 9, 15, component="berichtenbox")

    def plan_special_maintenance(self) -> None:
        """One emergency window and one cancelled planned window, in services drawn from those simulated."""
        rng = self.rng
        service = rng.choice(self.services)
        day = rng.choice(self.days_in_range())
        starts = _local_ms(day, rng.randint(7, 20), rng.choice((0, 15, 30, 45)))
        self.maintenance(
            service,
            starts,
            starts + rng.randint(30, 120) * _MINUTE,
            starts - rng.randint(30, 240) * _MINUTE,
            kind="emergency",
        )
        service = rng.choice(self.services)
        day = _nth_weekday(self.month.year, self.month.month, 3, 3)
        starts = _local_ms(day, 1)
        component = "portaal-technisch" if service == "mijnoverheid" else None
        self.maintenance(
            service,
            starts,
            starts + 3 * _HOUR,
            starts - 12 * _DAY,
            component=component,
            cancelled_at=starts - rng.randint(1, 3) * _DAY,
        )

    def plan_incidents(self, service: str) -> None:
        """Incidents of every priority (R10–R13) with realistic clocks, per service."""
        rng = self.rng
        counts = {
            "digid": {1: rng.randint(1, 2), 2: rng.randint(2, 4), 3: rng.randint(5, 10)},
            "digid-machtigen": {1: 1, 2: rng.randint(1, 2), 3: rng.randint(2, 5)},
            "mijnoverheid": {1: 1, 2: rng.randint(1, 3), 3: rng.randint(3, 7)},
        }[service]
        for priority, count in counts.items():
            for _ in range(count):
                self.incident(service, priority)
        if service == "digid":
            self.incident(service, 2, environment="preproduction")
            self.incident(service, 3, carried_over=True)

    def incident(
        self, service: str, priority: int, *, environment: str | None = None, carried_over: bool = False
    ) -> None:
        """Snapshots of one incident: open, perhaps notified and re-classified, resolved; some out of order.

        Resolution times are drawn as a fraction of the R11 target, mostly well within it; P1 notices
        (R13) mostly within 30 minutes.
        """
        rng = self.rng
        fmt = self.fmt.local
        self.incident_seq += 1
        incident_id = f"{_CODE[service]}-{self.month_code}-I{self.incident_seq:03d}"
        if carried_over:
            detected = self.start - rng.randint(4, 30) * _HOUR
        elif priority == 1 or rng.random() < 0.3:
            detected = self.random_ms(self.start, self.end)
        else:
            day = rng.choice(self.days_in_range(workdays_only=True))
            detected = _local_ms(day, rng.randint(8, 16), rng.randint(0, 59))
        final = rng.choice(_CLASSIFICATIONS[priority])
        initial = final
        if rng.random() < 0.25:
            initial = rng.choice(
                _CLASSIFICATIONS[min(3, priority + 1)] if priority < 3 else _CLASSIFICATIONS[2]
            )
        cause = rng.choices(
            ("logius", None, "afnemer", "internet", "dependency", "force_majeure"),
            (0.72, 0.1, 0.07, 0.04, 0.05, 0.02),
        )[0]
        fraction = rng.lognormvariate(math.log(0.3), 0.6)
        target = _TARGET_HOURS[service][priority]
        if priority == 1:
            resolved = detected + int(fraction * target * _HOUR)
            notified: int | None = detected + int(
                rng.choices((rng.uniform(4, 28), rng.uniform(31, 75), -1.0), (0.9, 0.07, 0.03))[0] * _MINUTE
            )
            if notified is not None and notified < detected:
                notified = None
        else:
            resolved = self.office_after(detected, fraction * target * 3600)
            notified = None
        if carried_over and resolved < self.start + _HOUR:
            resolved = self.office_after(self.start, rng.uniform(1, 5) * 3600)
        base: dict[str, Any] = {"type": "incident", "service": service}
        if environment:
            base["environment"] = environment
        base.update(incident_id=incident_id, detected_at=fmt(detected))
        if cause:
            base["cause"] = cause
        base["title"] = rng.choice(_INCIDENT_TITLES)
        registered = detected + rng.randint(2, 15) * _MINUTE
        first = dict(base, updated_at=fmt(registered), status="open", impact=initial[0], urgency=initial[1])
        if notified is not None and notified <= registered:
            first["notified_at"] = fmt(notified)
        snaps: list[tuple[int, dict[str, Any]]] = [(registered, first)]
        if notified is not None and notified > registered:
            snaps.append((notified, dict(first, updated_at=fmt(notified), notified_at=fmt(notified))))
        if initial != final:
            at = registered + int((resolved - registered) * rng.uniform(0.2, 0.8))
            at = max(at, snaps[-1][0] + 1000)
            snaps.append((at, dict(snaps[-1][1], updated_at=fmt(at), impact=final[0], urgency=final[1])))
        closed = max(resolved, snaps[-1][0]) + rng.randint(1, 30) * _MINUTE
        snaps.append(
            (
                closed,
                dict(
                    snaps[-1][1],
                    updated_at=fmt(closed),
                    status="resolved",
                    impact=final[0],
                    urgency=final[1],
                    resolved_at=fmt(resolved),
                ),
            )
        )
        emits = [at for at, _ in snaps]
        if len(snaps) >= 3 and rng.random() < 0.4:
            # Delivered out of order: a middle snapshot arrives after the resolved one.
            emits[1] = closed + rng.randint(1, 60) * _MINUTE
        for emit, (at, record) in zip(emits, snaps, strict=True):
            if at < self.month_end:  # a snapshot from after the month is not in this month's file
                self.snapshot(emit, record)

    def plan_forecasts(self) -> None:
        """R19: each MijnOverheid afnemer's forecast of its messages this month, mostly within 10 %."""
        rng = self.rng
        members, cumulative = _MIJNOVERHEID_AFNEMERS
        total = self.expected("message")
        previous = 0.0
        for afnemer, acc in zip(members, cumulative, strict=True):
            expected = total * (acc - previous) / cumulative[-1]
            previous = acc
            if expected < 0.5:
                continue
            error = rng.gauss(0, 0.2 if rng.random() < 0.1 else 0.04)
            self.snapshot(
                self.start,
                {
                    "type": "forecast",
                    "service": "mijnoverheid",
                    "afnemer_id": afnemer,
                    "month": str(self.month),
                    "messages": max(0, round(expected * (1 + error))),
                },
            )


_CODE: Final = {"digid": "DGD", "digid-machtigen": "MCH", "mijnoverheid": "MOH"}

#: R10: (impact, urgency) pairs that give each priority.
_CLASSIFICATIONS: Final[dict[int, list[tuple[str, str]]]] = {
    1: [("hoog", "hoog")],
    2: [("hoog", "midden"), ("midden", "hoog")],
    3: [
        ("midden", "midden"),
        ("laag", "hoog"),
        ("hoog", "laag"),
        ("laag", "midden"),
        ("midden", "laag"),
        ("laag", "laag"),
    ],
}

#: R11 resolution targets in hours (P1 clock hours, P2/P3 office hours), only to shape realistic clocks.
_TARGET_HOURS: Final = {
    "digid": {1: 6, 2: 10, 3: 18},
    "digid-machtigen": {1: 6, 2: 10, 3: 18},
    "mijnoverheid": {1: 6, 2: 20, 3: 30},
}

_INCIDENT_TITLES: Final = (
    "Verhoogd foutpercentage bij inloggen",
    "SMS-codes komen vertraagd aan",
    "Certificaatfout bij afnemer",
    "Berichten blijven hangen in verwerking",
    "Notificaties worden niet verstuurd",
    "Trage respons API",
    "Koppeling met BRP verstoord",
    "Inloggen met ID-kaart mislukt",
    "Machtiging kan niet worden geactiveerd",
)
