"""Precomputed tables of the simulator's per-event choices: service times, outcomes, attachments.

The hot loop draws a few random bits per event and looks its values up here, which is what makes tens
of millions of events a month affordable. The tables are built from quantiles or a fixed private seed,
never from the run's generator, so they are the same in every run and cost nothing per event.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from typing import Final

from sno.simulate.clock import HOUR, MINUTE

#: A service-time table has 2**TABLE_BITS entries: one ``getrandbits(TABLE_BITS)`` picks one.
TABLE_BITS: Final = 14
_TABLE_SIZE: Final = 1 << TABLE_BITS
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
AUTH_MS: Final = _lognormal_table(1_300, 0.33, 0.0025, 4_050, 20_000, cap_ms=3_950)
TXN_MS: Final = _lognormal_table(900, 0.4, 0.002, 4_000, 15_000, cap_ms=3_950)
# Under a capacity burst (R16) the tail grows.
BURST_MS: Final = _lognormal_table(2_200, 0.45, 0.06, 4_050, 30_000, cap_ms=3_950)
# R18: Berichtenbox processing mostly seconds, a tail of minutes and a few hours (all within 24 h).
MESSAGE_MS: Final = _lognormal_table(1_500, 0.8, 0.006, 60_000, 20 * HOUR)
BERICHTPRESENTATIE_MS: Final = _lognormal_table(35, 0.5, 0.0, 1, 1, cap_ms=2_000)
VALIDATIE_MS: Final = _lognormal_table(4_000, 0.45, 0.0, 1, 1, cap_ms=28_000)
ABONNEMENT_MS: Final = _lognormal_table(40 * MINUTE, 0.7, 0.0, 1, 1, cap_ms=int(3.8 * HOUR))
NOTIFY_DELAY_MS: Final = _lognormal_table(4_000, 0.6, 0.0, 1, 1, cap_ms=60_000)
PHONE_WAIT_MS: Final = _lognormal_table(9_000, 0.95, 0.004, 600_000, 1_500_000)


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


def _outcome_table(
    outcomes: Sequence[tuple[str, float]], field: str, values: Sequence[tuple[str | None, float]]
) -> list[str]:
    """The tail of an R14 event's JSON object: its outcome and one optional field, drawn together."""
    return _weighted_table(
        [
            (f',"outcome":"{o}"' + (f',"{field}":"{v}"' if v else "") + "}", wo * wv)
            for o, wo in outcomes
            for v, wv in values
        ]
    )


# R14 events: outcome and assurance level (operation for Machtigen) together, as the tail of the JSON
# object (1024 entries: one ``getrandbits(10)`` picks one).
AUTH_TAIL: Final = _outcome_table(
    (("success", 0.86), ("cancelled", 0.08), ("failure", 0.05), ("error", 0.01)),
    "level",
    (("midden", 0.45), ("substantieel", 0.26), ("basis", 0.22), ("hoog", 0.05), ("2f", 0.01), (None, 0.01)),
)
TXN_TAIL: Final = _outcome_table(
    (("success", 0.9), ("cancelled", 0.05), ("failure", 0.04), ("error", 0.01)),
    "operation",
    (
        ("verifieren", 0.58),
        ("inzien", 0.2),
        ("aanvragen", 0.1),
        ("activeren", 0.08),
        ("balie", 0.02),
        (None, 0.02),
    ),
)
API_STATUS: Final = _weighted_table(
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


ATTACHMENTS: Final = _attachment_table()


def poisson(rng: random.Random, lam: float) -> int:
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
