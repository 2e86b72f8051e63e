"""The pipeline against the real broker and the real embedded ClickHouse, compared with the core.

Every test runs `sno worker --drain` as a separate process, as an operator would, then reads the store.
"""

from __future__ import annotations

import base64
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from schemas.validate import Accepted, Rejected, validate
from sno.core.buckets import MonthInputs
from sno.core.catalogue import load_catalogue
from sno.core.dedup import Deduplicator
from sno.core.snapshots import SNAPSHOT_TYPES, Snapshots
from sno.core.topics import DEADLETTER_TOPIC
from sno.rollups import read_inputs, read_snapshots
from sno.runtime.store import open_store
from tests.conftest import sno_env
from tests.eventgen import events
from tests.kafka_util import produce_lines, read_topic, topic_and_key


def worker_command(bootstrap: str, store: Path, *extra: str) -> list[str]:
    """`sno worker --drain` on this broker and store, in batches of 400 (the pipeline tests' worker)."""
    return [sys.executable, "-m", "sno.cli", "worker", "--drain", "--broker", bootstrap,
            "--store", str(store), "--batch-size", "400", *extra]


def run_worker(
    bootstrap: str, store: Path, *extra: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        worker_command(bootstrap, store, *extra),
        capture_output=True,
        timeout=timeout,
        env=env or sno_env(),
    )


def reference(lines: list[bytes]) -> tuple[MonthInputs, Snapshots, int]:
    """What the core computes from the same lines: validate, de-duplicate in order, fold."""
    catalogue = load_catalogue()
    dedup = Deduplicator()
    counted, snapshots, duplicates = [], [], 0
    for line in lines:
        result = validate(line)
        if not isinstance(result, Accepted):
            continue
        if result.type in SNAPSHOT_TYPES:
            snapshots.append(result.record)
        elif dedup.is_duplicate(result.record):
            duplicates += 1
        else:
            counted.append(result.record)
            if result.type == "forecast":
                snapshots.append(result.record)
    return MonthInputs.from_events(counted, catalogue), Snapshots.from_events(snapshots), duplicates


def stored(store: Path) -> tuple[MonthInputs, Snapshots]:
    with open_store(store=store) as st:
        return read_inputs(st), read_snapshots(st)


@pytest.fixture(scope="module")
def lines() -> tuple[list[bytes], list[bytes]]:
    return events()


def test_a_month_through_the_pipeline_equals_the_core_on_the_same_events(
    fresh_broker, store_path: Path, lines
) -> None:
    valid, invalid = lines
    produce_lines(fresh_broker.bootstrap, [*valid, *invalid])
    done = run_worker(fresh_broker.bootstrap, store_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    expected_inputs, expected_snaps, duplicates = reference(valid)
    got_inputs, got_snaps = stored(store_path)
    assert sum(len(rows) for rows in expected_inputs.rows.values()) > 1000
    assert got_inputs == expected_inputs
    assert got_snaps == expected_snaps
    assert duplicates > 10
    assert f"{duplicates} duplicates" in done.stderr.decode()


def test_bad_records_are_dead_lettered_with_their_reason_and_change_no_rollup(
    fresh_broker, store_path: Path, lines
) -> None:
    valid, invalid = lines
    produce_lines(fresh_broker.bootstrap, [*valid, *invalid])
    assert run_worker(fresh_broker.bootstrap, store_path).returncode == 0

    reasons = sorted(r.reason for r in map(validate, invalid) if isinstance(r, Rejected))
    with open_store(store=store_path) as st:
        rows = st.query("SELECT reason, original FROM sno_deadletter FINAL ORDER BY reason")
        daily = st.query("SELECT sum(records) FROM sno_deadletter_daily")
    assert sorted(r[0] for r in rows) == reasons
    assert daily == [(len(invalid),)]
    originals = {base64.b64decode(r[1]) for r in rows}
    assert b"not json at all" in originals
    assert not any(b"123456782" in o for o in originals), "a BSN must not survive into the dead letters"

    letters = read_topic(fresh_broker.bootstrap, DEADLETTER_TOPIC, expected=len(invalid))
    assert sorted(orjson.loads(v)["reason"] for _, v in letters) == reasons
    assert sorted(orjson.loads(v)["source"]["topic"] for _, v in letters) == sorted(
        topic_and_key(line)[0] for line in invalid
    )

    expected_inputs, _, _ = reference(valid)
    assert stored(store_path)[0] == expected_inputs


def test_arrival_order_and_redelivery_change_nothing(fresh_broker, store_path: Path, lines) -> None:
    valid, _ = lines
    shuffled = valid[:]
    random.Random(3).shuffle(shuffled)
    produce_lines(fresh_broker.bootstrap, shuffled)
    assert run_worker(fresh_broker.bootstrap, store_path).returncode == 0
    first = stored(store_path)

    # Everything delivered a second time (a producer retrying the whole file): all duplicates.
    produce_lines(fresh_broker.bootstrap, shuffled)
    again = run_worker(fresh_broker.bootstrap, store_path)
    assert again.returncode == 0
    assert stored(store_path) == first
    expected_inputs, expected_snaps, _ = reference(valid)
    assert first == (expected_inputs, expected_snaps)


def test_a_second_worker_on_the_same_store_stops_with_one_line(fresh_broker, store_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sno.cli",
            "worker",
            "--broker",
            fresh_broker.bootstrap,
            "--store",
            str(store_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=sno_env(),
    )
    try:
        lock = store_path / "sno.lock"
        for _ in range(200):
            if lock.exists() and lock.read_text():
                break
            subprocess.run(["sleep", "0.05"])
        second = run_worker(fresh_broker.bootstrap, store_path, timeout=60)
        err = second.stderr.decode().strip()
        assert second.returncode != 0
        assert err.count("\n") == 0 and "in use by `sno worker`" in err and str(holder.pid) in err
    finally:
        holder.terminate()
        holder.wait(timeout=30)


def test_events_dated_outside_the_storable_years_are_dead_lettered_and_the_worker_drains(
    fresh_broker, store_path: Path
) -> None:
    # A schema-valid shape with the year 1960 or 9999 can be neither stored (ClickHouse DateTime runs
    # 1970-2106) nor judged (R1 months); it must become a dead letter, never stall the worker.
    def auth(event_id: str, year: int) -> bytes:
        return orjson.dumps(
            {
                "type": "authentication",
                "event_id": event_id,
                "service": "digid",
                "started_at": f"{year}-04-01T10:00:00Z",
                "completed_at": f"{year}-04-01T10:00:01Z",
                "outcome": "success",
            }
        )

    lines = [auth("old", 1960), auth("far", 9999), auth("fine", 2026)]
    produce_lines(fresh_broker.bootstrap, lines)
    done = run_worker(fresh_broker.bootstrap, store_path, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    with open_store(store=store_path) as st:
        dead = st.query("SELECT reason, count() FROM sno_deadletter FINAL GROUP BY reason")
        counted = st.query("SELECT sum(count) FROM sno_auth_minute")
    assert dead == [("invalid_field", 2)]
    assert counted == [(1,)]
