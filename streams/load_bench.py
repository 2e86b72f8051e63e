"""The load run of issue 17: N× the SNO peak of all services together, live, against a running worker.

`python -m streams.load_bench [--factor 10] [--minutes 10]` starts a broker of its own (`LocalBroker`)
and a live `sno worker` on an embedded store in a temporary folder, and paces a producer at ``factor``
times the sum of every rate limit the norm catalogue states for the month in force (DigiD and DigiD
Machtigen capacity per minute, R15; MijnOverheid messages, notifications, Validatieservice queries and
Abonnementservice requests, R18). Events carry event time = now (a live stream, not a replayed month) and
are keyed by `event_id` on their type's topic, as `sno ingest` sends them.

Every 10 s it samples the worker's `/metrics`: consumer lag (`sno_consumer_lag_records`, summed over the
worker's partitions), the resident memory of the worker, of its fold process and of the embedded
ClickHouse engine; and from /proc the broker's. When the run's minutes are over it waits until the
worker has written everything (lag 0, every event processed), stops it, and counts in `sno_seen` how
many distinct events were counted and how many more than once. The summary is one JSON object.

Why these figures: a pipeline keeps up when its lag stays bounded at the offered rate (it does not grow
with the run's length) and its memory stays flat (nothing accumulates per event beyond the 24-hour
de-duplication window), and it is exact when every event sent is counted once. The numbers come from the
catalogue (sno/core/norms/*.toml), never from this file, so a new SNO version changes the load with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from sno.core.calendar import Month
from sno.core.catalogue import Catalogue, load_catalogue
from sno.core.topics import INPUT_TOPICS, TOPICS

#: seconds between two samples of lag and memory
SAMPLE_EVERY = 10.0
#: seconds between two producer steps (each sends what is due by then)
STEP = 0.05
#: a few customer organisations (OIN-shaped ids, 20 digits), so the per-afnemer rollups have rows
AFNEMERS = tuple(f"00000001{n:012d}" for n in range(1, 9))


@dataclass(frozen=True)
class Stream:
    """One paced stream of the mix: what it sends, at which rate (events per second), and why."""

    name: str
    event_type: str
    service: str
    rate: float
    source: str
    api: str | None = None


def _window_seconds(start: Any, end: Any) -> float:
    """Length of a daily wall-clock window in seconds; ``end <= start`` crosses midnight."""
    a = start.hour * 3600 + start.minute * 60 + start.second
    b = end.hour * 3600 + end.minute * 60 + end.second
    return float((b - a) % 86_400 or 86_400)


def peak_streams(catalogue: Catalogue, at: datetime) -> list[Stream]:
    """Every rate limit the catalogue states for the month of ``at``, as a stream at that peak rate.

    A limit stated over several periods (messages per second, per hour and per day) takes its highest
    per-second rate: the peak the SNO allows. The Abonnementservice limits are per night (R18), spread
    evenly over the night window the catalogue gives.
    """
    month = Month.of(at)
    out: list[Stream] = []
    for service, event_type in (("digid", "authentication"), ("digid-machtigen", "transaction")):
        norms = catalogue.select(service, month).norms
        if norms is None or norms.performance is None:
            continue
        per_minute = norms.performance.capacity_per_minute
        out.append(Stream(f"{event_type} ({service})", event_type, service, per_minute / 60,
                          f"{service} {norms.version} capacity_per_minute = {per_minute} (R15)"))
    mo = catalogue.select("mijnoverheid", month).norms
    if mo is not None and mo.mijnoverheid is not None:
        limits, version = mo.mijnoverheid, mo.version
        messages = {"messages_per_second": limits.messages_per_second,
                    "messages_per_hour": limits.messages_per_hour / 3600,
                    "messages_per_day": limits.messages_per_day / 86_400}
        which = max(messages, key=lambda k: messages[k])
        out.append(Stream("message (mijnoverheid)", "message", "mijnoverheid", messages[which],
                          f"mijnoverheid {version} {which} (R18)"))
        notifications = {"notifications_per_hour": limits.notifications_per_hour / 3600,
                         "notifications_per_day": limits.notifications_per_day / 86_400}
        which = max(notifications, key=lambda k: notifications[k])
        out.append(Stream("notification (mijnoverheid)", "notification", "mijnoverheid", notifications[which],
                          f"mijnoverheid {version} {which} (R18)"))
        out.append(Stream("api_request validatieservice", "api_request", "mijnoverheid",
                          limits.validatieservice_per_hour / 3600,
                          f"mijnoverheid {version} validatieservice_per_hour (R18)",
                          api="validatieservice"))
        night = _window_seconds(limits.abonnement_night.from_, limits.abonnement_night.to)
        for api, per_night in sorted(limits.abonnement_per_night.items()):
            out.append(Stream(f"api_request {api}", "api_request", "mijnoverheid", per_night / night,
                              f"mijnoverheid {version} abonnement_per_night[{api}] over the "
                              f"{night / 3600:g} h night (R18)", api=api))
    return out


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(stream: Stream, event_id: str, n: int, now: datetime) -> dict[str, Any]:
    """One event of ``stream`` that has just happened: it completes now, so its event time is now
    (less its duration, under two seconds), as a live producer sends it."""
    afnemer = AFNEMERS[n % len(AFNEMERS)]
    common = {"type": stream.event_type, "event_id": event_id, "service": stream.service}
    if stream.event_type in ("authentication", "transaction"):
        took = timedelta(milliseconds=300 + (n * 37) % 1500)
        return {**common, "afnemer_id": afnemer, "started_at": _ts(now - took), "completed_at": _ts(now),
                "outcome": "success" if n % 20 else "failure"}
    if stream.event_type == "message":
        return {**common, "afnemer_id": afnemer, "received_at": _ts(now - timedelta(milliseconds=200)),
                "processed_at": _ts(now), "status": "accepted" if n % 50 else "rejected",
                "attachment_count": n % 2, "attachment_bytes": (n % 2) * 120_000}
    if stream.event_type == "notification":
        return {**common, "queued_at": _ts(now - timedelta(seconds=1)), "sent_at": _ts(now),
                "channel": "email" if n % 3 else "app"}
    took = timedelta(milliseconds=100 + (n * 53) % 900)
    return {**common, "afnemer_id": afnemer, "api": stream.api, "received_at": _ts(now - took),
            "completed_at": _ts(now), "status_code": 200,
            "bsn_count": 250 if stream.api == "validatieservice" else 0}


def check_valid(streams: list[Stream]) -> None:
    """Every stream's events pass the contract and go where this bench sends them (topic and key as
    `sno ingest` would choose): a load of rejected events would measure the dead-letter path instead."""
    from schemas.validate import Accepted, validate

    now = datetime.now(UTC)
    for s in streams:
        line = orjson.dumps(make_event(s, "load-check", 1, now))
        result = validate(line)
        if not isinstance(result, Accepted):
            raise RuntimeError(f"the load bench's {s.name} event is invalid: {result}")
        if result.topic != TOPICS[s.event_type] or result.key != b"load-check":
            raise RuntimeError(f"the load bench sends {s.name} to {TOPICS[s.event_type]} keyed by its id; "
                               f"sno ingest would send it to {result.topic} keyed {result.key!r}")


# ---- the worker and what is sampled ------------------------------------------------------------------


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process (MB), from /proc; None when it is gone."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def scrape(port: int) -> dict[str, Any]:
    """Lag (summed over the worker's partitions) and resident memory (MB) by process, from `/metrics`."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    lag, partitions = 0, 0
    memory: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sno_consumer_lag_records":
                lag += int(sample.value)
                partitions += 1
            elif sample.name == "process_resident_memory_bytes":
                memory["worker"] = round(sample.value / 2**20, 1)
            elif sample.name == "sno_child_process_resident_memory_bytes":
                memory[sample.labels["process"]] = round(sample.value / 2**20, 1)
    return {"lag": lag, "lag_partitions": partitions, "rss_mb": memory}


@dataclass
class Run:
    """What one load run saw: its samples and counters, summarised by `summary`."""

    factor: float
    minutes: float
    streams: list[Stream]
    sent: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    send_seconds: float = 0.0
    drain_seconds: float | None = None
    final_lag: int | None = None
    counted: int | None = None
    duplicates: int | None = None
    counted_rows: int | None = None
    worker_exit: int | None = None
    worker_errors: list[str] = field(default_factory=list)


def _status(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


async def _sample(run: Run, port: int, status: Path, broker_pid: int | None, started: float) -> None:
    """One sample: lag, memory of every process, events processed so far."""
    try:
        got = await asyncio.to_thread(scrape, port)
    except OSError as exc:
        got = {"lag": None, "rss_mb": {}, "error": f"{type(exc).__name__}: {exc}"}
    got["rss_mb"]["broker"] = rss_mb(broker_pid)
    got["t"] = round(time.monotonic() - started, 1)
    got["sent"] = sum(run.sent.values())
    got["processed"] = _status(status).get("processed")
    got["load_average_1m"] = round(os.getloadavg()[0], 2)  # the machine is shared: how busy it was
    run.samples.append(got)


async def _produce(run: Run, bootstrap: str, port: int, status: Path, broker_pid: int | None) -> None:
    """Send each stream at its rate × factor for the run's minutes (what is due at each step, then a
    flush), sampling every 10 s; then wait until the broker acknowledged everything."""
    from sno.ingest.publisher import BatchPublisher, connect

    producer = await connect(bootstrap, linger_ms=5)
    try:
        publisher = BatchPublisher(producer)
        await publisher.prepare({TOPICS[s.event_type] for s in run.streams})
        tag = f"load-{int(time.time())}"
        counts = {s.name: 0 for s in run.streams}
        started = time.monotonic()
        end = started + run.minutes * 60
        next_sample = started
        while True:
            now_m = time.monotonic()
            if now_m >= next_sample:
                await _sample(run, port, status, broker_pid, started)
                next_sample += SAMPLE_EVERY
            if now_m >= end:
                break
            now = datetime.now(UTC)
            elapsed = now_m - started
            for i, s in enumerate(run.streams):
                due = int(elapsed * s.rate * run.factor)
                topic = TOPICS[s.event_type]
                while counts[s.name] < due:
                    n = counts[s.name]
                    event_id = f"{tag}-{i}-{n}"
                    publisher.add(topic, event_id.encode(), orjson.dumps(make_event(s, event_id, n, now)))
                    counts[s.name] = n + 1
            await publisher.flush()
            run.sent = dict(counts)
            await asyncio.sleep(max(0.0, STEP - (time.monotonic() - now_m)))
        await publisher.drain()
        run.sent = dict(counts)
        run.send_seconds = time.monotonic() - started
    finally:
        await producer.stop()


def _wait_drained(run: Run, port: int, status: Path, timeout: float) -> None:
    """Until the worker has processed every event sent and its lag is 0 (or ``timeout`` s)."""
    total = sum(run.sent.values())
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            lag = scrape(port)["lag"]
        except OSError:
            lag = None
        processed = _status(status).get("processed") or 0
        if lag == 0 and processed >= total:
            run.final_lag, run.drain_seconds = 0, round(time.monotonic() - started, 1)
            return
        run.final_lag = lag
        time.sleep(1.0)


def _count(run: Run, store: Path, tag_like: str = "load-%") -> None:
    """Distinct events counted and copies counted more than once, from the ledger's `sno_seen`."""
    from sno.runtime.store import Store

    st = Store(None, store)
    try:
        rows, distinct = st.query(
            "SELECT count(), uniqExact(event_type, event_id) FROM sno_seen WHERE event_id LIKE {p:String}",
            {"p": tag_like})[0]
    finally:
        st.close()
    run.counted_rows, run.counted, run.duplicates = int(rows), int(distinct), int(rows) - int(distinct)


def load_run(factor: float, minutes: float, folder: Path, *, drain_timeout: float = 600.0) -> Run:
    """One load run in ``folder``: broker, live worker, paced producer, drain, count."""
    from sno.runtime.broker import LocalBroker, free_port
    from sno.runtime.topics import ensure_topics

    streams = peak_streams(load_catalogue(), datetime.now(UTC))
    check_valid(streams)
    run = Run(factor=factor, minutes=minutes, streams=streams)
    store, status, log = folder / "store", folder / "live.json", folder / "worker.log"
    with LocalBroker() as broker:
        asyncio.run(ensure_topics(broker.bootstrap, INPUT_TOPICS, 2))
        port = free_port()
        with log.open("wb") as log_fh:
            worker = subprocess.Popen(
                [sys.executable, "-m", "sno.cli", "worker", "--broker", broker.bootstrap,
                 "--store", str(store), "--status-file", str(status), "--metrics-port", str(port),
                 "--metrics-host", "127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=log_fh,
                env={k: v for k, v in os.environ.items() if not k.startswith("SNO_")},
            )
            try:
                deadline = time.monotonic() + 120
                while not _status(status).get("assigned"):  # ready: it holds its partitions
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the worker did not start: {log.read_text()[-2000:]}")
                    time.sleep(0.2)
                broker_pid = broker.process.pid if broker.process is not None else None
                asyncio.run(_produce(run, broker.bootstrap, port, status, broker_pid))
                _wait_drained(run, port, status, drain_timeout)
                run.samples.append({**scrape(port), "t": "drained", "sent": sum(run.sent.values()),
                                    "processed": _status(status).get("processed")})
                run.samples[-1]["rss_mb"]["broker"] = rss_mb(broker_pid)
            finally:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                try:
                    run.worker_exit = worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    run.worker_exit = worker.wait()
    run.worker_errors = [line for line in log.read_text(errors="replace").splitlines()
                         if "ERROR" in line or "Traceback" in line][:20]
    _count(run, store)
    return run


def _pct(values: list[Any], q: float) -> Any:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(run: Run) -> dict[str, Any]:
    """The figures of one run as the note gives them."""
    live = [s for s in run.samples if s.get("t") != "drained"]
    lags = [s["lag"] for s in live if s.get("lag") is not None]
    total = sum(run.sent.values())
    target = sum(s.rate for s in run.streams) * run.factor
    half = [s for s in live[len(live) // 2:] if s.get("lag") is not None]
    slope = None  # records per second the lag grew over the run's second half (least squares)
    if len(half) >= 3:
        ts, ys = [float(s["t"]) for s in half], [float(s["lag"]) for s in half]
        mt, my = statistics.fmean(ts), statistics.fmean(ys)
        den = sum((t - mt) ** 2 for t in ts)
        slope = round(sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / den, 1) if den else None
    processes = sorted({p for s in run.samples for p in s.get("rss_mb", {})})
    loads = [s["load_average_1m"] for s in live if s.get("load_average_1m") is not None]
    done = [s for s in live if s.get("processed") is not None]
    processed_rate = None  # events the worker wrote per second while the producer sent
    if len(done) > 1 and done[-1]["t"] > done[0]["t"]:
        first, last = done[0], done[-1]
        processed_rate = round((last["processed"] - first["processed"]) / (last["t"] - first["t"]), 1)

    def rss_at(sample: dict[str, Any] | None) -> dict[str, float | None]:
        return {p: (sample or {}).get("rss_mb", {}).get(p) for p in processes}

    # the first sample is taken as the producer starts (before any load): "start" is the one after it
    start = live[1] if len(live) > 1 else (live[0] if live else None)
    return {
        "factor": run.factor,
        "minutes": run.minutes,
        "target_events_per_second": round(target, 1),
        "target_events_per_second_by_stream": {s.name: round(s.rate * run.factor, 3) for s in run.streams},
        "sno_peak_by_stream": {s.name: {"events_per_second": round(s.rate, 3), "from": s.source}
                               for s in run.streams},
        "achieved_send_rate": round(total / run.send_seconds, 1) if run.send_seconds else None,
        "sent_by_stream": run.sent,
        "processed_rate_while_sending": processed_rate,
        "load_average_1m": {"p50": _pct(loads, 0.5), "max": max(loads) if loads else None},
        "lag_records": {"p50": _pct(lags, 0.5), "p99": _pct(lags, 0.99), "max": max(lags) if lags else None,
                        "last_while_sending": lags[-1] if lags else None,
                        "second_half_growth_per_second": slope,
                        "samples": [s.get("lag") for s in live]},
        "lag_after_drain": run.final_lag,
        "drain_seconds": run.drain_seconds,
        "rss_mb": {"start": rss_at(start), "middle": rss_at(live[len(live) // 2] if live else None),
                   "end": rss_at(live[-1] if live else None),
                   "after_drain": rss_at(run.samples[-1] if run.samples else None)},
        "total_events": total,
        "counted": run.counted,
        "duplicates": run.duplicates,
        "lost": total - run.counted if run.counted is not None else None,
        "worker_exit": run.worker_exit,
        "worker_error_lines": run.worker_errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.load_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--factor", type=float, default=10.0, help="times the SNO peak (default 10)")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of event time (default 10)")
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="seconds to wait for the worker to catch up after sending (default 600)")
    parser.add_argument("--keep", type=Path, default=None, help="run in this folder and keep it")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run = load_run(args.factor, args.minutes, args.keep, drain_timeout=args.drain_timeout)
    else:
        with tempfile.TemporaryDirectory(prefix="sno-load-") as tmp:
            run = load_run(args.factor, args.minutes, Path(tmp), drain_timeout=args.drain_timeout)
    result = summary(run)
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 and result["lag_after_drain"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
