"""What production gets wrong: re-sent duplicates and lines that break the event contract.

The pipeline must count a re-sent event once and turn every contract-breaking line into a dead letter
without stopping (`docs/events.md`, "Invalid input"), so the simulator writes both, at shares of the
valid lines, and plans at least one of each kind into the month whatever the scale. Every invalid line
is recorded in the summary with the line number it landed on, so a test can check the pipeline rejected
exactly those.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from sno.simulate.afnemers import ALL_OINS
from sno.simulate.clock import MINUTE
from sno.simulate.run import Run
from sno.simulate.tables import poisson

#: The kinds of contract-breaking lines the simulator writes (`docs/events.md`, "Invalid input").
INVALID_KINDS: Final = ("not_json", "naive_instant", "completed_before_started", "bsn_field")


class Faults:
    """The run's duplicates and invalid lines, with the minutes planned to carry one of each."""

    def __init__(self, run: Run, invalid_share: float, duplicate_share: float) -> None:
        self.run = run
        self.invalid_share = invalid_share
        self.duplicate_share = duplicate_share
        self.forced_invalid: dict[int, list[str]] = {}
        self.forced_duplicates: set[int] = set()

    def plan(self) -> None:
        """Minutes that carry one invalid line of every kind and a duplicate, whatever the scale."""
        run = self.run
        if self.invalid_share > 0:
            for kind in INVALID_KINDS:
                self.forced_invalid.setdefault(run.random_minute(), []).append(kind)
        if self.duplicate_share > 0:
            self.forced_duplicates.update(run.random_minute() for _ in range(3))

    def duplicates_of(self, batch: list[str], minute: int) -> list[str]:
        """Exact re-sends of lines of this minute, written in the next minute (same event_id)."""
        if not batch or self.duplicate_share <= 0:
            return []
        count = poisson(self.run.rng, len(batch) * self.duplicate_share)
        if minute in self.forced_duplicates:
            count = max(count, 1)
        self.run.summary.duplicates += count
        return [batch[self.run.rng.randrange(len(batch))] for _ in range(count)]

    def invalid_lines(self, valid: int, minute: int) -> list[tuple[str, str]]:
        if self.invalid_share <= 0:
            return []
        kinds = list(self.forced_invalid.get(minute, ()))
        for _ in range(poisson(self.run.rng, valid * self.invalid_share)):
            kinds.append(self.run.rng.choice(INVALID_KINDS))
        return [(kind, self.invalid_line(kind, minute)) for kind in kinds]

    def insert_invalid(self, batch: list[str], invalid: list[tuple[str, str]]) -> list[str]:
        """Put the invalid lines at random places and record where they landed."""
        summary = self.run.summary
        total = len(batch) + len(invalid)
        positions = sorted(self.run.rng.sample(range(total), len(invalid)))
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
        """One line that breaks the contract in the way ``kind`` names (`docs/events.md`, "Invalid input")."""
        rng = self.run.rng
        fmt = self.run.fmt
        start = minute + int(rng.random() * MINUTE)
        end = start + 300 + rng.randrange(3_000)
        service = rng.choice(self.run.services)
        event_type, first, last = {
            "digid": ("authentication", "started_at", "completed_at"),
            "digid-machtigen": ("transaction", "started_at", "completed_at"),
            "mijnoverheid": ("api_request", "received_at", "completed_at"),
        }[service]
        record: dict[str, Any] = {
            "type": event_type,
            "event_id": self.run.next_id(),
            "service": service,
            "afnemer_id": rng.choice(ALL_OINS),
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
            # Test BSNs (the 99999xxxx range); nested in half of the cases (`docs/events.md`: "at any depth").
            bsn = f"99999{rng.randrange(10_000):04d}"
            if rng.random() < 0.5:
                record["bsn"] = bsn
            else:
                record["context"] = {"session": rng.getrandbits(32), "bsn": bsn}
        line = orjson.dumps(record).decode()
        if kind == "not_json":
            line = line[: 10 + rng.randrange(len(line) - 12)]
        return line
