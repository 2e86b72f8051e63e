"""The stop deadline (sno/runtime/deadline.py) in a process of its own that then hangs as badly as it
can: its main thread asleep, a thread holding the logging handler's lock and one stuck in the interpreter's
exit. The process still ends at the deadline, with the status and the cause the deadline was given, as
its last line (plain, or a JSON log record with SNO_LOG_FORMAT=json)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import sno_env
from tests.faults.running import ROOT

_HANG = textwrap.dedent("""
    import logging, sys, threading, time
    from sno.runtime import logs
    from sno.runtime.deadline import StopDeadline
    logs.configure(None, "info")
    deadline = StopDeadline(lambda: (3, "the worker stopped (StoreError: the disk is full)"), seconds=2.0)
    handler = logging.getLogger().handlers[0]
    handler.acquire()  # a thread stuck while logging: nobody can log or flush through this handler
    threading.Thread(target=lambda: time.sleep(600)).start()  # joined at exit: the exit hangs too
    deadline.arm()
    deadline.arm()  # the first arm counts
    print("armed", flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
    time.sleep(600)
""")


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("how", ["sleep", "exit"])
def test_a_process_that_hangs_after_the_deadline_is_armed_ends_at_the_deadline_with_the_cause_last(
    fmt: str, how: str
) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _HANG, how], cwd=ROOT, capture_output=True, timeout=60,
                          env=sno_env(SNO_LOG_FORMAT=fmt))
    seconds = time.monotonic() - started
    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 3, done.stderr.decode()
    assert done.stdout.decode().strip() == "armed"
    assert seconds < 30, seconds  # 2 s asked; never the 600 s of the hang
    last = err[-1]
    if fmt == "json":
        last = json.loads(last)["message"]
    else:
        assert last.startswith("sno: ")
    assert "the worker stopped (StoreError: the disk is full); its shutdown was cut short" in last, err
