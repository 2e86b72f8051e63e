"""Running the pipeline: store, sink, Faust app and worker, with `--drain` for batch jobs and tests."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sno.core.topics import INPUT_TOPICS
from sno.runtime.store import Store
from streams.settings import PipelineSettings
from streams.sink import ClickHouseSink, Stats

log = logging.getLogger(__name__)

#: How long the drained state must hold, with no batch written meanwhile, before `--drain` exits.
DRAIN_SETTLE_SECONDS = 0.6


def drained(app: Any, sink: ClickHouseSink) -> bool:
    """Lag is zero on every assigned partition and nothing is being written.

    Lag uses the high-water mark of the last fetch response, never the broker's list-offsets answer
    (the embedded broker answers that one wrongly).
    """
    if not sink.assigned or sink.in_flight:
        return False
    consumer = app.consumer
    for topic, partition in sink.assigned:
        tp = _tp(topic, partition)
        try:
            highwater = consumer.highwater(tp)
        except Exception:
            return False
        if highwater is None:
            return False
        if sink.positions.get((topic, partition), -1) < highwater - 1:
            return False
    return True


def _tp(topic: str, partition: int) -> Any:
    from faust.types import TP

    return TP(topic, partition)


@dataclass
class WorkerResult:
    code: int
    stats: Stats
    first_event_seconds: float | None
    seconds: float
    error: str | None = None


class _Stopping:
    """How the worker is stopping, for the stop deadline (sno/runtime/deadline.py): asked when the
    deadline fires, it gives the exit status and the line the graceful stop would have given."""

    def __init__(self, drain: bool) -> None:
        self.drain = drain
        self.sink: ClickHouseSink | None = None
        self.watch: Any = None
        self.outcome: dict[str, Any] = {}
        #: the stop signals received, in order
        self.signals: list[str] = []
        #: an error that escaped run_worker itself (start-up, Faust)
        self.error: BaseException | None = None

    def cause(self) -> BaseException | None:
        sink_fatal = self.sink.fatal if self.sink is not None else None
        gone = self.watch.gone if self.watch is not None else None
        return sink_fatal or gone or self.error

    def __call__(self) -> tuple[int, str]:
        cause = self.cause()
        if cause is not None:
            code = 1 if cause is self.error else 3
            return code, f"the worker stopped ({type(cause).__name__}: {cause})"
        on = f" on {self.signals[0]}" if self.signals else ""
        if self.drain and not self.outcome.get("drained"):
            return 1, f"the worker stopped{on} before it was drained"
        return 0, f"the worker stopped{on}" + (" after it was drained" if self.drain else "")


def _faust_worker(stopping: _Stopping, deadline: Any) -> type[Any]:
    """Faust's worker, arming the stop deadline on the first SIGTERM or SIGINT and ending the process
    at once on the second (Faust itself ignores every signal after the first)."""
    import faust

    class Worker(faust.Worker):  # type: ignore[misc]
        def _schedule_shutdown(self, sig: signal.Signals) -> None:
            stopping.signals.append(signal.Signals(sig).name)
            if stopping.sink is not None:
                stopping.sink.begin_stop()
            if len(stopping.signals) > 1:
                deadline.fire_now()
            deadline.arm()
            super()._schedule_shutdown(sig)

    return Worker


def run_worker(settings: PipelineSettings, *, drain: bool = False, gate: Callable[[], bool] | None = None,
               status_file: Path | None = None, progress: bool = False,
               broker_gone_seconds: float | None = None) -> WorkerResult:
    """Run until stopped, or with `drain` until lag is zero and every rollup is written.

    `gate` lets a caller that is still publishing (sno replay) hold the drain exit until it is done.
    Crash-only (issue 17): from the first stop on (a signal, a fatal error, a lost Kafka cluster:
    sno/runtime/clusterwatch.py, lost for `broker_gone_seconds`, default SNO_BROKER_GONE_SECONDS), the
    process ends within the stop bound (sno/runtime/deadline.py), gracefully if it can.
    """
    from sno.runtime.clusterwatch import gone_seconds
    from sno.runtime.deadline import StopDeadline

    stopping = _Stopping(drain)
    deadline = StopDeadline(stopping)
    gone_after = gone_seconds(broker_gone_seconds)
    try:
        return _run_worker(settings, drain, gate, status_file, progress, stopping, deadline, gone_after)
    except BaseException as exc:
        # Whatever ends the worker by an exception: the clean-up (store, children, interpreter exit)
        # gets the stop bound too.
        stopping.error = stopping.error or exc
        deadline.arm()
        raise


def _run_worker(settings: PipelineSettings, drain: bool, gate: Callable[[], bool] | None,
                status_file: Path | None, progress: bool, stopping: _Stopping, deadline: Any,
                gone_after: float) -> WorkerResult:
    from sno.runtime import logs
    from sno.runtime.clusterwatch import ClusterWatch
    from sno.runtime.metrics import (
        MeteredProcessor,
        MetricsServer,
        PipelineMetrics,
        meter_alerts,
        meter_flush,
    )
    from sno.runtime.topics import cluster_id, ensure_topics
    from streams.app import build_app

    started = time.monotonic()
    log_format = logs.configure(settings.log_format, settings.loglevel)
    metrics = PipelineMetrics()
    metrics.info.info(_info(settings, log_format))
    server = (MetricsServer(metrics, settings.metrics_host, settings.metrics_port).start()
              if settings.metrics_port is not None else None)
    # Faust's worker changes into its data folder: every path must be absolute before it starts.
    settings.store = settings.store.resolve()
    status_file = status_file.resolve() if status_file is not None else None
    try:
        store = open_worker_store(settings)
    except BaseException:
        if server is not None:
            server.close()
        raise
    try:
        settings.app_id = settings.consumer_group()  # one group per embedded store (streams/settings.py)
        store.migrate()
        try:
            epoch = asyncio.run(cluster_id(settings.broker))
            asyncio.run(ensure_topics(settings.broker, INPUT_TOPICS, settings.partitions))
        except Exception as exc:  # TLS, SASL or the broker itself: one line, not a traceback
            from sno.runtime.broker import BrokerError

            raise BrokerError(f"Kafka at {settings.broker} refused the worker's admin client: "
                              f"{type(exc).__name__}: {exc}") from None
        alert_rows = _alert_rows(store) if settings.alerts else None
        if settings.fold_in_child:
            from streams.folding import ProcessFolder

            processor: Any = ProcessFolder(alert_rows)
        else:
            from streams.processor import EventProcessor

            processor = EventProcessor(alerts=_alert_engine(alert_rows) if alert_rows is not None else None)
        processor = MeteredProcessor(processor, metrics)
        from streams.faults import FaultPoint

        # crash-only: the sink's decision to stop the worker arms the stop deadline at once (its SIGTERM
        # is handled only when Faust's event loop gets to it)
        sink = ClickHouseSink(store, processor, settings.broker, epoch=epoch, fault=FaultPoint.from_env(),
                              on_fatal=lambda _exc: deadline.arm())
        stopping.sink = sink
        meter_flush(sink, metrics)
        engine_pid = getattr(store, "pid", None)
        metrics.child_pids = lambda: {"fold": list(getattr(processor, "pids", [])),
                                      **({"engine": [engine_pid]} if engine_pid else {})}
        bar = _progress_bar() if progress else None
        app = build_app(settings, sink, on_batch=(bar.update if bar is not None else None))
        meter_alerts(sink, metrics)  # wraps the publisher the app has just set
        outcome: dict[str, Any] = {"drained": False, "quiet_since": None, "batches": -1}
        stopping.outcome = outcome
        watch = stopping.watch = ClusterWatch(settings.broker, epoch, lambda _gone: deadline.arm(),
                                              gone_after=gone_after)

        @app.timer(0.2)
        async def _watch() -> None:
            if watch.gone is not None and sink.fatal is None:
                sink.stop_worker(watch.gone)  # logged, and SIGTERM: a graceful stop within the deadline
            try:
                metrics.update(app.consumer, sink)
            except Exception:  # the metrics never stop the worker
                log.exception("updating the metrics failed")
            if status_file is not None:
                _write_status(status_file, app, sink, started)
            if not drain or outcome["drained"]:
                return
            if not ((gate is None or gate()) and drained(app, sink)):
                outcome["quiet_since"] = None
                return
            now = time.monotonic()
            if outcome["quiet_since"] is None or outcome["batches"] != sink.stats.batches:
                outcome["quiet_since"], outcome["batches"] = now, sink.stats.batches
                return
            if now - outcome["quiet_since"] >= DRAIN_SETTLE_SECONDS:
                outcome["drained"] = True
                outcome["finish"] = asyncio.ensure_future(_finish())  # off the timer: it takes a while

        async def _finish() -> None:
            try:
                if settings.alerts:  # drained: nothing more is coming, no source is waited for
                    await sink.tick(drained=True)
                await refresh_kpis(sink)
                if status_file is not None:
                    _write_status(status_file, app, sink, started, drained=True)
            except Exception as exc:  # the rollups are written; a failed refresh must not hang the drain
                log.exception("refreshing sno_kpi_monthly failed")
                outcome["drained"] = False
                sink.fatal = exc
            finally:
                os.kill(os.getpid(), signal.SIGTERM)

        if not drain:
            @app.timer(settings.kpi_refresh_seconds)
            async def _kpis() -> None:
                await refresh_kpis(sink)

        worker = _faust_worker(stopping, deadline)(
            app, loglevel=settings.loglevel, quiet=True, redirect_stdouts=False, workdir=settings.datadir,
            logging_config=logs.logging_config(log_format, settings.loglevel))
        code = 0
        watch.start()
        try:
            worker.execute_from_commandline()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0
            if drain and not outcome["drained"]:
                code = code or 1
        finally:
            watch.stop()
            deadline.arm()  # however Faust ended: what is left of the stop has the bound too
            if bar is not None:
                bar.close()
        if hasattr(processor, "close"):
            processor.close()
        fatal = stopping.cause()
        if fatal is not None:
            code = code or 3
        first = app.sno_first_event_at  # type: ignore[attr-defined]
        error = f"{type(fatal).__name__}: {fatal}" if fatal is not None else None
        return WorkerResult(code, sink.stats, round(first - started, 3) if first else None,
                            round(time.monotonic() - started, 3), error)
    finally:
        store.close()
        if server is not None:
            server.close()


def _info(settings: PipelineSettings, log_format: str) -> dict[str, str]:
    """The worker's settings as the `sno_worker_info` labels (no secret: URLs lose their user part)."""
    from urllib.parse import urlsplit

    def bare(url: str | None) -> str:
        if not url:
            return ""
        parts = urlsplit(url)
        return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl() \
            if parts.hostname else url

    return {"app_id": settings.app_id, "alertmanager": bare(settings.alertmanager),
            "clickhouse": bare(settings.clickhouse) or "embedded", "log_format": log_format,
            "kafka_security_protocol": settings.kafka_security.protocol,
            "alerts": "true" if settings.alerts else "false"}


def open_worker_store(settings: PipelineSettings) -> Any:
    """The worker's store: a ClickHouse server directly; the embedded engine in a process of its own
    (sno/runtime/store_process.py), unless `store_in_child` is off."""
    clickhouse = settings.clickhouse
    if clickhouse and not clickhouse.startswith("chdb://"):
        return Store(clickhouse, holder="sno worker")
    path = Path(clickhouse[len("chdb://"):]) if clickhouse else settings.store
    if not settings.store_in_child:
        return Store(None, path, holder="sno worker")
    from sno.runtime.store_process import StoreProcess

    return StoreProcess(path, "sno worker")


def _alert_rows(store: Store) -> dict[str, Any]:
    """What the alert engine takes over after a restart (sno/core/ALERTS.md, "Restart"): what was sent
    (`sno_alerts`), every version of the entities it may still judge (`sno_snapshots`), and the counts
    already folded into units still open (the rollups), all bounded by event time."""
    from schemas.validate import Accepted, validate
    from sno.core.alerts import ALERT_COLUMNS

    cols = ", ".join(ALERT_COLUMNS)
    alerts = store.query(
        f"SELECT {cols} FROM sno_alerts WHERE event_time >= (SELECT max(event_time) FROM sno_alerts) - "
        "INTERVAL 62 DAY OR alert_id IN (SELECT alert_id FROM sno_alerts GROUP BY alert_id HAVING "
        "countIf(state = 'resolved') = 0) ORDER BY emitted_at, state")
    snapshots = []
    for (payload,) in store.query(
        "SELECT payload FROM sno_snapshots WHERE kind IN ('incident', 'outage', 'maintenance') AND "
        "(kind, service, environment, id) IN (SELECT kind, service, environment, id FROM sno_snapshots "
        "WHERE kind IN ('incident', 'outage', 'maintenance') GROUP BY kind, service, environment, id HAVING "
        "max(updated_at) >= (SELECT max(updated_at) FROM sno_snapshots) - INTERVAL 62 DAY OR "
        "argMax(JSONExtractString(payload, 'status'), updated_at) = 'open' OR (kind = 'outage' AND "
        "argMax(JSONExtractRaw(payload, 'ended_at'), updated_at) IN ('', 'null'))) ORDER BY updated_at"
    ):
        result = validate(payload.encode())
        if isinstance(result, Accepted):
            snapshots.append(result.record)
    counts: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = []
    since = None  # the authentication minutes are complete from here (the burn windows' warm-up)
    for family, unit, extra, back in (("auth_minute", "minute", "", "7 HOUR"),
                                      ("message_second", "second", "", "26 HOUR"),
                                      ("notification_minute", "minute", ", channel", "26 HOUR"),
                                      ("api_minute", "minute", ", api", "2 HOUR")):
        within = "sum(within)" if family == "auth_minute" else "0"
        rows = store.query(
            f"SELECT service, environment, {unit}{extra}, sum(count), {within} FROM sno_{family} "
            f"WHERE {unit} >= (SELECT max({unit}) FROM sno_{family}) - INTERVAL {back} "
            f"GROUP BY service, environment, {unit}{extra}")
        for row in rows:
            at = row[2].replace(tzinfo=UTC) if row[2].tzinfo is None else row[2]
            counts.append((family, (row[0], row[1], "", at, *row[3:-2]), (int(row[-2]), int(row[-1]))))
        if family == "auth_minute" and rows:
            (newest,), = store.query("SELECT max(minute) FROM sno_auth_minute")
            since = (newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest) - timedelta(hours=7)
    return {"alert_rows": [dict(zip(ALERT_COLUMNS, row, strict=True)) for row in alerts],
            "snapshot_rows": snapshots, "counts": counts, "counts_since": since}


def _alert_engine(rows: dict[str, Any]) -> Any:
    from sno.core.alerts import AlertEngine
    from sno.core.catalogue import load_catalogue

    engine = AlertEngine(load_catalogue())
    engine.restore(**rows)
    return engine


async def refresh_kpis(sink: ClickHouseSink) -> None:
    """Recompute `sno_kpi_monthly` for the months the batches since the last refresh touched."""
    touched, sink.touched = sink.touched, set()
    if not touched:
        return
    try:
        from streams.kpis import refresh_monthly_kpis
    except ImportError:  # the monthly table arrives with the report; until then nothing to refresh
        return
    await sink.in_store_thread(refresh_monthly_kpis, sink.store, sorted(touched))


def _progress_bar() -> Any:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit=" events", desc="processing", file=sys.stderr)


def _peak_memory(sink: ClickHouseSink) -> dict[str, Any]:
    """Peak resident memory of the worker and of its fold process, and their sum (the worker's cost);
    apart from them, the embedded ClickHouse engine's process (the database's cost, as the broker's)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = [_hwm_mb(pid) for pid in getattr(sink.processor, "pids", [])]
    engine = getattr(sink.store, "pid", None)
    store_mb = _hwm_mb(engine) if engine else None
    return {"peak_rss_mb": round(own + sum(c for c in children if c), 1),
            "peak_rss_mb_by_process": [round(own, 1), *(round(c, 1) for c in children if c)],
            "store_peak_rss_mb": round(store_mb, 1) if store_mb else None}


def _cpu_seconds(sink: ClickHouseSink) -> dict[str, Any]:
    """CPU seconds (user + system) so far of the worker, its fold process and the engine: where the
    time goes, stage by stage (sno bench's `pipeline_cpu_us_per_event`)."""
    from sno.runtime.proc import cpu_seconds

    own = resource.getrusage(resource.RUSAGE_SELF)
    engine = getattr(sink.store, "pid", None)
    return {"cpu_seconds_by_process": {
        "worker": round(own.ru_utime + own.ru_stime, 3),
        "fold": round(sum(cpu_seconds(pid) or 0 for pid in getattr(sink.processor, "pids", [])), 3),
        "engine": round(cpu_seconds(engine) or 0, 3) if engine else None}}


def _hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _write_status(path: Path, app: Any, sink: ClickHouseSink, started: float, drained: bool = False) -> None:
    first = getattr(app, "sno_first_event_at", None)
    status = {
        "pid": os.getpid(),
        "uptime_seconds": round(time.monotonic() - started, 3),
        "first_event_seconds": round(first - started, 3) if first else None,
        "assigned": sorted(f"{t}/{p}" for t, p in sink.assigned),
        "drained": drained,
        **_peak_memory(sink),
        **_cpu_seconds(sink),
        **{k: v for k, v in asdict(sink.stats).items() if k != "write_seconds"},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    tmp.replace(path)
