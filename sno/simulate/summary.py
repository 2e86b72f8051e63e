"""What a simulator run wrote: the figures `sno simulate` prints and the tests check against the file."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar


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
