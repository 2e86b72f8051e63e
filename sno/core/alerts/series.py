"""Counts per fixed step of event time (a second or a minute), in compact arrays of one UTC day each.

The counting rules judge a unit only once the watermark has closed it, and a shuffled or re-sent stream
holds the watermark for as long as it stays unsettled, so units can stay open for long: a day of seconds
is one 345 kB array rather than 86,400 dictionary entries. Additive counts do not depend on arrival
order, which is what lets a unit be judged the same however its events came.
"""

from __future__ import annotations

from array import array

__all__ = ["Series"]

_DAY_US = 86_400_000_000


class Series:
    """``width`` counters per slot of ``step_us``; slot ``s`` covers ``[s·step, (s+1)·step)``."""

    def __init__(self, step_us: int, width: int = 1) -> None:
        self.step_us = step_us
        self.width = width
        self.per_day = _DAY_US // step_us
        self.chunks: dict[int, list[array]] = {}

    def slot(self, t_us: int) -> int:
        return t_us // self.step_us

    def add(self, slot: int, values: tuple[int, ...] = (1,), total: tuple[int, ...] = (0,)) -> int:
        """Add to one slot; returns the sum of its counters ``total`` (by default the first) afterwards."""
        day, i = divmod(slot, self.per_day)
        chunk = self.chunks.get(day)
        if chunk is None:
            chunk = self.chunks[day] = [array("I", bytes(4 * self.per_day)) for _ in range(self.width)]
        for col, v in enumerate(values):
            if v:
                chunk[col][i] += v
        return sum(chunk[col][i] for col in total) if len(total) > 1 else chunk[total[0]][i]

    def get(self, slot: int, col: int = 0) -> int:
        day, i = divmod(slot, self.per_day)
        chunk = self.chunks.get(day)
        return chunk[col][i] if chunk is not None else 0

    def total(self, a: int, b: int, col: int = 0) -> int:
        """The sum of slots ``[a, b)``; missing days count nothing, so long gaps cost nothing."""
        out = 0
        while a < b:
            day, i = divmod(a, self.per_day)
            end = min(b, (day + 1) * self.per_day)
            chunk = self.chunks.get(day)
            if chunk is not None:
                out += sum(chunk[col][i : i + end - a])
            a = end
        return out

    def next_slot(self, a: int) -> int | None:
        """The first slot at or after ``a`` with a non-zero first counter (None: none held)."""
        for day in sorted(d for d in self.chunks if d >= a // self.per_day):
            start = max(0, a - day * self.per_day)
            raw = self.chunks[day][0][start:].tobytes()
            rest = raw.lstrip(b"\x00")  # the zero prefix is skipped in C, not slot by slot
            if rest:
                return day * self.per_day + start + (len(raw) - len(rest)) // 4
        return None

    def drop_before(self, slot: int) -> None:
        """Forget whole days that end at or before ``slot``."""
        for day in [d for d in self.chunks if (d + 1) * self.per_day <= slot]:
            del self.chunks[day]

    def __len__(self) -> int:
        return len(self.chunks)
