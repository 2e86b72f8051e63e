"""The simulated afnemers: a fixed population (the same in every run and month), skewed like production.

A few large customer organisations carry most of the volume and a long tail carries the rest; many
organisations use more than one service, so the services' populations overlap.
"""

from __future__ import annotations

import random
from typing import Final


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


ALL_OINS: Final = _oins(700, 1_017)


def _population(start: int, count: int, exponent: float, salt: int) -> tuple[list[str], list[float]]:
    """Afnemers of one service with Zipf-like cumulative weights: a few large ones, a long tail."""
    rng = random.Random(salt)
    members = list(ALL_OINS[start : start + count])
    rng.shuffle(members)
    cumulative: list[float] = []
    acc = 0.0
    for rank in range(1, count + 1):
        acc += rank**-exponent
        cumulative.append(acc)
    return members, cumulative


# Overlapping ranges: many organisations use more than one service.
DIGID_AFNEMERS: Final = _population(0, 450, 1.1, 1)
MACHTIGEN_AFNEMERS: Final = _population(200, 160, 1.0, 2)
MIJNOVERHEID_AFNEMERS: Final = _population(300, 260, 1.2, 3)

#: Each service's population, for streams that serve all three (afnemer support contacts, R21).
AFNEMERS_BY_SERVICE: Final = {
    "digid": DIGID_AFNEMERS,
    "digid-machtigen": MACHTIGEN_AFNEMERS,
    "mijnoverheid": MIJNOVERHEID_AFNEMERS,
}
