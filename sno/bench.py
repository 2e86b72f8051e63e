"""`sno bench`: the pipeline measured against its own ceilings, in one run, on one broker.

Figures (docs/interfaces.md, "Benchmark"): the producer's rate; `sno ingest`'s rate (read, validate, publish,
on a broker of its own so the pipeline's input is not doubled); a bare aiokafka consumer reading and
JSON-decoding the same topics (the broker's ceiling); the pipeline's own Faust app, settings,
serializer and consumption path with a sink that only counts (the framework's ceiling), and a no-op
agent on Faust as it ships; the real pipeline, first event consumed to last rollup written, with the CPU
each of its processes spent per event; the worker's peak memory (its Faust process and its fold
process) and, apart from it, the embedded ClickHouse engine's (a process of its own, as a server
is); and the time of one month's report. Every run is appended to a JSON Lines history so runs can
be compared over time.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sno.runtime.broker import LocalBroker
from sno.runtime.topics import ensure_topics

BENCH_MONTH = "2026-04"
#: Lines per month that `sno simulate` writes at scale 0.001 (measured), to pick a scale for N events.
LINES_PER_MILLI_SCALE = 70_000
PARTITIONS = 2


def _events_file(folder: Path, n: int, seed: int) -> tuple[Path, list[tuple[str, bytes, bytes]]]:
    """N lines of a simulated month (SNO-like proportions), and their (topic, key, value) for the producer."""
    from schemas.validate import Accepted, validate
    from sno.simulate import simulate

    scale = max(0.0002, 0.001 * n / LINES_PER_MILLI_SCALE * 1.15)
    raw = folder / "simulated.jsonl"
    with raw.open("wb") as out:
        simulate(BENCH_MONTH, scale=scale, seed=seed, out=out)
    path = folder / "bench-events.jsonl"
    records: list[tuple[str, bytes, bytes]] = []
    with raw.open("rb") as src, path.open("wb") as dst:
        for line in src:
            if len(records) >= n:
                break
            value = line.rstrip(b"\n")
            result = validate(value)
            if isinstance(result, Accepted):
                records.append((result.topic, result.key, value))
                dst.write(line)
    raw.unlink()
    return path, records


async def _produce(bootstrap: str, records: list[tuple[str, bytes | None, bytes]]) -> float:
    from sno.ingest import BatchPublisher, connect

    producer = await connect(bootstrap)
    try:
        publisher = BatchPublisher(producer)
        await publisher.prepare({t for t, _, _ in records})
        started = time.perf_counter()
        for i, (topic, key, value) in enumerate(records):
            publisher.add(topic, key, value)
            if i % 2000 == 0:
                await publisher.submit_ready()
        await publisher.drain()
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _raw_consume(bootstrap: str, topics: set[str], n: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count, first = 0, None
        while count < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if not batch and first is not None and time.perf_counter() - first > 120:
                break
            for messages in batch.values():
                if first is None:
                    first = time.perf_counter()
                for m in messages:
                    orjson.loads(m.value)
                count += len(messages)
        return count / (time.perf_counter() - (first or time.perf_counter()))
    finally:
        await consumer.stop()


def _noop_ceiling(bootstrap: str, n: int, folder: Path, faust_defaults: bool = False) -> float:
    out = folder / "noop.json"
    out.unlink(missing_ok=True)  # a failed round must not read the previous round's figure
    proc = subprocess.run([sys.executable, "-m", "streams.noop", "--broker", bootstrap, "--events", str(n),
                           "--out", str(out), *(["--faust-defaults"] if faust_defaults else [])],
                          timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not out.exists():
        raise RuntimeError(f"the no-op Faust ceiling run failed: {proc.stderr.decode()[-500:]}")
    data = json.loads(out.read_text())
    return data["count"] / max(1e-9, data["last"] - data["first"])


def _pipeline(bootstrap: str, store: Path, folder: Path) -> dict[str, Any]:
    status = folder / "pipeline.json"
    proc = subprocess.run(
        [sys.executable, "-m", "sno.cli", "worker", "--drain", "--broker", bootstrap, "--store", str(store),
         "--partitions", str(PARTITIONS), "--status-file", str(status)],
        timeout=1800, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the pipeline worker failed: {proc.stderr.decode()[-500:]}")
    return dict(json.loads(status.read_text()))


def _report_seconds(store: Path) -> float:
    """Wall time of `sno report` for one service-month, as a user runs it (process start included)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sno.cli", "report", "--service", "digid", "--month", BENCH_MONTH,
                    "--store", str(store), "--format", "html", "-o", str(store.parent / "report.html")],
                   check=True, timeout=300, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _spread(result: dict[str, Any], key: str, values: list[float | None], digits: int = 0) -> None:
    """The median of a repeated measure under its key, with `<key>_min` and `<key>_max` beside it."""
    got = sorted(v for v in values if v is not None)
    if not got:
        result[key] = result[f"{key}_min"] = result[f"{key}_max"] = None
        return

    def fmt(v: float) -> float | int:
        return round(v, digits) if digits else round(v)

    result[key], result[f"{key}_min"], result[f"{key}_max"] = (fmt(statistics.median(got)), fmt(got[0]),
                                                               fmt(got[-1]))


def _cpu_per_event(statuses: list[dict[str, Any]], records: int) -> dict[str, float] | None:
    """CPU µs per event of each process of the keyed pipeline (worker, fold, engine, broker), the
    median over the rounds: where the time goes. The worker's includes its start-up (~2 s)."""
    per: dict[str, list[float]] = {}
    for status in statuses:
        stages = {**(status.get("cpu_seconds_by_process") or {}), "broker": status.get("broker_cpu_seconds")}
        for stage, seconds in stages.items():
            if seconds is not None:
                per.setdefault(stage, []).append(seconds * 1e6 / records)
    return {stage: round(statistics.median(v), 1) for stage, v in per.items()} or None


def _fold_utilisation(status: dict[str, Any]) -> float | None:
    """The share of the keyed pipeline's span (first record read to last rollup written) in which its
    fold process was on a core. The fold does each event's work once, in order, in one process, so it
    bounds the pipeline: 1.0 means the pipeline ran as fast as its fold can, and what is missing below
    it was the fold waiting (for a hand-over, a write, a fetch). The fold's CPU is taken over the same
    span: from the first record read (its start-up left out) to the last write (the drained tick after
    it left out)."""
    span = (status.get("last_write_at") or 0) - (status.get("first_record_at") or 0)
    first, last = status.get("fold_cpu_seconds_at_first_record"), status.get("fold_cpu_seconds_at_last_write")
    if first is None or last is None or span <= 0:
        return None
    return (last - first) / span


def _rate(status: dict[str, Any], records: int) -> float | None:
    span = (status.get("last_write_at") or 0) - (status.get("first_record_at") or 0)
    return records / span if span > 0 else None


def run_bench(n: int, *, seed: int = 1, repeat: int = 3, say: Callable[[str], None] = lambda _: None,
              alert_latency: Callable[..., dict[str, float | None]] | None = None) -> dict[str, Any]:
    """Every rate and the ratio as the median of `repeat` rounds, each round the framework's ceiling,
    the keyed pipeline and the null-keyed pipeline one after the other (interleaved: the machine is
    shared and noisy, so a slow minute hits ceiling and pipeline alike; the ratio is taken per round)."""
    from sno.ingest import publish_files

    result: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "events": None,
                              "repeat": repeat}
    with tempfile.TemporaryDirectory(prefix="sno-bench-") as tmp:
        folder = Path(tmp)
        say(f"generating {n:,} events in SNO-like proportions")
        path, records = _events_file(folder, n, seed)
        result["events"] = len(records)
        topics = {t for t, _, _ in records}

        say("ingest_eps: sno ingest (read, validate, publish) on a broker of its own")
        with LocalBroker() as other:
            asyncio.run(ensure_topics(other.bootstrap, topics, PARTITIONS))
            summary = asyncio.run(publish_files([str(path)], other.bootstrap, progress=False))
            result["ingest_eps"] = round(summary.sent_total / summary.seconds)

        rounds: dict[str, list[float | None]] = {k: [] for k in (
            "raw_consume_eps", "faust_defaults_ceiling_eps", "faust_ceiling_eps", "pipeline_eps",
            "pipeline_unkeyed_eps", "ratio", "fold_utilisation")}
        statuses: list[dict[str, Any]] = []
        forwarded: list[int] = []
        unkeyed_read: list[int] = []
        with LocalBroker() as broker:
            asyncio.run(ensure_topics(broker.bootstrap, topics, PARTITIONS))
            say("producer_eps")
            result["producer_eps"] = round(asyncio.run(_produce(broker.bootstrap, records)))
            for k in range(repeat):
                say(f"round {k + 1}/{repeat}: raw_consume_eps (bare aiokafka consumer + JSON decode)")
                rounds["raw_consume_eps"].append(asyncio.run(_raw_consume(broker.bootstrap, topics,
                                                                          len(records))))
                say(f"round {k + 1}/{repeat}: faust_defaults_ceiling_eps (no-op agent, Faust as it ships)")
                rounds["faust_defaults_ceiling_eps"].append(
                    _noop_ceiling(broker.bootstrap, len(records), folder, faust_defaults=True))
                say(f"round {k + 1}/{repeat}: faust_ceiling_eps "
                    "(the pipeline's own Faust app and consumption path, a sink that only counts)")
                ceiling = _noop_ceiling(broker.bootstrap, len(records), folder)
                rounds["faust_ceiling_eps"].append(ceiling)
                say(f"round {k + 1}/{repeat}: pipeline_eps (the real pipeline into embedded ClickHouse)")
                broker_cpu = broker.cpu_seconds
                status = _pipeline(broker.bootstrap, folder / f"store-{k}", folder)
                status["broker_cpu_seconds"] = broker.cpu_seconds - broker_cpu
                statuses.append(status)
                keyed = _rate(status, status["records"])
                rounds["pipeline_eps"].append(keyed)
                rounds["ratio"].append(keyed / ceiling if keyed and ceiling else None)
                rounds["fold_utilisation"].append(_fold_utilisation(status))
                say(f"round {k + 1}/{repeat}: pipeline_unkeyed_eps (null-keyed, spread over partitions)")
                # A broker of its own each round: the worker forwards half the records to their owner
                # partition, onto the input topics, so a second round on the same broker would read
                # the first round's forwarded copies too (and count its rate against the input alone).
                with LocalBroker() as unkeyed:
                    asyncio.run(ensure_topics(unkeyed.bootstrap, topics, PARTITIONS))
                    asyncio.run(_produce(unkeyed.bootstrap, [(t, None, v) for t, _, v in records]))
                    status = _pipeline(unkeyed.bootstrap, folder / f"unkeyed-store-{k}", folder)
                # events of the input per second: forwarded copies are read twice, and that is the cost
                rounds["pipeline_unkeyed_eps"].append(_rate(status, len(records)))
                forwarded.append(int(status.get("forwarded") or 0))
                unkeyed_read.append(int(status.get("records") or 0) - int(status.get("skipped") or 0))
            for key, values in rounds.items():
                _spread(result, key, values, digits=3 if key in ("ratio", "fold_utilisation") else 0)
            result["unkeyed_forwarded"] = max(forwarded) if forwarded else None
            # every input record once, every forwarded copy once more (re-deliveries the sink skipped
            # left out): the cost of null keys
            result["unkeyed_records_read"] = max(unkeyed_read) if unkeyed_read else None
            result["worker_peak_rss_mb"] = max((s.get("peak_rss_mb") or 0 for s in statuses), default=None)
            result["worker_peak_rss_mb_by_process"] = statuses[-1].get("peak_rss_mb_by_process")
            result["store_peak_rss_mb"] = max((s.get("store_peak_rss_mb") or 0 for s in statuses),
                                              default=None)
            result["worker_first_event_seconds"] = statuses[-1].get("first_event_seconds")
            result["pipeline_cpu_us_per_event"] = _cpu_per_event(statuses, len(records))
            result["broker_rss_mb"] = round(broker.rss_mb or 0, 1)
            latency: dict[str, float | None] = {"alert_latency_p50_ms": None, "alert_latency_p99_ms": None}
            if alert_latency is not None and result["pipeline_eps"]:
                say("alert latency at half the pipeline rate")
                # on the last round's store: it has counted everything the broker holds
                latency = alert_latency(broker.bootstrap, folder, result["pipeline_eps"] / 2,
                                        store=folder / f"store-{repeat - 1}")
            result.update(latency)
        say("report_seconds: one month's report for one service")
        _spread(result, "report_seconds", [_report_seconds(folder / "store-0") for _ in range(repeat)], 3)
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    return result


def append_history(path: Path, result: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as history:
        history.write(json.dumps(result) + "\n")
