"""Micro-benchmark of `schemas.validate.validate` over a simulated month (not a test: run by hand).

    .venv/bin/python -m tests.hostile.bench_validate [LINES] [ROUNDS]

Validation runs once per event in the fold (streams/processor.py), so its cost per line is part of the
pipeline's per-event cost. Each round validates every line of the file; the best round is reported
(the least disturbed by the other processes on a shared machine), with the median for context.
"""

from __future__ import annotations

import io
import statistics
import sys
import time

from schemas.events import TOPICS
from schemas.validate import Accepted, validate
from sno.simulate import simulate


def simulated_lines(n: int) -> list[bytes]:
    buffer = io.BytesIO()
    simulate("2026-04", scale=max(0.0002, n / 70_000 * 0.00115), seed=7, out=buffer, days=None)
    return buffer.getvalue().splitlines()[:n]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    lines = simulated_lines(n)
    with_topic = "--topic" in sys.argv
    topics = []
    for line in lines:
        result = validate(line)
        topics.append(result.topic if isinstance(result, Accepted) else TOPICS["authentication"])
    accepted = sum(1 for line in lines if validate(line).ok)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        if with_topic:
            for line, topic in zip(lines, topics, strict=True):
                validate(line, topic)  # type: ignore[call-arg]
        else:
            for line in lines:
                validate(line)
        times.append((time.perf_counter() - start) / len(lines) * 1e6)
    print(f"{len(lines)} lines ({accepted} valid), {rounds} rounds: best {min(times):.2f} µs/line, "
          f"median {statistics.median(times):.2f} µs/line")


if __name__ == "__main__":
    main()
