"""`sno simulate` stays byte for byte what it was: golden checksums of two runs.

The simulator is deterministic per seed (tests/test_simulate.py proves that one run equals the next);
these checksums prove that a refactoring did not change *what* it writes. They were taken from the
single-module simulator before it was split into the `sno/simulate/` package, and the package writes the
same bytes. A deliberate change to the simulated data (a new field, another distribution) changes them:
then check the new output with tests/test_simulate.py and put the new checksums here, saying why in the
commit.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from sno.simulate import simulate

# (month, arguments, lines, sha256 of the JSON Lines written)
GOLDEN: list[tuple[str, dict[str, Any], int, str]] = [
    # A whole month with all three services, across the start of summer time (R1).
    (
        "2026-03",
        {"scale": 0.0005, "seed": 19},
        43_791,
        "c777c78954fa2fe419fb05e429fbb9196079adfdc953bf90cde093b3656d6036",
    ),
    # Two days at a scale with a three-minute capacity burst (R16), many invalid lines and duplicates,
    # in the month summer time ends.
    (
        "2026-10",
        {"scale": 0.01, "seed": 2, "days": 2, "invalid_share": 0.005, "duplicate_share": 0.01},
        80_438,
        "0032b0021b11636a7e2830a833c0cca2f1144a012d1d1ba3a12967319d624ca6",
    ),
]


@pytest.mark.parametrize(("month", "arguments", "lines", "sha256"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_the_simulator_writes_the_same_bytes_as_before_the_split(
    month: str, arguments: dict[str, Any], lines: int, sha256: str
) -> None:
    out = io.BytesIO()
    summary = simulate(month, out=out, **arguments)
    data = out.getvalue()
    assert summary.lines == lines == data.count(b"\n")
    assert hashlib.sha256(data).hexdigest() == sha256, (
        "the simulator's output changed; if that was meant, update GOLDEN (see the module docstring)"
    )
