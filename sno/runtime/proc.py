"""What Linux says of a process (/proc): its CPU time, for the benchmark's per-stage figures."""

from __future__ import annotations

import os


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds of process `pid` so far; None when it is gone or not Linux."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
