"""Synthetic events that look like a month of production, for `sno simulate`, `sno demo` and the benchmark.

The pipeline is only convincing when it is fed what production sends: volumes with a daily and weekly
rhythm, a few large afnemers and a long tail of small ones, processing times with a tail over the limit,
snapshots that change and arrive out of order, re-sent duplicates and lines that break the contract
(`docs/events.md`). A month at real scale is tens of millions of events, so the generator streams: it
walks the month minute by minute in time order, keeps only the current minute (and a handful of snapshot
events) in memory, shuffles each minute so arrival is not perfectly ordered, and writes it out at once.

Everything is drawn from one seeded `random.Random`, and nothing depends on the wall clock, so the same
arguments give the same bytes. Per-event choices come from precomputed tables of JSON fragments: the
hot loop does a few random draws and one f-string per event.

Instants are written with millisecond precision, DigiD and Machtigen events in UTC (`Z`), MijnOverheid,
support and snapshot events with the local offset (`+01:00`/`+02:00`), so both spellings of R1 occur.

The package is split by concern: ``volumes`` (how much, and when), ``tables`` (precomputed per-event
choices), ``afnemers`` (the customer population), ``clock`` (milliseconds and the core's calendar),
``streams`` (the bulk and the low-volume events), ``snapshots`` (outages, maintenance, incidents,
forecasts), ``faults`` (duplicates and invalid lines), ``run`` (the state they share) and ``generator``
(the minute-by-minute walk).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO, Final

from sno.core.calendar import Month
from sno.simulate.faults import INVALID_KINDS
from sno.simulate.generator import Generator
from sno.simulate.norms import digid_capacity_limit
from sno.simulate.run import Run
from sno.simulate.summary import SimulationSummary

__all__ = [
    "INVALID_KINDS",
    "SERVICES",
    "SimulationSummary",
    "digid_capacity_limit",
    "simulate",
]

SERVICES: Final = ("digid", "digid-machtigen", "mijnoverheid")


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
    run = Run(the_month, chosen, scale, seed, days)
    generator = Generator(
        run, invalid_share=invalid_share, duplicate_share=duplicate_share, capacity_burst=capacity_burst
    )
    return generator.run_to(out)
