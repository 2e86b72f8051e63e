"""Alert latency for `sno bench`: event published → alert on `sno.alerts`, under load.

A live worker runs on the benchmark's store; authentications stream in at the given rate (event time =
now), and every half second a maintenance snapshot arrives that announces a planned window outside
00:00–06:00 (R9), which the engine must flag at once (`maintenance_invalid`). The latency of each is
the time from its publication to the arrival of its alert on `sno.alerts`.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

TRIGGERS = 60
TRIGGER_EVERY = 0.5


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _maintenance(k: int, now: datetime) -> tuple[str, bytes]:
    starts = (now + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    mid = f"BENCH-{int(now.timestamp())}-{k}"
    return mid, orjson.dumps({
        "type": "maintenance", "event_id": f"{mid}-v1", "service": "digid", "maintenance_id": mid,
        "updated_at": _ts(now), "kind": "planned", "status": "scheduled", "announced_at": _ts(now),
        "starts_at": _ts(starts), "ends_at": _ts(starts + timedelta(hours=2)),
    })


async def _measure(bootstrap: str, rate: float) -> list[float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    consumer = AIOKafkaConsumer("sno.alerts", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="latest", fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def listen() -> None:
        async for message in consumer:
            alert = orjson.loads(message.value)
            published = sent.get(alert.get("subject", ""))
            if published is not None and alert.get("state") == "firing":
                latencies.append((time.time() - published) * 1000)

    listener = asyncio.ensure_future(listen())
    try:
        await asyncio.sleep(1.0)  # the consumer's position is set before the first trigger
        started = time.monotonic()
        n = 0
        next_trigger = started
        k = 0
        while k < TRIGGERS:
            now_m = time.monotonic()
            due = int((now_m - started) * rate)
            now = datetime.now(UTC)
            while n < due:
                event = orjson.dumps({
                    "type": "authentication", "event_id": f"lat-{started}-{n}", "service": "digid",
                    "started_at": _ts(now - timedelta(seconds=1)), "completed_at": _ts(now),
                    "outcome": "success",
                })
                await producer.send("sno.authentications", event, key=f"lat-{n}".encode())
                n += 1
            if now_m >= next_trigger:
                mid, value = _maintenance(k, now)
                sent[mid] = time.time()
                await producer.send_and_wait("sno.maintenance", value, key=mid.encode())
                next_trigger += TRIGGER_EVERY
                k += 1
            await asyncio.sleep(0.005)
        deadline = time.monotonic() + 10
        while len(latencies) < len(sent) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        listener.cancel()
        await producer.stop()
        await consumer.stop()
    return latencies


def alert_latency(bootstrap: str, folder: Path, rate: float) -> dict[str, float | None]:
    store = folder / "store"
    worker = subprocess.Popen(
        [sys.executable, "-m", "sno.cli", "worker", "--broker", bootstrap, "--store", str(store),
         "--status-file", str(folder / "live.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # the worker is ready once it has written its status
            if (folder / "live.json").exists():
                break
            time.sleep(0.05)
        time.sleep(1.0)
        latencies = asyncio.run(_measure(bootstrap, rate))
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    if not latencies:
        return {"alert_latency_p50_ms": None, "alert_latency_p99_ms": None}
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {"alert_latency_p50_ms": round(statistics.median(latencies), 1),
            "alert_latency_p99_ms": round(p99, 1), "alert_count": len(latencies)}
