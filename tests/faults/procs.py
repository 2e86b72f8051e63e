"""Finding every process a test started, however deep, by an environment marker they all inherit.

Descendants of a killed process are re-parented, so walking the process tree after the kill finds
nothing; but every child copies its parent's environment (multiprocessing's children, its resource
tracker and the Tansu broker included), so a marker variable set for the process under test names all
of them, before and after.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

from tests.conftest import sno_env

MARKER = "SNO_TEST_PROCESS_MARKER"


@dataclass(frozen=True)
class Proc:
    pid: int
    state: str
    command: str


def marked_env(marker: str | None = None) -> tuple[str, dict[str, str]]:
    marker = marker or uuid.uuid4().hex
    return marker, sno_env(**{MARKER: marker})


def marked(marker: str) -> list[Proc]:
    """Live (not zombie) processes that carry the marker."""
    needle = f"{MARKER}={marker}".encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as env:
                if needle not in env.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{name}/cmdline", "rb") as cmd:
                command = cmd.read().replace(b"\0", b" ").decode(errors="replace")[:160]
        except OSError:
            continue
        if state not in ("Z", "X"):
            out.append(Proc(int(name), state, command))
    return out


def survivors(marker: str, within: float = 5.0) -> tuple[list[Proc], float]:
    """The marked processes still alive after `within` seconds (none as soon as they are gone), and
    how long it took them to go."""
    started = time.monotonic()
    while True:
        left = marked(marker)
        waited = time.monotonic() - started
        if not left or waited >= within:
            return left, waited
        time.sleep(0.05)
