"""SIGKILL the worker mid-stream, drain with a fresh worker: the store equals an undisturbed run's.

The crash points inside a flush (before the write, between two inserts of one batch, and after the
write but before Kafka's offset commit) are reached with `SNO_FAULT`, which makes the worker SIGKILL
itself there: a real kill of the real process, at a moment an outside kill only hits by luck. Kills
from outside, at whatever moment the status file says events are flowing, complete the picture.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sno.core.topics import DEADLETTER_TOPIC
from sno.runtime.broker import LocalBroker
from sno.runtime.store import open_store
from tests.conftest import sno_env
from tests.eventgen import events
from tests.kafka_util import produce_lines, read_topic
from tests.test_pipeline import run_worker, stored, worker_command


@pytest.fixture(scope="module")
def loaded_broker() -> Iterator[str]:
    valid, invalid = events(n=4000, seed=11)
    with LocalBroker() as local:
        produce_lines(local.bootstrap, [*valid, *invalid])
        yield local.bootstrap


@pytest.fixture(scope="module")
def undisturbed(loaded_broker: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, ...]:
    store = tmp_path_factory.mktemp("undisturbed")
    done = run_worker(loaded_broker, store)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return snapshot_of(store)


def snapshot_of(store: Path) -> tuple[object, ...]:
    inputs, snaps = stored(store)
    with open_store(store=store) as st:
        dead = st.query("SELECT topic, partition, offset, reason FROM sno_deadletter FINAL ORDER BY ALL")
        daily = st.query(
            "SELECT topic, reason, sum(records) FROM sno_deadletter_daily GROUP BY ALL ORDER BY ALL"
        )
        seen = st.query("SELECT event_type, event_id, count() FROM sno_seen GROUP BY ALL HAVING count() > 1")
    return inputs, snaps, dead, daily, seen


@pytest.mark.parametrize("fault", ["before_write:3", "mid_write:3", "after_write:3", "mid_write:1"])
def test_a_worker_killed_inside_a_flush_and_restarted_loses_nothing_and_counts_nothing_twice(
    loaded_broker: str, undisturbed: tuple[object, ...], tmp_path: Path, fault: str
) -> None:
    store = tmp_path / "store"
    killed = run_worker(loaded_broker, store, env=sno_env(SNO_FAULT=fault))
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    resumed = run_worker(loaded_broker, store)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    if fault.startswith("mid_write"):
        assert "finishing batch" in resumed.stderr.decode(), "the interrupted batch must be completed"
    assert snapshot_of(store) == undisturbed


def _kill_when_flowing(bootstrap: str, store: Path, status: Path, after_processed: int) -> int:
    proc = subprocess.Popen(
        worker_command(bootstrap, store, "--status-file", str(status)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=sno_env(),
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(status.read_text())["processed"] >= after_processed:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("after", [1, 2500])
def test_a_worker_killed_from_outside_while_events_flow_resumes_exactly(
    loaded_broker: str, undisturbed: tuple[object, ...], tmp_path: Path, after: int
) -> None:
    store = tmp_path / "store"
    code = _kill_when_flowing(loaded_broker, store, tmp_path / "status.json", after)
    assert code in (-signal.SIGKILL, 0)
    resumed = run_worker(loaded_broker, store)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert snapshot_of(store) == undisturbed


@pytest.mark.slow
@pytest.mark.parametrize("after", [200, 800, 1600, 3200, 4000])
def test_repeated_kills_at_many_moments_still_give_the_undisturbed_store(
    loaded_broker: str, undisturbed: tuple[object, ...], tmp_path: Path, after: int
) -> None:
    store = tmp_path / "store"
    for k in range(3):
        _kill_when_flowing(loaded_broker, store, tmp_path / f"status{k}.json", after * (k + 1) // 3)
    resumed = run_worker(loaded_broker, store)
    assert resumed.returncode == 0
    assert snapshot_of(store) == undisturbed


def test_dead_letters_reach_their_topic_even_when_the_worker_dies_right_after_writing(
    fresh_broker, tmp_path: Path
) -> None:
    valid, invalid = events(n=300, seed=2)
    produce_lines(fresh_broker.bootstrap, [*valid, *invalid])
    store = tmp_path / "store"
    killed = run_worker(fresh_broker.bootstrap, store, env=sno_env(SNO_FAULT="after_write:1"))
    assert killed.returncode == -signal.SIGKILL
    assert run_worker(fresh_broker.bootstrap, store).returncode == 0
    with open_store(store=store) as st:
        positions = {
            f"{t}/{p}/{o}".encode()
            for t, p, o in st.query("SELECT topic, partition, offset FROM sno_deadletter FINAL")
        }
    published = {key for key, _ in read_topic(fresh_broker.bootstrap, DEADLETTER_TOPIC)}
    assert len(positions) == len(invalid)
    assert positions <= published  # at least once: none lost
