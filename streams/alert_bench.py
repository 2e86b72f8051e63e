"""Alert latency for `sno bench`: event published → alert on `sno.alerts`, under load.

A live worker runs on the benchmark's store; authentications stream in at the given rate (event time =
now), and every half second a maintenance snapshot arrives that announces a planned window outside
00:00–06:00 (R9), which the engine must flag at once (`maintenance_invalid`). The latency of each is
the time from its publication to the arrival of its alert on `sno.alerts`.

`python -m streams.alert_bench order FILE` reads a simulated month (`sno simulate`) in event order,
shuffled, with the authentications read first and last, and with a restart in the middle, and reports
how many alerts differ from event order, how many are left firing, and which breaches that history holds
(by the core's own facts over the final snapshots) raised no alert (issue 14).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from sno.core.calendar import TZ
from sno.core.topics import ALERTS_TOPIC, TOPICS

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
    consumer = AIOKafkaConsumer(ALERTS_TOPIC, bootstrap_servers=bootstrap, group_id=None,
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
                event_id = f"lat-{started}-{n}"
                event = orjson.dumps({
                    "type": "authentication", "event_id": event_id, "service": "digid",
                    "started_at": _ts(now - timedelta(seconds=1)), "completed_at": _ts(now),
                    "outcome": "success",
                })
                # keyed by event_id, as `sno ingest` sends (null-keyed input is pipeline_unkeyed_eps's)
                await producer.send(TOPICS["authentication"], event, key=event_id.encode())
                n += 1
            if now_m >= next_trigger:
                mid, value = _maintenance(k, now)
                sent[mid] = time.time()
                await producer.send_and_wait(TOPICS["maintenance"], value, key=mid.encode())
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


def alert_latency(bootstrap: str, folder: Path, rate: float,
                  store: Path | None = None) -> dict[str, float | None]:
    """The live worker runs on ``store`` (default ``folder/store``), which must already have counted
    what the topics hold: otherwise it first works through that backlog and the latency measures it."""
    store = store if store is not None else folder / "store"
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


# ---- the same month in any order (issue 14): `python -m streams.alert_bench order FILE` -------------------



def read_month(path: Path) -> list[dict[str, Any]]:
    """The valid events of a JSON Lines file, de-duplicated exactly (as the pipeline counts them)."""
    from schemas.validate import Rejected, validate
    from sno.core.snapshots import SNAPSHOT_TYPES

    out, seen = [], set()
    with path.open("rb") as fh:
        for line in fh:
            result = validate(line.rstrip(b"\n"))
            if isinstance(result, Rejected):
                continue
            record = result.record
            if record["type"] not in SNAPSHOT_TYPES:
                key = (record["type"], record["event_id"])
                if key in seen:
                    continue
                seen.add(key)
            out.append(record)
    return out


def orders(records: list[dict[str, Any]], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Event order; shuffled; the authentications read to their end first; and read last."""
    import random

    from sno.core.dedup import event_time
    from sno.core.intervals import instant_key

    ordered = sorted(records, key=lambda r: instant_key(event_time(r)))
    shuffled = list(ordered)
    random.Random(seed).shuffle(shuffled)
    auth = [r for r in ordered if r["type"] == "authentication"]
    rest = [r for r in ordered if r["type"] != "authentication"]
    return {"event order": ordered, "shuffled": shuffled, "authentications first": auth + rest,
            "authentications last": rest + auth}


def replay(records: list[dict[str, Any]], batch: int = 1000, partitions: int = 2,
           restart_at: int | None = None) -> list[Any]:
    """The engine over records as the stream feeds it (two partitions per topic, ``advance`` per batch,
    a wall clock weeks after the month), then quiet; with ``restart_at``, a new engine restored from the
    alerts, snapshots and counts of what the first read, as the worker restores from its tables."""
    import zlib

    from sno.core.alerts import ALERT_COLUMNS, AlertEngine
    from sno.core.buckets import contributions
    from sno.core.catalogue import load_catalogue

    catalogue = load_catalogue()
    wall = [datetime(2026, 12, 1, tzinfo=UTC)]
    engine = AlertEngine(catalogue, clock=lambda: wall[0])
    out: list[Any] = []
    counts: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
    for i, record in enumerate(records):
        if restart_at is not None and i == restart_at:
            engine = AlertEngine(catalogue, clock=lambda: wall[0])
            engine.restore([dict(zip(ALERT_COLUMNS, a.to_row(), strict=True)) for a in out],
                           [r for r in records[:i] if r["type"] in ("incident", "outage", "maintenance")],
                           [(f, k, tuple(v)) for (f, k), v in counts.items()])
        source = (TOPICS[record["type"]], zlib.crc32(str(record.get("event_id")).encode()) % partitions)
        out += engine.observe(record, source)
        if restart_at is not None and i < restart_at:
            for family, key, values in contributions(record, catalogue):
                held = counts.setdefault((family, key), [0] * len(values))
                for j, v in enumerate(values):
                    held[j] += v
        if i % batch == batch - 1:
            out += engine.advance(wall[0])
    out += engine.advance(wall[0])
    wall[0] += timedelta(minutes=1)
    return out + engine.advance(wall[0])


def breach_keys(records: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """What history holds, by the core's own facts over the final snapshots and all counts: (rule,
    service, thing) for minutes over capacity, incidents resolved after their target (100 %), P1s not
    informed in time, planned windows counted as unavailability."""
    from sno.core.buckets import MonthInputs
    from sno.core.calendar import Month
    from sno.core.catalogue import load_catalogue
    from sno.core.rules.availability import classify_maintenance
    from sno.core.rules.common import Context
    from sno.core.rules.incidents import incident_kpis, priority
    from sno.core.snapshots import Snapshots

    catalogue = load_catalogue()
    snaps, inputs = Snapshots.from_events(records), MonthInputs.from_events(records, catalogue)
    per_minute: dict[tuple[str, str, datetime], int] = {}
    for family, key, values in inputs.iter_rows():
        if family == "auth_minute":
            k = (key[0], key[1], key[3])
            per_minute[k] = per_minute.get(k, 0) + values[0]
    out: set[tuple[str, str, str]] = set()
    for (service, _env, minute), n in per_minute.items():
        norms = catalogue.norms_for(service, minute.astimezone(TZ).year, minute.astimezone(TZ).month)
        if norms and norms.performance and n > norms.performance.capacity_per_minute:
            out.add(("capacity_exceeded", service, minute.astimezone(TZ).isoformat()))
    months = {Month.of(v) for r in records for v in r.values() if isinstance(v, datetime)}
    for service in sorted({r["service"] for r in records}):
        for env in ("production", "preproduction"):
            for month in sorted(months):
                norms = catalogue.norms_for(service, month.year, month.month)
                if norms is None:
                    continue
                ctx = Context(service, env, month, norms, inputs, snaps)
                kpis = incident_kpis(ctx)
                for p in (1, 2, 3):
                    for item in (kpis[f"incident_resolution_p{p}"].model_extra or {}).get("items", []):
                        if not item["within"]:
                            out.add(("incident_clock", service, f"{item['id']} 100%"))
                for i in snaps.of("incident", service, env):
                    notice = norms.p1_notice
                    if (notice is None or i["status"] != "resolved" or Month.of(i["resolved_at"]) != month
                            or i.get("cause") in set(norms.excluded_causes) or env != "production"
                            or priority(i["impact"], i["urgency"]) != 1):
                        continue
                    told = i.get("notified_at")
                    if told is None or (told - i["detected_at"]).total_seconds() > notice.minutes * 60:
                        out.add(("p1_not_notified", service, str(i["incident_id"])))
                for v in classify_maintenance(ctx):
                    r = v.record
                    if (r["kind"] == "planned" and r["status"] == "scheduled" and v.u
                            and Month.of(r["starts_at"]) == month):
                        out.add(("maintenance_invalid", service, str(r["maintenance_id"])))
    return out


def alert_key(alert: Any) -> tuple[str, str, str]:
    """An alert by what it is about, the same for the old engine's subjects and the new ones."""
    subject = alert.subject
    if alert.rule == "incident_clock":
        words = subject.split(" ")
        subject = f"{words[0]} {words[-1]}"
    return (alert.rule, alert.service, subject)


def order_report(path: Path, seed: int = 1) -> dict[str, Any]:
    """Alerts of one month read in four orders and with a restart: how many differ from event order,
    how many are left firing for something that ended, which breaches history holds were missed."""
    records = read_month(path)
    truth = breach_keys(records)
    runs = {name: replay(rs) for name, rs in orders(records, seed).items()}
    ordered = orders(records, seed)["event order"]
    runs["restart in the middle"] = replay(ordered, restart_at=len(ordered) // 2)
    ref = {(a.alert_id, a.state, a.event_time) for a in runs["event order"]}
    report: dict[str, Any] = {"records": len(records), "breaches": len(truth)}
    for name, alerts in runs.items():
        got = {(a.alert_id, a.state, a.event_time) for a in alerts}
        state: dict[str, Any] = {}
        for a in alerts:
            if state.get(a.alert_id, (None,))[0] != "resolved":
                state[a.alert_id] = (a.state, a)
        firing = [a for s, a in state.values() if s == "firing"]
        fired = {alert_key(a) for a in alerts if a.state == "firing"}
        report[name] = {"alerts": len(alerts), "differ_from_event_order": len(got ^ ref),
                        "left_firing": len(firing), "missed_breaches": sorted(truth - fired)}
    return report


def _main(argv: list[str]) -> int:
    import json

    if len(argv) < 2 or argv[0] != "order":
        print("usage: python -m streams.alert_bench order FILE [SEED]")
        return 2
    print(json.dumps(order_report(Path(argv[1]), int(argv[2]) if len(argv) > 2 else 1), indent=2,
                     default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
