"""A hard deadline on stopping: once the worker begins to stop, its process is gone within a bound.

Crash-only (issue 17): a worker that hit a fatal error, or was told to stop, must exit, so that its
supervisor restarts it; the ledger makes the restart exact whatever was in flight (streams/README.md).
Stopping gracefully is still worth a try, because it finishes the writes in flight and commits offsets
(less to read again), but a graceful stop can hang: Faust's own shutdown waits on the broker (measured:
with the broker gone, a SIGTERM'd worker was still alive after 60 s), on a store call that never returns,
on threads joined at interpreter exit. So the first stop (a signal, a fatal error, a lost cluster) arms
`StopDeadline`: a daemon thread that, `seconds` later, flushes the logs, writes the cause as the
process's last line on stderr and ends the process with `os._exit` and the exit status the graceful
stop would have had. Children die with it (sno/runtime/children.py). A second SIGTERM or SIGINT fires
the deadline at once.

The thread depends on nothing the stop could block: not the event loop, not a logging handler's lock
(the flush gets one second of its own), not the interpreter's exit (daemon threads run through it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

#: the bound, in seconds, from the first stop to the process's end; SNO_STOP_SECONDS overrides it
STOP_SECONDS: Final = 10.0
STOP_ENV: Final = "SNO_STOP_SECONDS"
#: seconds the final flush of the logs may take before the process exits without it
FLUSH_SECONDS: Final = 1.0

#: what the deadline says and exits with: (exit status, the cause: one line)
Outcome = Callable[[], tuple[int, str]]


def positive_seconds(name: str, default: float, value: float | None = None) -> float:
    """A setting in seconds: ``value`` when given, else the environment variable ``name``, else
    ``default``; anything but a positive number is an error that names the variable."""
    raw = str(value) if value is not None else os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return seconds


def stop_seconds() -> float:
    """The stop bound: SNO_STOP_SECONDS when set to a positive number, else `STOP_SECONDS`."""
    return positive_seconds(STOP_ENV, STOP_SECONDS)


class StopDeadline:
    """Arm once, at the first stop; the process ends `seconds` later unless it ended by itself.

    `outcome` is asked at the moment the deadline fires (not when armed), so a fatal error that comes
    after a SIGTERM, or a drain that finished meanwhile, decides the status and the line.
    """

    def __init__(self, outcome: Outcome, seconds: float | None = None) -> None:
        self.outcome = outcome
        self.seconds = stop_seconds() if seconds is None else seconds
        self.armed_at: float | None = None
        self._now = threading.Event()
        self._lock = threading.Lock()

    def arm(self) -> bool:
        """Start the countdown (idempotent: the first call counts). True when this call armed it."""
        with self._lock:
            if self.armed_at is not None:
                return False
            self.armed_at = time.monotonic()
        threading.excepthook = _quiet_cancellations(threading.excepthook)
        threading.Thread(target=self._run, name="stop-deadline", daemon=True).start()
        return True

    def fire_now(self) -> None:
        """End the process now (a second stop signal: the operator will not wait)."""
        self.arm()
        self._now.set()

    def _run(self) -> None:
        self._now.wait(max(0.0, self.seconds - FLUSH_SECONDS))  # the flush fits in the bound
        try:
            code, cause = self.outcome()
        except Exception as exc:  # the deadline must fire whatever the outcome's state
            code, cause = 1, f"the worker stopped ({type(exc).__name__} while stopping: {exc})"
        waited = time.monotonic() - (self.armed_at or time.monotonic())
        end(code, f"{cause}; its shutdown was cut short after {waited:.1f} s (the ledger makes a restart "
                  "exact)")


def _quiet_cancellations(hook: Callable[[threading.ExceptHookArgs], Any]
                         ) -> Callable[[threading.ExceptHookArgs], Any]:
    """While stopping, a thread cancelled mid-task (Faust's consumer thread, when the broker is gone)
    is one line, not a traceback of forty that would bury the cause; other errors keep their hook."""

    def hook_(args: threading.ExceptHookArgs) -> Any:
        if isinstance(args.exc_value, asyncio.CancelledError):
            name = args.thread.name if args.thread is not None else "a thread"
            logging.getLogger(__name__).info("while stopping, %s was cancelled", name)
            return None
        return hook(args)

    return hook_


def end(code: int, line: str) -> None:
    """Flush the logs (bounded), write `line` last on stderr, and end the process with `code`."""
    flusher = threading.Thread(target=_flush_logs, name="stop-flush", daemon=True)
    flusher.start()
    flusher.join(FLUSH_SECONDS)
    with contextlib.suppress(OSError):
        os.write(2, _last_line(line))
    os._exit(code)


def _flush_logs() -> None:
    # A broken handler or stream must not keep the process alive.
    for handler in list(logging.getLogger().handlers):
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _last_line(message: str) -> bytes:
    """As `sno.commands._options.fail` says it: `sno: …` on a terminal, a JSON log record with
    SNO_LOG_FORMAT=json. Formatted here, without a handler (whose lock a stuck thread may hold)."""
    message = " ".join(message.split())
    if os.environ.get("SNO_LOG_FORMAT", "").strip().lower() == "json":
        from sno.runtime.logs import JsonFormatter

        record = logging.LogRecord("sno", logging.ERROR, __file__, 0, message, None, None)
        return (JsonFormatter().format(record) + "\n").encode()
    return f"sno: {message}\n".encode()
