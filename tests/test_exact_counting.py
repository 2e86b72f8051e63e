"""Exact counts whatever the arrival order, the producer's keys and the number of workers.

docs/events.md: a second copy of (type, event_id) whose event time lies within 24 h of the first's counts
once, whatever the order and the delay in which the copies arrive, whichever partitions they land on and
however many workers share the topics. The reference is the core's: the de-duplicated set folded in
event-time order (`sno.core.judge.reference_report` does the same).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.validate import Accepted, validate
from sno.core.buckets import FAMILIES, MonthInputs
from sno.core.catalogue import load_catalogue
from sno.core.dedup import Deduplicator, event_time
from sno.core.intervals import instant_key
from sno.core.topics import TOPICS
from sno.rollups import read_inputs
from sno.runtime.logs import JsonFormatter
from sno.runtime.partitioning import owner_partition
from sno.runtime.store import Store
from streams.processor import EventProcessor
from streams.sink import ClickHouseSink, Fenced

APRIL = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # local midnight starting April 2026 (R1, R2)
TOPIC = TOPICS["authentication"]
OWNERS = 2


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def month_lines(n: int, seed: int, span: timedelta = timedelta(days=30)) -> list[bytes]:
    """n distinct authentications spread over April 2026 (so memory forgets, and copies days apart
    need the store), with processing times either side of the R14 limit; `span`: over less of it."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        t = APRIL + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        lines.append(orjson.dumps({
            "type": "authentication", "event_id": f"a-{seed}-{i}", "service": "digid",
            "afnemer_id": f"0000000{rng.randrange(5):013d}", "started_at": _ts(t),
            "completed_at": _ts(t + timedelta(milliseconds=rng.choice([300, 4000, 4001, 6000]))),
            "outcome": "success",
        }))
    return lines


def reference_inputs(lines: list[bytes]) -> tuple[MonthInputs, int]:
    """The core's answer: valid events, de-duplicated in event-time order, folded."""
    records = [r.record for r in map(validate, lines) if isinstance(r, Accepted)]
    records.sort(key=lambda r: instant_key(event_time(r)))
    dedup = Deduplicator()
    counted = [r for r in records if not dedup.is_duplicate(r)]
    return MonthInputs.from_events(counted, load_catalogue()), len(counted)


def _clear(store: Store) -> None:
    for table in ["sno_ledger", "sno_seen", "sno_owners", "sno_snapshots", "sno_deadletter",
                  "sno_deadletter_daily", *(f"sno_{name}" for name in FAMILIES)]:
        store.query(f"TRUNCATE TABLE IF EXISTS {table}")


async def _feed(store: Store, arrival: list[bytes], batch: int, restart_at: int, land: list[int]) -> int:
    """Feed records through the real sink and processor into the real store, in arrival order, each on
    the partition it `land`s on; a record on the wrong partition is forwarded, and delivered back at
    the end of the owner's queue as a broker would (offsets continue). The sink and processor are
    replaced mid-way (a restart: memory rebuilt from the store). Returns the records forwarded."""
    queues: dict[int, list[bytes]] = {p: [] for p in range(OWNERS)}
    for line, p in zip(arrival, land, strict=True):
        queues[p].append(line)
    offsets = {p: 0 for p in range(OWNERS)}
    forwarded = 0

    def new_sink() -> ClickHouseSink:
        sink = ClickHouseSink(store, EventProcessor(owners=OWNERS), bootstrap="unused:9092", epoch="e1")

        async def forward(records: list[tuple[str, int, bytes, bytes]]) -> None:
            nonlocal forwarded
            for _topic, owner, _key, value in records:
                queues[owner].append(value)
                forwarded += 1

        sink.publish_forwards = forward
        return sink

    sink = new_sink()
    await sink.on_assigned({(TOPIC, p) for p in range(OWNERS)})
    handed = 0
    while any(offsets[p] < len(queues[p]) for p in queues):
        for p in range(OWNERS):
            chunk = queues[p][offsets[p]: offsets[p] + batch]
            if not chunk:
                continue
            records = [(TOPIC, p, offsets[p] + i, line) for i, line in enumerate(chunk)]
            offsets[p] += len(chunk)
            await sink.flush(records)
            handed += len(chunk)
            await sink.idle()  # forwards are published before the write: the queues now hold them
            if restart_at and handed >= restart_at:
                restart_at = 0
                await sink.close()
                sink = new_sink()
                await sink.on_assigned({(TOPIC, q) for q in range(OWNERS)})
    await sink.idle()
    await sink.close()
    return forwarded


@pytest.fixture
def shared_store(tmp_path: Path) -> Any:
    """One embedded store for a test (its hypothesis examples clear it); closed after, because a process
    hosts one chDB engine path at a time."""
    store = Store(None, tmp_path / "shared")
    store.migrate()
    yield store
    store.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_with_copies_days_apart_on_any_partition_counts_each_event_once(
    shared_store: Store, data: st.DataObject
) -> None:
    seed = data.draw(st.integers(0, 10_000), label="seed")
    lines = month_lines(240, seed)
    copies = data.draw(st.lists(st.integers(0, len(lines) - 1), max_size=120), label="copies")
    arrival = lines + [lines[i] for i in copies]
    how = data.draw(st.sampled_from(["shuffled", "copies_days_later", "reversed"]), label="order")
    rng = random.Random(seed)
    if how == "shuffled":
        rng.shuffle(arrival)
    elif how == "copies_days_later":  # the originals in event-time order, the re-sent batch at the end
        arrival = sorted(lines, key=lambda line: orjson.loads(line)["started_at"]) + arrival[len(lines):]
    else:
        arrival.reverse()
    keyed = data.draw(st.booleans(), label="keyed by event_id")
    land = [owner_partition(orjson.loads(line)["event_id"].encode(), OWNERS) if keyed
            else rng.randrange(OWNERS) for line in arrival]
    batch = data.draw(st.sampled_from([7, 40, 200]), label="batch")
    restart_at = data.draw(st.sampled_from([0, len(arrival) // 2]), label="restart at")

    _clear(shared_store)
    forwarded = asyncio.run(_feed(shared_store, arrival, batch, restart_at, land))

    expected, counted = reference_inputs(arrival)
    assert counted == len(lines)
    assert read_inputs(shared_store) == expected
    assert shared_store.query("SELECT count() FROM sno_seen")[0][0] == len(lines)
    if keyed:
        assert forwarded == 0  # keyed input pays nothing


def _stored_content(store: Store) -> dict[str, Counter[Any]]:
    """Every table as content that does not depend on partitions, offsets or the wall clock."""
    out: dict[str, Counter[Any]] = {"inputs": Counter({"rollups": hash(repr(read_inputs(store)))})}
    out["seen"] = Counter(store.query("SELECT event_type, event_id, event_time FROM sno_seen"))
    out["snapshots"] = Counter(store.query(
        "SELECT DISTINCT kind, service, environment, id, updated_at, payload FROM sno_snapshots "
        "WHERE kind != 'forecast'"))
    out["deadletters"] = Counter(store.query("SELECT reason, original FROM sno_deadletter FINAL"))
    return out


# -- through the real broker and worker processes ---------------------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from sno.core.snapshots import SNAPSHOT_TYPES  # noqa: E402
from tests.conftest import sno_env  # noqa: E402
from tests.kafka_util import produce_lines  # noqa: E402
from tests.test_sink_failures import sigterm_caught  # noqa: E402, F401 (a fixture: SIGTERM to pytest)


def reference_all(lines: list[bytes]) -> MonthInputs:
    """The core's rollups of every valid non-snapshot event, de-duplicated in event-time order."""
    records = [r.record for r in map(validate, lines)
               if isinstance(r, Accepted) and r.type not in SNAPSHOT_TYPES]
    records.sort(key=lambda r: instant_key(event_time(r)))
    dedup = Deduplicator()
    return MonthInputs.from_events([r for r in records if not dedup.is_duplicate(r)], load_catalogue())


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A simulated DigiD and MijnOverheid April (every event type, the simulator's own re-deliveries and
    invalid lines), shuffled, with 3 % of its lines sent again at random places: copies days apart."""
    out = tmp_path_factory.mktemp("sim") / "april.jsonl"
    subprocess.run([sys.executable, "-m", "sno.cli", "simulate", "--month", "2026-04", "--service", "digid",
                    "--service", "mijnoverheid", "--scale", "0.0002", "--no-burst", "-o", str(out)],
                   check=True, capture_output=True, env=sno_env())
    lines = out.read_bytes().splitlines()
    rng = random.Random(13)
    lines += rng.sample(lines, len(lines) * 3 // 100)
    rng.shuffle(lines)
    return lines


def worker(broker: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """`sno worker --drain` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sno.cli", "worker", "--broker", broker, "--drain", *args],
        capture_output=True, timeout=timeout, env=sno_env())


def produce_null_keyed(bootstrap: str, lines: list[bytes]) -> None:
    """Publish as a librdkafka producer of another language would: null keys, spread over partitions."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
                         "enable.idempotence": False})
    for line in lines:
        try:
            topic = TOPICS[orjson.loads(line)["type"]]
        except Exception:
            topic = TOPIC
        producer.produce(topic, value=line, key=None)
        producer.poll(0)
    assert producer.flush(60) == 0


def _check(store_path: Path, lines: list[bytes]) -> dict[str, Counter[Any]]:
    with Store(None, store_path) as st:
        if read_inputs(st) != reference_all(lines):
            valid = [r.record for r in map(validate, lines)
                     if isinstance(r, Accepted) and r.type not in SNAPSHOT_TYPES]
            expected = {(r["type"], r["event_id"]) for r in valid}
            rows = Counter((t, i) for t, i in st.query("SELECT event_type, event_id FROM sno_seen"))
            missing = expected - set(rows)
            twice = {k: n for k, n in rows.items() if n > 1}
            ledger = st.query("SELECT state, count() FROM sno_ledger GROUP BY state")
            raise AssertionError(f"{store_path.name}: rollups differ from the core's; ids missing "
                                 f"{len(missing)} {sorted(missing)[:5]}, counted twice {len(twice)} "
                                 f"{sorted(twice)[:5]}, ledger {ledger}")
        twice = st.query("SELECT event_type, event_id, groupArray((topic, partition, offset, event_time)) "
                         "FROM sno_seen GROUP BY event_type, event_id HAVING count() > 1")
        assert twice == []  # no id counted twice
        return _stored_content(st)


def _drained(broker: str, store: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    done = worker(broker, "--store", str(store), *args)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done


def test_a_shuffled_month_with_copies_days_apart_through_the_pipeline_counts_each_event_once(
    fresh_broker: Any, store_path: Path, simulated: list[bytes]
) -> None:
    produce_lines(fresh_broker.bootstrap, simulated)
    done = _drained(fresh_broker.bootstrap, store_path)
    assert b" 0 forwarded" in done.stderr  # keyed by event_id as sno ingest keys: nothing to forward
    _check(store_path, simulated)


def test_null_keyed_records_from_librdkafka_are_counted_once_on_their_owner_partition(
    fresh_broker: Any, tmp_path: Path, simulated: list[bytes]
) -> None:
    produce_null_keyed(fresh_broker.bootstrap, simulated)
    assert b" 0 forwarded" not in _drained(fresh_broker.bootstrap, tmp_path / "unkeyed").stderr
    unkeyed = _check(tmp_path / "unkeyed", simulated)
    # and a worker on a fresh store reading the same topics (forwarded copies included) agrees
    _drained(fresh_broker.bootstrap, tmp_path / "again")
    assert _check(tmp_path / "again", simulated) == unkeyed


class StoreServe:
    """`sno store serve` in a process of its own, on a free port."""

    def __init__(self, store: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sno.cli", "store", "serve", "--store", str(store), "--port", "0"],
            stderr=subprocess.PIPE, env=sno_env())
        line = self.process.stderr.readline().decode()  # type: ignore[union-attr]
        assert " at http://" in line, line
        self.url = line.split(" at ", 1)[1].split()[0]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def test_one_worker_through_the_clickhouse_http_interface_writes_what_the_embedded_store_holds(
    fresh_broker: Any, tmp_path: Path, simulated: list[bytes]
) -> None:
    produce_lines(fresh_broker.bootstrap, simulated)
    _drained(fresh_broker.bootstrap, tmp_path / "embedded")
    served = StoreServe(tmp_path / "served")
    try:
        _drained(fresh_broker.bootstrap, tmp_path / "faust", "--clickhouse", served.url)
    finally:
        served.stop()
    assert _check(tmp_path / "served", simulated) == _check(tmp_path / "embedded", simulated)


def _chaos(broker: str, url: str, faust_dir: Path, lines: list[bytes], kills: int,
           seed: int) -> dict[str, int]:
    """Three workers in one group on one served store; while the lines arrive in chunks, a seeded
    supervisor SIGKILLs workers at random moments and restarts them, and SIGSTOPs one past its session
    timeout, resuming it after its partitions moved. Returns what happened."""
    rng = random.Random(seed)
    chunks = [lines[i::6] for i in range(6)]

    starts = Counter[int]()

    def start(i: int) -> subprocess.Popen[bytes]:
        starts[i] += 1  # each start's log kept beside its store, for the post-mortem of a failure
        with open(faust_dir / f"w{i}.{starts[i]}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "sno.cli", "worker", "--broker", broker, "--clickhouse", url,
                 "--store", str(faust_dir / f"w{i}"), "--batch-size", "300"],
                stdout=subprocess.DEVNULL, stderr=log, env=sno_env())

    workers = [start(i) for i in range(3)]
    seen = {"killed": 0, "stopped": 0, "exited_fenced_or_failed": 0}
    try:
        for n, chunk in enumerate(chunks):
            produce_lines(broker, chunk)
            time.sleep(rng.uniform(1.0, 4.0))
            if n == 2:  # a stall past the session timeout (2 s): the others take its partitions
                victim = workers[rng.randrange(3)]
                victim.send_signal(signal.SIGSTOP)
                time.sleep(7)
                victim.send_signal(signal.SIGCONT)
                seen["stopped"] += 1
            for _ in range(kills if n < len(chunks) - 1 else 0):
                i = rng.randrange(3)
                time.sleep(rng.uniform(0.2, 2.5))
                workers[i].send_signal(signal.SIGKILL)
                workers[i].wait()
                seen["killed"] += 1
                workers[i] = start(i)
            for i, w in enumerate(workers):  # the supervisor restarts whatever exited by itself
                if w.poll() is not None:
                    seen["exited_fenced_or_failed"] += 1
                    workers[i] = start(i)
        time.sleep(3)
    finally:
        for w in workers:
            w.send_signal(signal.SIGCONT)
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
    return seen


@pytest.mark.parametrize(("kills", "seed"), [
    pytest.param(1, 1, id="one-kill-per-chunk"),
    *(pytest.param(3, seed, id=f"three-kills-per-chunk-seed-{seed}", marks=pytest.mark.slow)
      for seed in (3, 4, 5, 6)),
])
def test_three_workers_killed_stalled_and_rebalanced_on_one_served_store_equal_a_single_worker(
    fresh_broker: Any, tmp_path: Path, simulated: list[bytes], kills: int, seed: int
) -> None:
    served = StoreServe(tmp_path / "shared")
    try:
        seen = _chaos(fresh_broker.bootstrap, served.url, tmp_path, simulated, kills, seed=seed)
        # What the crashed and fenced workers left is finished by one draining worker in a group of its
        # own: `--drain` exits when the partitions it is assigned are drained, so it must be assigned them
        # all, and the broker's old group may still list stopped members (after many SIGKILLs the bundled
        # broker was once seen never to settle that group). Every assignment resumes from the ledger, so
        # the group changes nothing counted.
        done = worker(fresh_broker.bootstrap, "--clickhouse", served.url, "--store", str(tmp_path / "last"),
                      "--group", "sno-final-drain")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    finally:
        served.stop()
    assert seen["killed"] >= 5 * kills and seen["stopped"] == 1
    single = worker(fresh_broker.bootstrap, "--store", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr.decode()[-2000:]
    assert _check(tmp_path / "shared", simulated) == _check(tmp_path / "single", simulated)
    print("chaos:", seen, os.getpid())


def test_a_worker_whose_partition_was_claimed_by_a_newer_generation_abandons_its_write(
    shared_store: Store, sigterm_caught: list[int],  # noqa: F811 (the fixture imported below)
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fencing: the stalled worker's write leaves only its `pending` row; the new owner's count stands,
    and recovery takes the newest generation's write, not the abandoned one (streams/README.md). Its
    log lines name the partition that was claimed."""
    _clear(shared_store)
    lines = month_lines(20, 3)
    records = [(TOPIC, 0, i, line) for i, line in enumerate(lines)]

    async def scenario() -> tuple[BaseException | None, ClickHouseSink]:
        old = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        old.generation = 1
        await old.on_assigned({(TOPIC, 0)})
        new = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        new.generation = 2
        await new.on_assigned({(TOPIC, 0)})  # the group moved the partition while `old` was stalled
        await old.flush(records[:10])
        with pytest.raises(Fenced):
            await old.idle()
        await new.flush(records[:15])
        await new.idle()
        third = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        third.generation = 3
        await third.on_assigned({(TOPIC, 0)})
        return old.fatal, third

    fatal, third = asyncio.run(scenario())
    assert isinstance(fatal, Fenced) and sigterm_caught  # the fenced worker stops itself
    fenced = [r for r in caplog.records if r.name == "streams.sink" and "Fenced" in r.getMessage()]
    assert [(r.levelno, r.topic, r.partition) for r in fenced] == [  # type: ignore[attr-defined]
        (logging.ERROR, TOPIC, 0), (logging.CRITICAL, TOPIC, 0)]
    line = json.loads(JsonFormatter().format(fenced[0]))
    assert (line["topic"], line["partition"]) == (TOPIC, 0)
    assert shared_store.query("SELECT count() FROM sno_seen")[0][0] == 15
    states = shared_store.query("SELECT state, to_offset FROM sno_ledger ORDER BY claim, state")
    assert states == [("pending", 9), ("pending", 14), ("done", 14)]
    assert third.positions[(TOPIC, 0)] == 14
    assert read_inputs(shared_store) == reference_inputs(lines[:15])[0]


def test_records_delivered_beyond_a_gap_are_refused_and_read_again_so_none_is_lost(
    shared_store: Store, caplog: pytest.LogCaptureFixture,
) -> None:
    """The consumer may deliver records fetched from the committed offset (ahead of the ledger: acks
    follow hand-over, not writes) before the assignment's seek back to the ledger takes effect. Taken,
    they would make the records in between look re-delivered when they come: lost. The sink refuses
    them and seeks back; a gap the broker returns again after that seek is real and passed. Each
    refusal is logged with the topic, partition and offset of the record refused."""
    _clear(shared_store)
    lines = month_lines(30, 5)
    records = [(TOPIC, 0, i, line) for i, line in enumerate(lines)]
    seeks: list[tuple[tuple[str, int], int]] = []

    async def scenario() -> None:
        sink = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")

        async def reseek(tp: tuple[str, int], offset: int) -> None:
            seeks.append((tp, offset))

        sink.reseek = reseek
        await sink.on_assigned({(TOPIC, 0)})
        await sink.flush(records[5:10])  # fetched ahead, delivered first
        assert seeks == [((TOPIC, 0), 0)]
        await sink.flush(records[0:10])  # what the seek back delivers
        await sink.flush(records[20:25])  # 10..19 gone from the broker (retention): refused once …
        await sink.flush(records[20:30])  # … passed when the seek back returns the same gap
        await sink.idle()
        assert seeks == [((TOPIC, 0), 0), ((TOPIC, 0), 10)]
        await sink.close()

    asyncio.run(scenario())
    refused = [r for r in caplog.records if r.name == "streams.sink" and "seeking back" in r.getMessage()]
    assert [(r.levelno, r.topic, r.partition, r.offset) for r in refused] == [  # type: ignore[attr-defined]
        (logging.WARNING, TOPIC, 0, 5), (logging.WARNING, TOPIC, 0, 20)]
    kept = lines[:10] + lines[20:]
    assert shared_store.query("SELECT count() FROM sno_seen")[0][0] == 20
    assert read_inputs(shared_store) == reference_inputs(kept)[0]


def test_a_write_fenced_before_its_inserts_is_never_finished_by_a_later_owner(
    shared_store: Store, sigterm_caught: list[int]  # noqa: F811 (the fixture imported below)
) -> None:
    """A write spanning two partitions is fenced because one of them moved: only its `pending` rows
    exist. The partition's new owner counted those offsets itself; the owner of the other partition must
    not finish the abandoned write (it would count them again) but count its own partition afresh."""
    _clear(shared_store)
    lines = month_lines(20, 6)
    p0 = [(TOPIC, 0, i, line) for i, line in enumerate(lines[:10])]
    p1 = [(TOPIC, 1, i, line) for i, line in enumerate(lines[10:])]

    async def scenario() -> ClickHouseSink:
        stalled = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        await stalled.on_assigned({(TOPIC, 0), (TOPIC, 1)})
        taker = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        await taker.on_assigned({(TOPIC, 1)})  # partition 1 moved while `stalled` did not run
        await stalled.flush(p0 + p1)
        with pytest.raises(Fenced):
            await stalled.idle()
        await taker.flush(p1)
        await taker.idle()
        third = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        await third.on_assigned({(TOPIC, 0)})  # a redo would have to read the broker: there is none
        await third.flush(p0)
        await third.idle()
        return third

    third = asyncio.run(scenario())
    assert third.stats.redone == 0
    assert shared_store.query("SELECT count() FROM sno_seen")[0][0] == 20
    assert read_inputs(shared_store) == reference_inputs(lines)[0]


def test_a_worker_that_missed_a_generation_recovers_its_partition_instead_of_trusting_its_memory(
    shared_store: Store,
) -> None:
    """A worker assigned the same partition again, after another worker held it in a generation it
    missed (stalled, or cut off), must read the ledger again: its positions and memory are behind.
    (Within minutes of event time, so that memory alone decides, as it does for a live stream.)"""
    _clear(shared_store)
    lines = month_lines(20, 7, span=timedelta(minutes=10))
    records = [(TOPIC, 0, i, line) for i, line in enumerate(lines)]

    async def scenario() -> ClickHouseSink:
        first = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        await first.on_assigned({(TOPIC, 0)})
        await first.flush(records[:10])
        await first.idle()
        other = ClickHouseSink(shared_store, EventProcessor(), bootstrap="unused:9092", epoch="e1")
        await other.on_assigned({(TOPIC, 0)})
        await other.flush(records[10:])
        await other.idle()
        await first.on_assigned({(TOPIC, 0)})  # "kept", as far as `first` can tell
        for part in (records[10:16], records[16:]):  # what its consumer delivers from its old position,
            await first.flush(part)  # in other writes than the other worker's (not one of them again)
            await first.idle()
        return first

    first = asyncio.run(scenario())
    assert first.positions[(TOPIC, 0)] == 19
    assert shared_store.query("SELECT count() FROM sno_seen")[0][0] == 20
    assert read_inputs(shared_store) == reference_inputs(lines)[0]
