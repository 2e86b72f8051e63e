"""Alerts through the real pipeline: judged by event time, published once, kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from sno.core.topics import ALERTS_TOPIC
from sno.runtime.store import open_store
from tests.kafka_util import produce_lines, read_topic
from tests.test_pipeline import run_worker

MINUTE = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # 12:00 local


def _auth(i: int, started: datetime) -> bytes:
    return orjson.dumps(
        {
            "type": "authentication",
            "event_id": f"cap-{i}",
            "service": "digid",
            "afnemer_id": "00000001000000000001",
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "completed_at": (started + timedelta(milliseconds=800)).isoformat().replace("+00:00", "Z"),
            "outcome": "success",
        }
    )


def test_a_minute_over_the_digid_capacity_fires_one_alert_that_a_restart_does_not_repeat(
    fresh_broker, store_path: Path
) -> None:
    # R15: 10,001 authentications started in one calendar minute is one over the limit; the next minutes
    # are quiet. The limit comes from the norm file, the count from the events. The minute resolves once
    # the authentications of both partitions have moved past it by the allowed lateness (5 minutes,
    # alerts.toml; a partition counts as far as the oldest of its last 8 arrivals).
    lines = [_auth(i, MINUTE + timedelta(microseconds=i * 5000)) for i in range(10_001)]
    # (enough of them that each of however many partitions the broker gave the topic gets 8 or more)
    lines += [_auth(20_000 + i, MINUTE + timedelta(minutes=1 + i // 5, seconds=i % 60)) for i in range(200)]
    produce_lines(fresh_broker.bootstrap, lines)
    assert run_worker(fresh_broker.bootstrap, store_path).returncode == 0

    published = [orjson.loads(v) for _, v in read_topic(fresh_broker.bootstrap, ALERTS_TOPIC)]
    capacity = [a for a in published if a["rule"] == "capacity_exceeded"]
    assert [a["state"] for a in capacity] == ["firing", "resolved"]
    firing = capacity[0]
    assert firing["service"] == "digid" and firing["environment"] == "production"
    assert firing["value"] == 10_001 and firing["norm"] == 10_000
    assert firing["subject"].startswith("2026-04-15T12:00")
    assert firing["replayed"] is True  # event time is months behind the wall clock

    with open_store(store=store_path) as st:
        rows = st.query("SELECT rule, state FROM sno_alerts WHERE rule = 'capacity_exceeded' ORDER BY state")
    assert rows == [("capacity_exceeded", "firing"), ("capacity_exceeded", "resolved")]

    # The same minute delivered again, a new worker on the same store: nothing new is published.
    produce_lines(fresh_broker.bootstrap, lines[:100])
    assert run_worker(fresh_broker.bootstrap, store_path).returncode == 0
    again = [orjson.loads(v) for _, v in read_topic(fresh_broker.bootstrap, ALERTS_TOPIC)]
    assert len([a for a in again if a["rule"] == "capacity_exceeded"]) == 2


def test_a_minute_over_capacity_at_the_end_of_a_drained_stream_is_closed_when_the_drain_ends(
    fresh_broker, store_path: Path
) -> None:
    # The burst minute is followed by one authentication only: it fires as soon as its count passes the
    # limit (R15), but no partition's mark passes the minute by the allowed lateness, so no batch closes
    # it, and it would stay firing. At the end of a drained stream nothing more is coming: the drain's
    # last advance waits for no source, and the minute is closed on what history holds.
    lines = [_auth(i, MINUTE + timedelta(microseconds=i * 5000)) for i in range(10_001)]
    lines.append(_auth(30_000, MINUTE + timedelta(minutes=1, seconds=30)))
    produce_lines(fresh_broker.bootstrap, lines)
    assert run_worker(fresh_broker.bootstrap, store_path).returncode == 0

    published = [orjson.loads(v) for _, v in read_topic(fresh_broker.bootstrap, "sno.alerts")]
    capacity = [a for a in published if a["rule"] == "capacity_exceeded"]
    assert [a["state"] for a in capacity] == ["firing", "resolved"]
    assert capacity[0]["value"] == 10_001
    with open_store(store=store_path) as st:
        rows = st.query("SELECT state FROM sno_alerts WHERE rule = 'capacity_exceeded' ORDER BY state")
    assert rows == [("firing",), ("resolved",)]
