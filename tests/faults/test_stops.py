"""Stopping is crash-only (issue 17, sno/runtime/deadline.py): SIGTERM or SIGINT while events flow ends
the worker within the stop bound, with status 0, and a restarted worker counts exactly what an
undisturbed one counts; a second signal ends it at once; a stop that hangs (Faust waits for a broker
that is gone) is cut short at the bound, with the cause as the last line.

The exit times are printed (`-s`) for the issue's closing note; the bound is asserted with slack.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sno.runtime.broker import LocalBroker
from tests.faults.running import EXIT_SLACK, RunningWorker, mixed_lines
from tests.kafka_util import produce_lines
from tests.test_pipeline import run_worker
from tests.test_pipeline_faults import snapshot_of

EVENTS = 12_000


@pytest.fixture(scope="module")
def busy() -> Iterator[LocalBroker]:
    """A broker holding enough events that a worker is still busy when it is told to stop."""
    with LocalBroker() as broker:
        produce_lines(broker.bootstrap, mixed_lines("stop", EVENTS))
        yield broker


@pytest.fixture(scope="module")
def undisturbed(busy: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, ...]:
    store = tmp_path_factory.mktemp("undisturbed")
    done = run_worker(busy.bootstrap, store)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return snapshot_of(store)


def _stop_mid_stream(bootstrap: str, tmp_path: Path, sig: signal.Signals, second: bool = False
                     ) -> tuple[RunningWorker, int | None, float, int]:
    worker = RunningWorker(bootstrap, tmp_path / "store", tmp_path / "status.json")
    try:
        worker.wait_processed(1000)
        at_signal = worker.processed()
        sent = worker.signal(sig)
        if second:
            time.sleep(0.3)
            worker.signal(sig)
        code, ended = worker.wait_exit(60)
    finally:
        worker.stop()
    return worker, code, ended - sent, at_signal


@pytest.mark.parametrize(("sig", "second"), [
    pytest.param(signal.SIGTERM, False, id="SIGTERM"),
    pytest.param(signal.SIGINT, False, id="SIGINT", marks=pytest.mark.slow),
    # a second SIGTERM ends a stopping worker at once
    pytest.param(signal.SIGTERM, True, id="two-SIGTERMs", marks=pytest.mark.slow),
])
def test_a_stop_signal_while_events_flow_ends_the_worker_within_the_bound_and_a_restart_counts_exactly(
    busy: LocalBroker, undisturbed: tuple[object, ...], tmp_path: Path, sig: signal.Signals, second: bool
) -> None:
    worker, code, seconds, at_signal = _stop_mid_stream(busy.bootstrap, tmp_path, sig, second=second)
    print(f"\n{sig.name}{' twice' if second else ''} after {at_signal} of {EVENTS} events: exit {code} "
          f"after {seconds:.1f} s")
    assert code == 0, worker.tail()
    assert seconds < EXIT_SLACK, worker.tail()
    resumed = run_worker(busy.bootstrap, tmp_path / "store")
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert snapshot_of(tmp_path / "store") == undisturbed


def test_sigterm_while_the_broker_is_gone_ends_the_worker_within_the_bound_saying_so(tmp_path: Path) -> None:
    """Faust's own stop waits for the broker (measured before the deadline: still alive after 60 s)."""
    broker = LocalBroker().start()
    try:
        produce_lines(broker.bootstrap, mixed_lines("gone", 500))
        worker = RunningWorker(broker.bootstrap, tmp_path / "store", tmp_path / "status.json")
        try:
            worker.wait_processed(500)
            broker.stop()
            time.sleep(1.0)
            sent = worker.signal(signal.SIGTERM)
            code, ended = worker.wait_exit(60)
        finally:
            worker.stop()
    finally:
        broker.stop()
    print(f"\nSIGTERM with the broker gone: exit {code} after {ended - sent:.1f} s; "
          f"last line: {worker.last_line}")
    assert code == 0, worker.tail()
    assert ended - sent < EXIT_SLACK, worker.tail()
    assert "the worker stopped on SIGTERM" in worker.last_line, worker.tail()
