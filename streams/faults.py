"""Crash injection for the fault tests, kept out of the production classes: the sink's ledger calls
`reached` at three points of a write, and nothing happens unless `SNO_FAULT` armed it."""

from __future__ import annotations

import os
import signal


class FaultPoint:
    """Crash injection for the fault tests: `SNO_FAULT=<point>:<n>` SIGKILLs the worker at the n-th
    batch reaching <point> (`before_write`, `mid_write`, `after_write`). A real SIGKILL of the real
    process, placed at moments a kill from outside can only hit by luck. Unset in production."""

    def __init__(self, spec: str | None) -> None:
        self.point, _, n = (spec or "").partition(":")
        self.remaining = int(n or 1)

    def reached(self, point: str) -> None:
        if point != self.point:
            return
        self.remaining -= 1
        if self.remaining <= 0:
            os.kill(os.getpid(), signal.SIGKILL)

    @classmethod
    def from_env(cls) -> FaultPoint:
        return cls(os.environ.get("SNO_FAULT"))
