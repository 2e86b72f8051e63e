"""The alert engine's clock moves without batches: a unit waiting for a source to go quiet is decided once
the idle timeout (sno/core/alerts.toml) has passed on the wall clock, not when the next batch comes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from sno.core.alerts import AlertEngine
from sno.core.alerts.settings import load_alert_rules
from sno.core.catalogue import load_catalogue
from sno.runtime.store import Store
from streams.processor import EventProcessor
from streams.sink import ClickHouseSink

MINUTE = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
TOPIC = "sno.authentications"


def _auth(i: int, started: datetime) -> bytes:
    return orjson.dumps({
        "type": "authentication", "event_id": f"tick-{i}", "service": "digid",
        "afnemer_id": "00000001000000000001", "started_at": started.isoformat().replace("+00:00", "Z"),
        "completed_at": (started + timedelta(milliseconds=800)).isoformat().replace("+00:00", "Z"),
        "outcome": "success",
    })


def test_a_minute_over_capacity_is_closed_by_the_clock_once_its_partition_has_gone_quiet(
    tmp_path: Path,
) -> None:
    idle = timedelta(seconds=load_alert_rules().engine.idle_source_seconds)
    wall = [datetime.now(UTC)]  # the fold advances at the system clock; the ticks at the engine's
    lines = [_auth(i, MINUTE + timedelta(microseconds=i * 5000)) for i in range(10_001)]
    lines.append(_auth(20_000, MINUTE + timedelta(minutes=1, seconds=30)))
    records = [(TOPIC, 0, i, line) for i, line in enumerate(lines)]
    published: list[Any] = []
    store = Store(None, tmp_path / "store")
    store.migrate()

    async def scenario() -> list[int]:
        engine = AlertEngine(load_catalogue(), clock=lambda: wall[0])
        sink = ClickHouseSink(store, EventProcessor(alerts=engine), bootstrap="unused:9092", epoch="e1")

        async def publish(alerts: list[Any]) -> None:
            published.extend(alerts)

        sink.publish_alerts = publish
        await sink.on_assigned({(TOPIC, 0)})
        await sink.flush(records)
        await sink.idle()
        ticks = [await sink.tick()]  # the partition has just delivered: it holds the minute open
        wall[0] += idle + timedelta(seconds=1)
        ticks.append(await sink.tick())  # quiet for longer than the idle timeout: the minute closes
        ticks.append(await sink.tick())  # and nothing is decided twice
        await sink.close()
        return ticks

    try:
        ticks = asyncio.run(scenario())
        stored = store.query("SELECT state FROM sno_alerts WHERE rule = 'capacity_exceeded' ORDER BY state")
    finally:
        store.close()
    capacity = [(a.rule, a.state) for a in published if a.rule == "capacity_exceeded"]
    assert capacity == [("capacity_exceeded", "firing"), ("capacity_exceeded", "resolved")]
    assert ticks[0] == 0 and ticks[1] >= 1 and ticks[2] == 0
    assert stored == [("firing",), ("resolved",)]
