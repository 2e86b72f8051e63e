"""Logging for every process of the worker: one format (text or JSON lines), one filter for repeats.

On-call reads the logs of many services with the same tools, so `SNO_LOG_FORMAT=json` (or
`--log-format json`) makes every line one JSON object: `time`, `level`, `logger`, `message`, `process`,
`pid`, and `topic`/`partition`/`offset`/`alert_id` when the caller passed them (`extra=`). Faust's and
aiokafka's own lines go through the same handler, because the configuration below is handed to Faust's
worker, which would otherwise install its own (coloured text on stdout). Child processes call
`configure_from_env()` first thing, so their lines match the parent's.

A broker that is down makes aiokafka log the same failure many times a second; `RepeatFilter` lets the
first line of such a state through, holds back its repeats, and says how many there were when the state
comes round again, so an error state is logged once per change, not once per event.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

#: the environment variable that selects the format (`text` or `json`); `--log-format` wins over it
FORMAT_ENV = "SNO_LOG_FORMAT"
#: the worker passes its level on to its child processes through this variable
LEVEL_ENV = "SNO_LOG_LEVEL"
FORMATS = ("text", "json")
#: attributes a caller may attach with `extra=`; the JSON line carries them as keys of their own
CONTEXT_KEYS = ("topic", "partition", "offset", "alert_id", "rule", "state", "reason", "repeated")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s"


def log_format(explicit: str | None = None) -> str:
    """The format in force: the flag, else `SNO_LOG_FORMAT`, else text. An unknown value is an error
    (a typo must not silently give a format the log shipper cannot parse)."""
    value = (explicit or os.environ.get(FORMAT_ENV) or "text").strip().lower()
    if value not in FORMATS:
        raise ValueError(f"unknown log format {value!r} (set {FORMAT_ENV} to one of {', '.join(FORMATS)})")
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback goes into `exception`, newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.processName,
            "pid": record.process,
        }
        for key in CONTEXT_KEYS:
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        repeated = record.__dict__.get("repeated")
        return f"{text} (repeated {repeated} times meanwhile)" if repeated else text


class RepeatFilter(logging.Filter):
    """Warnings and errors: the first of a kind passes; repeats within `hold` seconds of the previous one
    are held back and counted; the next one after a quiet `hold` passes with `repeated=<count>`.

    A kind is (logger, level, message template): aiokafka's "Unable connect to node with id %s: %s" is
    one state whatever the node, so a broker outage gives one line, not sixty a second. CRITICAL always
    passes (the worker stopping is said once anyway).
    """

    def __init__(self, hold: float = 60.0, kinds: int = 1000) -> None:
        super().__init__()
        self.hold = hold
        self.kinds = kinds
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # kind -> [last seen, held back]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.levelno >= logging.CRITICAL:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            entry = self._seen.get(kind)
            if entry is not None and now - entry[0] < self.hold:
                entry[0] = now
                entry[1] += 1
                return False
            if entry is not None and entry[1]:
                record.repeated = int(entry[1])
            if len(self._seen) >= self.kinds:  # bounded: forget the kind seen longest ago
                del self._seen[min(self._seen, key=lambda k: self._seen[k][0])]
            self._seen[kind] = [now, 0]
        return True


def logging_config(fmt: str, level: str | int = "warning") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the format; also handed to Faust's worker (`logging_config`)."""
    formatter = "sno.runtime.logs.JsonFormatter" if fmt == "json" else "sno.runtime.logs.TextFormatter"
    number = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"sno": {"()": formatter}},
        "filters": {"repeats": {"()": "sno.runtime.logs.RepeatFilter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "sno",
                "filters": ["repeats"],
                # The root's level decides; a logger set lower (the operator's own lines) still passes.
                "level": logging.NOTSET,
            }
        },
        "root": {"level": number, "handlers": ["default"]},
    }


def configure(fmt: str | None = None, level: str | int | None = None) -> str:
    """Configure this process and export the choice to the environment, so that child processes
    (spawned: they start a fresh interpreter) configure themselves the same way."""
    chosen = log_format(fmt)
    lvl = level if level is not None else os.environ.get(LEVEL_ENV, "warning")
    logging.config.dictConfig(logging_config(chosen, lvl))
    logging.captureWarnings(True)
    os.environ[FORMAT_ENV] = chosen
    os.environ[LEVEL_ENV] = logging.getLevelName(logging.getLogger().level)
    return chosen


def configure_from_env(process_name: str | None = None) -> None:
    """For a child process: the parent's format and level (from the environment it inherited)."""
    if process_name:
        import multiprocessing

        multiprocessing.current_process().name = process_name
    try:
        fmt = configure()
    except ValueError as exc:  # the parent validated the value; a child never dies of its logging
        print(f"sno: {exc}", file=sys.stderr)
        return
    logging.getLogger(__name__).info("process %s (pid %d) logs as %s", process_name or "child",
                                     os.getpid(), fmt)


class StateLog:
    """Logs a condition when it changes, not every time it is checked (readiness, a lost broker...)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.state: Any = None

    def set(self, state: Any, level: int, message: str, *args: Any, **extra: Any) -> bool:
        if state == self.state:
            return False
        self.state = state
        self.logger.log(level, message, *args, extra=extra or None)
        return True
