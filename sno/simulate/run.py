"""The state one simulator run shares between its concerns (streams, snapshots, faults).

Everything is drawn from one seeded ``random.Random`` held here, and the concerns draw from it in a
fixed order, so the same arguments give the same bytes. Event ids are a per-run prefix and one counter,
also held here, so that every concern numbers its events in the one sequence.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import orjson

from sno.core.calendar import Month, WorkCalendar
from sno.simulate import clock
from sno.simulate.clock import MINUTE, Hour, TimeFormat, hours_between, ms
from sno.simulate.norms import digid_capacity_limit
from sno.simulate.summary import SimulationSummary
from sno.simulate.volumes import Shape, expected_count, hourly_rate


class Run:
    """One run's period, random generator, id sequence, instant formatting, summary and snapshot queue."""

    def __init__(
        self, month: Month, services: tuple[str, ...], scale: float, seed: int, days: int | None
    ) -> None:
        self.month = month
        self.services = services
        self.scale = scale
        self.seed = seed
        self.rng = random.Random(f"sno-simulate/{month}/{seed}")
        self.calendar = WorkCalendar()
        self.fmt = TimeFormat()
        self.start = ms(month.start)
        self.month_end = ms(month.end)
        self.end = (
            self.month_end if days is None else min(self.month_end, ms(month.start + timedelta(days=days)))
        )
        self.summary = SimulationSummary(str(month), services, scale, seed)
        self.summary.capacity_limit = self.capacity = digid_capacity_limit(month)
        self.id_prefix = f"{self.rng.getrandbits(32):08x}-"
        self.seq = 0
        self.hours: list[Hour] = hours_between(self.start, self.end, self.calendar)
        #: Snapshot and forecast lines to write, as (emit ms, order queued, type, line).
        self.snapshots: list[tuple[int, int, str, str]] = []
        self.month_code = f"{month.year}{month.month:02d}"

    def next_id(self) -> str:
        """The next event id of the run."""
        return self.next_ids(1)[0]

    def next_ids(self, n: int) -> list[str]:
        """The run's next ``n`` event ids, taken at once by the hot per-minute loops."""
        first = self.seq + 1
        self.seq += n
        prefix = self.id_prefix
        return [f"{prefix}{seq:010x}" for seq in range(first, first + n)]

    def rate(self, hour: Hour, daily: float, shape: Shape, floor: float = 0.0) -> float:
        """Expected events in this hour: the day's volume at this scale, spread by the stream's shape."""
        return hourly_rate(hour, daily, shape, self.scale, floor)

    def expected(self, stream: str) -> float:
        """The expected count of a per-minute stream in the generated period (for forecasts, rarities)."""
        return expected_count(stream, self.hours, self.scale)

    def random_ms(self, lo: int, hi: int) -> int:
        """A uniformly drawn instant in [lo, hi)."""
        return lo + int(self.rng.random() * max(1, hi - lo))

    def random_minute(self) -> int:
        """A uniformly drawn minute of the generated period."""
        return self.start + self.rng.randrange((self.end - self.start) // MINUTE) * MINUTE

    def days_in_range(self, workdays_only: bool = False) -> list[date]:
        """The local days of the generated period (the core's days of the month, R2), or its workdays
        (R3) when there are any."""
        out = [day for day in self.month.days() if clock.local_ms(day, 0) < self.end]
        if workdays_only:
            out = [d for d in out if self.calendar.is_workday(d)] or out
        return out

    def office_after(self, start_ms: int, seconds: float) -> int:
        """The instant ``seconds`` of office time (R4) after ``start_ms``."""
        return clock.office_after(self.calendar, start_ms, seconds)

    def snapshot(self, emit_ms: int, record: dict[str, Any]) -> None:
        """Queue a snapshot or forecast; it is written in the minute of ``emit_ms`` (R2 order, roughly)."""
        record = {"type": record["type"], "event_id": self.next_id(), **record}
        line = orjson.dumps(record).decode()
        self.snapshots.append((max(emit_ms, self.start), len(self.snapshots), record["type"], line))
