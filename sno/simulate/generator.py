"""One simulator run: plan the month, then walk it minute by minute and write each minute at once.

The run keeps only the current minute (and the small plan of snapshots) in memory: per minute the bulk
streams, the low-volume events of the hour that fall in it and the snapshots due by then are gathered,
the previous minute's re-sends added, the batch shuffled (arrival is not perfectly ordered), invalid
lines put in at random places, and the lot written out.
"""

from __future__ import annotations

import time as _time
from typing import BinaryIO

from sno.simulate.clock import MINUTE
from sno.simulate.faults import Faults
from sno.simulate.run import Run
from sno.simulate.snapshots import Snapshots
from sno.simulate.streams import Streams
from sno.simulate.summary import SimulationSummary


class Generator:
    """One run: the shared ``Run`` state and the three concerns that draw from it."""

    def __init__(
        self, run: Run, *, invalid_share: float, duplicate_share: float, capacity_burst: bool
    ) -> None:
        self.run = run
        self.capacity_burst = capacity_burst
        self.streams = Streams(run)
        self.snapshots = Snapshots(run)
        self.faults = Faults(run, invalid_share, duplicate_share)

    def plan(self) -> None:
        """The month's plan, in the order its draws are made: bursts, snapshots, forecasts, rarities."""
        run = self.run
        if self.capacity_burst and "digid" in run.services:
            self.snapshots.burst_outage(self.streams.plan_burst())
        for service in run.services:
            self.snapshots.plan_outages(service)
            self.snapshots.plan_maintenance(service)
            self.snapshots.plan_incidents(service)
        self.snapshots.plan_special_maintenance()
        if "mijnoverheid" in run.services:
            self.snapshots.plan_forecasts()
            self.streams.plan_mijnoverheid_rarities()
        self.faults.plan()

    def run_to(self, out: BinaryIO) -> SimulationSummary:
        """Write the whole period to ``out`` and say what was written."""
        began = _time.perf_counter()
        self.plan()
        run, streams, faults = self.run, self.streams, self.faults
        snapshots = sorted(run.snapshots)
        next_snapshot = 0
        carry: list[str] = []
        summary = run.summary
        rng = run.rng
        for hour in run.hours:
            later = streams.low_rate_hour(hour)
            rates = streams.minute_rates(hour)
            for index in range(60):
                minute = hour.start + index * MINUTE
                batch = streams.minute(minute, rates)
                batch.extend(later[index])
                while next_snapshot < len(snapshots) and snapshots[next_snapshot][0] < minute + MINUTE:
                    _, _, event_type, line = snapshots[next_snapshot]
                    if snapshots[next_snapshot][0] < run.end:
                        batch.append(line)
                        summary.events[event_type] += 1
                    next_snapshot += 1
                resend = faults.duplicates_of(batch, minute)
                batch.extend(carry)
                carry = resend
                rng.shuffle(batch)
                invalid = faults.invalid_lines(len(batch), minute)
                if invalid:
                    batch = faults.insert_invalid(batch, invalid)
                self.write(out, batch)
        if carry:
            self.write(out, carry)
        summary.seconds = _time.perf_counter() - began
        return summary

    def write(self, out: BinaryIO, batch: list[str]) -> None:
        """Write one batch of lines and count them (line numbers of invalid lines depend on it)."""
        if not batch:
            return
        chunk = ("\n".join(batch) + "\n").encode()
        out.write(chunk)
        self.run.summary.lines += len(batch)
        self.run.summary.bytes += len(chunk)
