"""The hostile corpus through the real pipeline (docs/events.md, "Invalid input"): `sno ingest` + the worker,
`sno replay`, and straight onto the topics with two Kafka clients (aiokafka, and librdkafka through
confluent-kafka, as producers in other teams publish). Each run checks that

- every line is dead-lettered with a reason, or counted as the contract says (the valid edge cases);
- the worker stays alive and keeps working (it drains, or it processes an event sent after the attack);
- no KPI moved: the store holds exactly what the core computes from the valid lines (tests/test_pipeline);
- no BSN of the corpus is anywhere the pipeline writes: the dead letters (topic and table) decoded, every
  table, the store's files, the output topics and every log (tests/hostile/scan.py).

The input topics of the direct run hold what the hostile producers wrote themselves (BSNs included, by
construction), so that scan covers the topics the pipeline writes (`sno.deadletter`, `sno.alerts`).
The quick corpus runs in `make test`; the full one (a 20 MiB line, thousands of random lines) is `slow`.
Cases that find a problem outside the input side (`Case.known_issue`) are left out here and reproduced
on their own in test_validation.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas.deadletter import parse_deadletter
from schemas.events import ALERTS_TOPIC, DEADLETTER_TOPIC, TOPICS
from sno.runtime.broker import LocalBroker
from sno.runtime.store import open_store
from tests.conftest import sno_env
from tests.hostile.corpus import (
    ANY,
    OK,
    Case,
    baseline,
    full,
    needles,
    pipeline,
    quick,
    topic_for,
    write_jsonl,
    wrong_topic_cases,
)
from tests.hostile.scan import Hits, deadletter_blobs, file_blobs, scan, table_blobs
from tests.kafka_util import read_topic
from tests.test_pipeline import reference, stored

BIG: int = 64 * 1024 * 1024


def _sno(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sno.cli", *args], cwd=cwd, capture_output=True,
                          timeout=timeout, env=sno_env())


def _drain(bootstrap: str, store: Path, cwd: Path, log: Path) -> dict[str, Any]:
    status = cwd / "status.json"
    done = _sno("worker", "--drain", "--broker", bootstrap, "--store", str(store), "--status-file",
                str(status), cwd=cwd)
    log.write_bytes(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(status.read_text())


def _expected(cases: list[Case]) -> tuple[Counter[str], int]:
    """Rejections by reason (random bytes: '*'), and how many lines are valid."""
    reasons = Counter(c.expect for c in cases if c.expect != OK)
    return reasons, sum(1 for c in cases if c.expect == OK)


def _assert_reasons(got: Counter[str], cases: list[Case]) -> None:
    expected, _ = _expected(cases)
    anything = expected.pop(ANY, 0)
    surplus = Counter(got)
    for reason, count in expected.items():
        assert surplus[reason] >= count, (reason, got[reason], count)
        surplus[reason] -= count
    assert sum(surplus.values()) == anything, (surplus, anything)


def _kpis_unmoved(store: Path, cases: list[Case], extra: list[bytes] = ()) -> None:  # type: ignore[assignment]
    valid = [*baseline(), *(c.line for c in cases if c.expect == OK), *extra]
    inputs, snapshots, _ = reference(valid)
    assert stored(store) == (inputs, snapshots), "the rollups differ from what the valid lines alone give"


def _scan_store(store: Path, forms: set[bytes], hits: Hits) -> None:
    with open_store(store=store, migrate=False) as st:
        scan(table_blobs(st, hits), forms, hits)
    scan(file_blobs(store), forms, hits)


def _scan_topic(bootstrap: str, topic: str, forms: set[bytes], hits: Hits,
                expected: int | None = None) -> int:
    try:
        records = read_topic(bootstrap, topic, expected=expected, idle_seconds=2.0)
    except ValueError:  # a topic nothing was ever written to has no partitions to assign
        records = []
    for index, (key, value) in enumerate(records):
        place = f"{topic}[{index}]"
        blobs = deadletter_blobs(place, value, hits) if topic == DEADLETTER_TOPIC else [(place, value)]
        scan([*blobs, (f"{place} key", key or b"")], forms, hits)
    return len(records)


def _report(label: str, cases: list[Case], hits: Hits) -> None:
    kinds = Counter(c.kind for c in cases)
    print(f"\n{label}: {len(cases)} hostile lines by class {dict(sorted(kinds.items()))}; scanned "
          f"{hits.blobs} blobs ({hits.bytes / 1e6:.1f} MB), {hits.deadletters_decoded} dead-letter "
          f"originals decoded; BSN hits: {len(hits.found)}")


# --- through sno ingest and the worker ------------------------------------------------------------


def _through_ingest(cases: list[Case], tmp_path: Path) -> None:
    forms = needles(cases)
    corpus = write_jsonl(tmp_path / "hostile.jsonl", [*baseline(), *(c.line for c in cases)])
    store = tmp_path / "store"
    hits = Hits()
    with LocalBroker() as broker:
        ingest = _sno("ingest", str(corpus), "--broker", broker.bootstrap, cwd=tmp_path)
        (tmp_path / "ingest.log").write_bytes(ingest.stdout + ingest.stderr)
        assert ingest.returncode == 0, ingest.stderr.decode()[-2000:]
        table = dict(re.findall(r"^  ([a-z_]+)\s+([\d,]+)$", ingest.stdout.decode(), re.M))
        reasons = Counter({r: int(n.replace(",", "")) for r, n in table.items() if r not in TOPICS})
        _assert_reasons(reasons, cases)
        status = _drain(broker.bootstrap, store, tmp_path, tmp_path / "worker.log")
        _, valid = _expected(cases)
        assert status["processed"] + status["duplicates"] == len(baseline()) + valid
        assert status["rejected"] == 0  # ingest let only valid lines onto the input topics
        letters = _scan_topic(broker.bootstrap, DEADLETTER_TOPIC, forms, hits, sum(reasons.values()))
        assert letters == sum(reasons.values())
        for topic in (*TOPICS.values(), ALERTS_TOPIC):
            _scan_topic(broker.bootstrap, topic, forms, hits)
        for _, value in read_topic(broker.bootstrap, DEADLETTER_TOPIC, expected=letters):
            assert parse_deadletter(value)["reason"]
    _kpis_unmoved(store, cases)
    _scan_store(store, forms, hits)
    scan([(p, b) for p, b in file_blobs(tmp_path) if p.endswith(".log")], forms, hits)
    _report("sno ingest + worker", cases, hits)
    assert hits.found == []


def test_the_hostile_corpus_through_sno_ingest_is_dead_lettered_leaves_no_bsn_and_moves_no_kpi(
    tmp_path: Path,
) -> None:
    _through_ingest(pipeline(quick()), tmp_path)


@pytest.mark.slow
def test_the_full_hostile_corpus_through_sno_ingest(tmp_path: Path) -> None:
    _through_ingest(pipeline(full()), tmp_path)


# --- through sno replay ---------------------------------------------------------------------------


def _through_replay(cases: list[Case], tmp_path: Path) -> None:
    forms = needles(cases)
    corpus = write_jsonl(tmp_path / "hostile.jsonl", [*baseline(), *(c.line for c in cases)])
    store = tmp_path / "store"
    done = _sno("replay", str(corpus), "--store", str(store), "--json", cwd=tmp_path)
    (tmp_path / "replay.log").write_bytes(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    _assert_reasons(Counter(summary["rejected_by_reason"]), cases)
    _, valid = _expected(cases)
    assert summary["processed"] + summary["duplicates"] == len(baseline()) + valid
    with open_store(store=store, migrate=False) as st:
        rows = st.query("SELECT topic, offset, reason FROM sno_deadletter FINAL")
        daily = st.query("SELECT sum(records) FROM sno_deadletter_daily")
    assert len(rows) == summary["rejected"] == daily[0][0]
    assert {topic for topic, _, _ in rows} == {f"file:{corpus}"}
    _assert_reasons(Counter(reason for _, _, reason in rows), cases)
    _kpis_unmoved(store, cases)
    hits = Hits()
    _scan_store(store, forms, hits)
    scan([(p, b) for p, b in file_blobs(tmp_path) if p.endswith(".log")], forms, hits)
    _report("sno replay", cases, hits)
    assert hits.found == []


def test_the_hostile_corpus_through_sno_replay_is_dead_lettered_in_the_store_and_leaves_no_bsn(
    tmp_path: Path,
) -> None:
    _through_replay(pipeline(quick()), tmp_path)


@pytest.mark.slow
def test_the_full_hostile_corpus_through_sno_replay(tmp_path: Path) -> None:
    _through_replay(pipeline(full()), tmp_path)


# --- straight onto the topics ---------------------------------------------------------------------


async def _produce_aiokafka(bootstrap: str, cases: list[Case], rng: random.Random) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=BIG, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for case in cases:
            key = rng.choice([None, b"", rng.randbytes(9), case.line[:40]])
            sent.append(await producer.send(topic_for(case), case.line, key=key))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _produce_confluent(bootstrap: str, cases: list[Case]) -> None:
    import confluent_kafka

    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "message.max.bytes": BIG,
                                         "linger.ms": 5, "log_level": 3})
    failed: list[Any] = []
    for case in cases:
        producer.produce(topic_for(case), case.line, on_delivery=lambda err, _: err and failed.append(err))
        producer.poll(0)
    assert producer.flush(60) == 0 and not failed, failed


def _wait_for(status: Path, worker: subprocess.Popen[bytes], done: Any,
              timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker stopped"
        try:
            last = json.loads(status.read_text())
        except (OSError, ValueError):
            last = {}
        if last and done(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"the worker did not get there in {timeout} s: {last}")


def _onto_the_topics(cases: list[Case], tmp_path: Path) -> None:
    cases = [*cases, *wrong_topic_cases()]
    forms = needles(cases)
    store = tmp_path / "store"
    status = tmp_path / "status.json"
    log = tmp_path / "worker.log"
    rng = random.Random(5)
    half = [c for i, c in enumerate(cases) if i % 2 == 0], [c for i, c in enumerate(cases) if i % 2]
    sentinel = json.dumps({**json.loads(baseline()[0]), "event_id": "sentinel-after-the-attack"}).encode()
    hits = Hits()
    with LocalBroker() as broker, log.open("wb") as log_out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "sno.cli", "worker", "--broker", broker.bootstrap, "--store", str(store),
             "--status-file", str(status)], cwd=tmp_path, stdout=log_out, stderr=log_out, env=sno_env())
        try:
            _produce_confluent(broker.bootstrap, [Case("baseline", "b", line, OK) for line in baseline()])
            _wait_for(status, worker, lambda s: s["processed"] >= len(baseline()))
            asyncio.run(_produce_aiokafka(broker.bootstrap, half[0], rng))
            _produce_confluent(broker.bootstrap, half[1])
            reasons, valid = _expected(cases)
            rejected = sum(reasons.values())
            _wait_for(status, worker, lambda s: s["rejected"] >= rejected
                      and s["processed"] + s["duplicates"] >= len(baseline()) + valid)
            _produce_confluent(broker.bootstrap, [Case("sentinel", "s", sentinel, OK)])
            last = _wait_for(status, worker,
                             lambda s: s["processed"] + s["duplicates"] > len(baseline()) + valid)
            assert last["rejected"] == rejected
            assert worker.poll() is None, "the worker is alive after the attack"
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        letters = _scan_topic(broker.bootstrap, DEADLETTER_TOPIC, forms, hits, rejected)
        assert letters >= rejected
        _scan_topic(broker.bootstrap, ALERTS_TOPIC, forms, hits)
    with open_store(store=store, migrate=False) as st:
        rows = st.query("SELECT topic, reason FROM sno_deadletter FINAL")
    assert len(rows) == rejected
    _assert_reasons(Counter(reason for _, reason in rows), cases)
    _kpis_unmoved(store, cases, [sentinel])
    _scan_store(store, forms, hits)
    scan([("worker.log", log.read_bytes())], forms, hits)
    _report("straight onto the topics (aiokafka, confluent-kafka)", cases, hits)
    assert hits.found == []


def test_the_hostile_corpus_straight_onto_the_topics_leaves_the_worker_working_and_no_bsn(
    tmp_path: Path,
) -> None:
    _onto_the_topics(pipeline(quick()), tmp_path)


@pytest.mark.slow
def test_the_full_hostile_corpus_straight_onto_the_topics(tmp_path: Path) -> None:
    _onto_the_topics(pipeline(full()), tmp_path)
