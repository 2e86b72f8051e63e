"""Running the pipeline: store, sink, Faust app and worker, with `--drain` for batch jobs and tests."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sno.runtime.store import Store
from streams.settings import PipelineSettings
from streams.sink import ClickHouseSink

log = logging.getLogger(__name__)

#: How long the drained state must hold before `--drain` exits (absorbs a fetch in flight).
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


def run_worker(settings: PipelineSettings, *, drain: bool = False, status_file: Path | None = None,
               progress: bool = False) -> int:
    """Run until stopped (or, with drain, until lag is zero and every rollup is written). Returns 0."""
    import faust

    from streams.app import build_app
    from streams.processor import EventProcessor

    started = time.monotonic()
    store = Store(settings.clickhouse, settings.store, holder="sno worker")
    try:
        store.migrate()
        processor = EventProcessor()
        sink = ClickHouseSink(store, processor, settings.broker)
        bar = _progress_bar() if progress else None
        app = build_app(settings, sink, on_batch=(bar.update if bar is not None else None))
        outcome: dict[str, Any] = {"drained": False}

        @app.timer(0.2)
        async def _watch() -> None:
            if status_file is not None:
                _write_status(status_file, app, sink, started)
            if drain and drained(app, sink):
                await asyncio.sleep(DRAIN_SETTLE_SECONDS)
                if drained(app, sink) and not outcome["drained"]:
                    outcome["drained"] = True
                    await refresh_kpis(sink)
                    if status_file is not None:
                        _write_status(status_file, app, sink, started, drained=True)
                    os.kill(os.getpid(), signal.SIGTERM)

        if not drain:
            @app.timer(settings.kpi_refresh_seconds)
            async def _kpis() -> None:
                await refresh_kpis(sink)

        worker = faust.Worker(app, loglevel=settings.loglevel, quiet=True, redirect_stdouts=False,
                              workdir=settings.datadir)
        try:
            worker.execute_from_commandline()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0
            if drain and not outcome["drained"]:
                return code or 1
            return code
        finally:
            if bar is not None:
                bar.close()
        return 0
    finally:
        store.close()


async def refresh_kpis(sink: ClickHouseSink) -> None:
    """Recompute `sno_kpi_monthly` for the months the batches since the last refresh touched."""
    touched, sink.touched = sink.touched, set()
    if not touched:
        return
    try:
        from streams.kpis import refresh_monthly_kpis
    except ImportError:  # the monthly table arrives with the report; until then nothing to refresh
        return
    await sink._ch(refresh_monthly_kpis, sink.store, sorted(touched))


def _progress_bar() -> Any:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit=" events", desc="processing", file=sys.stderr)


def _write_status(path: Path, app: Any, sink: ClickHouseSink, started: float, drained: bool = False) -> None:
    first = getattr(app, "sno_first_event_at", None)
    status = {
        "pid": os.getpid(),
        "uptime_seconds": round(time.monotonic() - started, 3),
        "first_event_seconds": round(first - started, 3) if first else None,
        "assigned": sorted(f"{t}/{p}" for t, p in sink.assigned),
        "drained": drained,
        **asdict(sink.stats),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    tmp.replace(path)
