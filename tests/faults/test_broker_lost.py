"""A worker whose Kafka cluster is lost (issue 17): it says so once per change, not sixty lines a second;
it exits non-zero once the cluster is gone for longer than `SNO_BROKER_GONE_SECONDS`, or at once when
it comes back as another cluster (the bundled broker restarted: memory only, a new cluster id), so its
supervisor restarts it; and the restarted worker counts exactly what an undisturbed worker counts.

Measured before (the same scenarios): the worker stayed alive for good in both, consuming nothing,
its status file still listing its partitions.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from sno.runtime.broker import LocalBroker
from tests.conftest import sno_env
from tests.faults.running import EXIT_SLACK, RunningWorker, mixed_lines
from tests.kafka_util import produce_lines
from tests.test_pipeline import run_worker
from tests.test_pipeline_faults import snapshot_of

GONE = 3.0


def _lose_the_broker(tmp_path: Path, lines: list[bytes], kill_after: int, restart_after: float | None
                     ) -> tuple[RunningWorker, int | None, dict[str, float], LocalBroker | None]:
    """Run a worker, stop its broker once `kill_after` events are processed, start a new one on the
    same port after `restart_after` s (None: never); returns the worker, its exit status and times."""
    broker = LocalBroker().start()
    port = broker.port
    produce_lines(broker.bootstrap, lines)
    worker = RunningWorker(broker.bootstrap, tmp_path / "store", tmp_path / "status.json",
                           env=sno_env(SNO_BROKER_GONE_SECONDS=str(GONE)))
    again = None
    try:
        worker.wait_processed(kill_after)
        at_kill = worker.processed()
        broker.stop()
        times = {"killed": time.monotonic(), "processed_at_kill": float(at_kill)}
        if restart_after is not None:
            time.sleep(restart_after)
            again = LocalBroker(port=port).start()
            times["restarted"] = time.monotonic()
            assert again.port == port
        code, times["exited"] = worker.wait_exit(GONE + 60)
    except BaseException:
        worker.stop()
        if again is not None:
            again.stop()
        raise
    return worker, code, times, again


def test_a_broker_gone_for_longer_than_allowed_ends_the_worker_non_zero_having_said_it_once(
    tmp_path: Path,
) -> None:
    worker, code, times, _ = _lose_the_broker(tmp_path, mixed_lines("gone", 1000), 1000, None)
    seconds = times["exited"] - times["killed"]
    outage = worker.lines_between(times["killed"], times["exited"])
    print(f"\nbroker gone ({GONE:g} s allowed): exit {code} after {seconds:.1f} s, {len(outage)} lines "
          f"({len(outage) / seconds:.1f}/s); last line: {worker.last_line}")
    assert code not in (0, None), worker.tail()
    assert seconds < GONE + EXIT_SLACK, worker.tail()
    assert "has not answered for" in worker.last_line, worker.tail()
    assert sum("lost the Kafka cluster" in line for line in outage) == 1, worker.tail()
    assert len(outage) / seconds < 3, "\n".join(outage)  # was sixty a second


def test_a_broker_restarted_mid_stream_as_a_new_cluster_ends_the_worker_and_a_restart_counts_exactly(
    tmp_path: Path,
) -> None:
    lines = mixed_lines("restart", 10_000)
    worker, code, times, broker = _lose_the_broker(tmp_path, lines, 1500, restart_after=1.0)
    assert broker is not None
    try:
        seconds = times["exited"] - times["restarted"]
        print(f"\nbroker restarted after {times['processed_at_kill']:.0f} of {len(lines)} events: exit "
              f"{code} {seconds:.1f} s after the new broker answered; last line: {worker.last_line}")
        assert code not in (0, None), worker.tail()
        assert seconds < EXIT_SLACK, worker.tail()
        assert "came back as another cluster" in worker.last_line, worker.tail()
        # The new broker is empty: the producers send everything again (at least once); the restarted
        # worker begins a new ledger epoch and must count each event once, as an undisturbed worker does.
        produce_lines(broker.bootstrap, lines)
        resumed = run_worker(broker.bootstrap, tmp_path / "store")
        assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    finally:
        broker.stop()
    with LocalBroker() as undisturbed:  # the same events, sent once, read by a worker nobody disturbs
        produce_lines(undisturbed.bootstrap, lines)
        fresh = run_worker(undisturbed.bootstrap, tmp_path / "undisturbed")
        assert fresh.returncode == 0, fresh.stderr.decode()[-2000:]
    assert snapshot_of(tmp_path / "store") == snapshot_of(tmp_path / "undisturbed")


@pytest.mark.slow
def test_a_broker_that_never_comes_back_is_given_up_after_the_default_allowance(tmp_path: Path) -> None:
    """Without SNO_BROKER_GONE_SECONDS: the documented default (60 s), then the stop bound."""
    broker = LocalBroker().start()
    produce_lines(broker.bootstrap, mixed_lines("default", 300))
    worker = RunningWorker(broker.bootstrap, tmp_path / "store", tmp_path / "status.json")
    try:
        worker.wait_processed(300)
        broker.stop()
        killed = time.monotonic()
        code, exited = worker.wait_exit(60 + 60)
    finally:
        worker.stop()
    print(f"\nbroker gone (default allowance): exit {code} after {exited - killed:.1f} s")
    assert code not in (0, None, -signal.SIGKILL), worker.tail()
    assert 55 < exited - killed < 60 + EXIT_SLACK, worker.tail()
    assert "SNO_BROKER_GONE_SECONDS=60" in worker.last_line, worker.tail()
