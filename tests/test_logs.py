"""Log format and the once-per-change rule (sno/runtime/logs.py), on the real `logging` machinery."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from sno.runtime import logs
from sno.runtime.metrics import PipelineMetrics
from tests.conftest import sno_env


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logs.RepeatFilter]]:
    """A logger with the handler the worker installs (JSON formatter, repeat filter) on a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    repeats = logs.RepeatFilter(hold=0.5)
    handler.addFilter(repeats)
    logger = logging.getLogger(f"test.logs.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream, repeats
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_its_context_and_traceback(captured) -> None:
    logger, stream, _ = captured
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        logger.error("batch %s failed", "abc", exc_info=True,
                     extra={"topic": "sno.messages", "partition": 3, "offset": 41, "alert_id": "a-1"})
    (entry,) = _lines(stream)
    assert entry["message"] == "batch abc failed" and entry["level"] == "ERROR"
    context = (entry["topic"], entry["partition"], entry["offset"], entry["alert_id"])
    assert context == ("sno.messages", 3, 41, "a-1")
    assert "ValueError: line one\nline two" in entry["exception"]
    assert stream.getvalue().count("\n") == 1  # the traceback's newlines are escaped inside the line


def test_a_repeated_error_is_logged_once_and_counted_when_the_state_comes_round_again(captured) -> None:
    logger, stream, _ = captured
    for node in range(50):  # aiokafka during a broker outage: the same failure, node after node
        logger.error("Unable connect to node with id %s: %s", node, "refused")
    logger.warning("another state")
    assert [e["message"] for e in _lines(stream)] == ["Unable connect to node with id 0: refused",
                                                       "another state"]
    time.sleep(0.6)  # quiet for longer than the hold: the state ended
    logger.error("Unable connect to node with id %s: %s", 1, "refused")
    last = _lines(stream)[-1]
    assert last["repeated"] == 49


def test_information_and_critical_lines_are_never_held_back(captured) -> None:
    logger, stream, _ = captured
    for _ in range(3):
        logger.info("started")
        logger.critical("stopping the worker")
    assert len(_lines(stream)) == 6


def test_a_state_log_speaks_only_when_the_state_changes(captured) -> None:
    logger, stream, _ = captured
    state = logs.StateLog(logger)
    for ready in (False, False, True, True, True, False):
        state.set(ready, logging.INFO, "ready=%s", ready)
    assert [e["message"] for e in _lines(stream)] == ["ready=False", "ready=True", "ready=False"]


def test_an_unknown_log_format_is_refused_in_one_line(run_sno) -> None:
    result = run_sno("worker", "--broker", "127.0.0.1:1", env=sno_env(SNO_LOG_FORMAT="yaml"))
    assert result.returncode != 0
    assert b"Traceback" not in result.stderr
    assert b"yaml" in result.stderr


def test_a_one_line_error_is_a_json_line_when_the_format_is_json(tmp_path) -> None:
    (tmp_path / "ca.pem").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "sno.cli", "worker", "--broker", "127.0.0.1:1"],
        capture_output=True, timeout=60, cwd=tmp_path,
        env=sno_env(SNO_LOG_FORMAT="json", SNO_KAFKA_SECURITY_PROTOCOL="SASL_SSL"),
    )
    assert result.returncode == 1
    (line,) = result.stderr.decode().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and "SNO_KAFKA_SASL_USERNAME" in entry["message"]


def test_the_worker_configuration_is_handed_to_faust_and_keeps_its_handler() -> None:
    config = logs.logging_config("json", "info")
    assert config["formatters"]["sno"]["()"] == "sno.runtime.logs.JsonFormatter"
    assert config["handlers"]["default"]["filters"] == ["repeats"]
    assert config["root"]["level"] == logging.INFO
    with pytest.raises(ValueError, match="log level"):
        logs.logging_config("json", "chatty")


# --- readiness (the decision; the endpoints are exercised on a real worker in test_metrics.py) ----------


class _Sink:
    """A stand-in for the sink's public counters: the not-ready states (a write stalled for a minute, a
    worker stopping) cannot be provoked on a real worker within a test's time."""

    def __init__(self) -> None:
        from streams.sink import Stats

        self.stats = Stats()
        self.in_flight = 0
        self.assigned: set[tuple[str, int]] = set()
        self.positions: dict[tuple[str, int], int] = {}
        self.fatal: BaseException | None = None


class _Consumer:
    def __init__(self, highwater: int | None) -> None:
        self.value = highwater

    def highwater(self, tp: object) -> int | None:
        return self.value


def test_readiness_needs_partitions_and_writes_while_records_wait() -> None:
    metrics, sink = PipelineMetrics(), _Sink()
    metrics.update(_Consumer(None), sink)
    assert metrics.alive()[0] and metrics.is_ready() == (False, "no input partition assigned")
    sink.assigned = {("sno.messages", 0)}
    sink.positions = {("sno.messages", 0): 9}
    metrics.update(_Consumer(10), sink)  # high-water 10, offset 9 written: nothing to write
    assert metrics.is_ready()[0]
    metrics.update(_Consumer(500), sink)  # records wait, assigned just now: writing
    assert metrics.is_ready()[0]
    metrics._assigned_at -= 120  # assigned two minutes ago, records waiting since, nothing written
    metrics._pending_since -= 120  # type: ignore[operator]
    metrics.update(_Consumer(500), sink)
    ready, reason = metrics.is_ready()
    assert not ready and "490 records to write and nothing written for 120 s" in reason
    sink.stats.last_write_at = time.time()
    metrics.update(_Consumer(500), sink)
    assert metrics.is_ready()[0]
    sink.fatal = OSError("disk full")
    metrics.update(_Consumer(500), sink)
    assert metrics.alive() == (False, "stopping: OSError: disk full")
    assert not metrics.is_ready()[0]


def test_an_idle_worker_past_the_limit_stays_ready_while_it_writes_the_records_that_resume(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Idle (nothing to write) for ten minutes, so the last write and the assignment are older than the
    limit: records that come now have waited for no time, and the worker writing them is ready. The
    stall is timed from when they began to wait. (The stand-ins: a real idle period and stall take
    minutes.)"""
    metrics, sink = PipelineMetrics(), _Sink()
    sink.assigned = {("sno.messages", 0)}
    sink.positions = {("sno.messages", 0): 9}
    sink.stats.last_write_at = time.time() - 600
    metrics.update(_Consumer(10), sink)
    metrics._assigned_at -= 600
    metrics.update(_Consumer(10), sink)
    assert metrics.is_ready() == (True, "1 partitions assigned, nothing to write")
    caplog.set_level(logging.INFO, logger="sno.runtime.metrics")
    metrics.update(_Consumer(68), sink)  # traffic resumes: 58 records wait
    assert metrics.is_ready() == (True, "1 partitions assigned, 58 records to write, writing")
    sink.in_flight = 1  # handed over and being written
    sink.positions = {("sno.messages", 0): 67}
    metrics.update(_Consumer(68), sink)
    assert metrics.is_ready()[0]
    sink.in_flight, sink.stats.last_write_at = 0, time.time()  # written
    metrics.update(_Consumer(68), sink)
    assert metrics.is_ready() == (True, "1 partitions assigned, nothing to write")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # never "not ready"
    # and a stall still shows: records waiting for longer than the limit, nothing written meanwhile
    metrics.update(_Consumer(100), sink)
    assert metrics.is_ready()[0]
    metrics._pending_since -= 61  # type: ignore[operator]
    sink.stats.last_write_at -= 61
    metrics.update(_Consumer(100), sink)
    assert metrics.is_ready() == (
        False, "32 records to write and nothing written for 61 s while they wait (limit 60 s)")


def test_health_fails_when_the_event_loop_stops_beating() -> None:
    metrics, sink = PipelineMetrics(), _Sink()
    assert not metrics.alive()[0]  # before the first beat
    metrics.update(_Consumer(None), sink)
    assert metrics.alive()[0]
    metrics.heartbeat = time.monotonic() - 30
    alive, reason = metrics.alive()
    assert not alive and "has not run for 30 s" in reason
