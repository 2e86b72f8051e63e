"""`sno replay`: publish files and drain a worker, end to end, in bounded memory.

The embedded broker keeps every record in memory (measured: ~400 MB after 1.2 M events) and has no
DeleteRecords, so a month of DigiD (11 M authentications at scale 0.25) cannot sit in it at once.
Replay therefore works in chunks: a fresh broker per chunk (its own cluster id, i.e. its own ledger
epoch), publish up to `chunk_lines` lines, drain a worker into the store, stop the broker, go on. The
store carries everything that must survive between chunks: rollups, the ledger, and the
de-duplication state (`sno_seen`), so a copy of an event in the next chunk is still caught. With an
external `--broker` the files are published in one pass and one worker drains them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sno.ingest import (
    STDIN,
    BatchPublisher,
    IngestSummary,
    LineReader,
    SourceError,
    connect,
    open_source,
    publish_lines,
)
from sno.runtime.broker import LocalBroker, wait_until_answers
from sno.runtime.topics import ensure_topics

DEFAULT_CHUNK_LINES = 1_000_000
INPUT_AND_OUTPUT_TOPICS = (
    "sno.authentications", "sno.transactions", "sno.messages", "sno.notifications", "sno.api-requests",
    "sno.incidents", "sno.outages", "sno.maintenance", "sno.support", "sno.forecasts", "sno.deadletter",
)


@dataclass
class ReplaySummary:
    ingest: IngestSummary
    processed: int = 0
    rejected_by_worker: int = 0
    duplicates: int = 0
    chunks: int = 0
    seconds: float = 0.0
    worker_peak_rss_mb: float = 0.0
    #: the embedded ClickHouse engine's process (0 with a ClickHouse server)
    store_peak_rss_mb: float = 0.0
    broker_peak_rss_mb: float = 0.0
    first_event_seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.ingest.sent_total,
            "rejected": self.ingest.rejected_total + self.rejected_by_worker,
            "rejected_by_reason": dict(self.ingest.rejected),
            "processed": self.processed,
            "duplicates": self.duplicates,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.ingest.sent_total / self.seconds) if self.seconds else None,
            "worker_peak_rss_mb": round(self.worker_peak_rss_mb, 1),
            "store_peak_rss_mb": round(self.store_peak_rss_mb, 1),
            "broker_peak_rss_mb": round(self.broker_peak_rss_mb, 1),
        }

    def render(self) -> str:
        d = self.as_dict()
        lines = [
            f"published  {d['published']:>12,}",
            f"processed  {d['processed']:>12,}   (counted once each)",
            f"duplicates {d['duplicates']:>12,}   (same event_id within 24 h, counted once)",
            f"rejected   {d['rejected']:>12,}   (dead-lettered with a reason: sno.deadletter)",
        ]
        for reason, n in sorted(self.ingest.rejected.items()):
            lines.append(f"  {reason:<20}{n:>10,}")
        rate = d["events_per_second"] or 0
        lines.append(f"in {d['seconds']} s ({rate:,} events/s), {d['chunks']} chunk(s); peak memory: "
                     f"worker {d['worker_peak_rss_mb']} MB, embedded ClickHouse {d['store_peak_rss_mb']} MB, "
                     f"broker {d['broker_peak_rss_mb']} MB")
        return "\n".join(lines)


class Sources:
    """The input files read one block at a time, across chunk boundaries."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.streams: list[tuple[str, IO[bytes]]] = [(p, open_source(p)) for p in self.paths]
        self.index = 0
        self.reader = LineReader(self.streams[0][1]) if self.streams else None
        self.next_line = 1

    async def publish(self, publisher: BatchPublisher, summary: IngestSummary, limit: int | None,
                      bar: Any) -> bool:
        """Publish up to about `limit` lines; True when there is more to read."""
        loop = asyncio.get_running_loop()
        sent = 0
        while self.reader is not None and (limit is None or sent < limit):
            path = self.streams[self.index][0]
            try:
                chunk = await loop.run_in_executor(None, self.reader.read_chunk)
            except (OSError, EOFError, ValueError) as exc:
                raise SourceError(f"cannot read {path}: {exc}") from exc
            if chunk is None:
                self._next_file()
                continue
            publish_lines(chunk.lines, self.next_line, path, publisher, summary, chunk.oversize)
            self.next_line += len(chunk.lines)
            sent += len(chunk.lines)
            await publisher.submit_ready()
            if bar is not None:
                bar.update(len(chunk.lines))
        await publisher.drain()
        return self.reader is not None

    def _next_file(self) -> None:
        self.index += 1
        self.next_line = 1
        self.reader = LineReader(self.streams[self.index][1]) if self.index < len(self.streams) else None

    def close(self) -> None:
        for path, stream in self.streams:
            if path != STDIN:
                with contextlib.suppress(OSError):
                    stream.close()


async def _publish_chunk(sources: Sources, bootstrap: str, summary: IngestSummary, limit: int | None,
                         partitions: int, bar: Any) -> bool:
    await ensure_topics(bootstrap, INPUT_AND_OUTPUT_TOPICS, partitions)
    producer = await connect(bootstrap)
    try:
        publisher = BatchPublisher(producer)
        await publisher.prepare(INPUT_AND_OUTPUT_TOPICS)
        return await sources.publish(publisher, summary, limit, bar)
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()


def _drain(bootstrap: str, store: Path, clickhouse: str | None, partitions: int,
           broker: LocalBroker | None, summary: ReplaySummary) -> None:
    """One `sno worker --drain` process; its counters come back through the status file."""
    with tempfile.TemporaryDirectory() as tmp:
        status = Path(tmp) / "status.json"
        cmd = [sys.executable, "-m", "sno.cli", "worker", "--drain", "--broker", bootstrap,
               "--store", str(store), "--partitions", str(partitions), "--status-file", str(status)]
        if clickhouse:
            cmd += ["--clickhouse", clickhouse]
        env = {k: v for k, v in os.environ.items() if k not in ("SNO_BROKER", "SNO_CLICKHOUSE", "SNO_STORE")}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        while proc.poll() is None:
            if broker is not None and broker.rss_mb:
                summary.broker_peak_rss_mb = max(summary.broker_peak_rss_mb, broker.rss_mb)
            time.sleep(0.2)
        if proc.returncode != 0:
            raise RuntimeError(f"the worker stopped with status {proc.returncode} before it was drained")
        data = json.loads(status.read_text())
    summary.processed += data["processed"]
    summary.rejected_by_worker += data["rejected"]
    summary.duplicates += data["duplicates"]
    summary.worker_peak_rss_mb = max(summary.worker_peak_rss_mb, data.get("peak_rss_mb") or 0.0)
    summary.store_peak_rss_mb = max(summary.store_peak_rss_mb, data.get("store_peak_rss_mb") or 0.0)
    if data.get("first_event_seconds") is not None:
        summary.first_event_seconds.append(data["first_event_seconds"])


def replay(paths: Sequence[str], *, store: Path, broker: str | None = None, clickhouse: str | None = None,
           chunk_lines: int = DEFAULT_CHUNK_LINES, partitions: int = 2,
           progress: bool = False) -> ReplaySummary:
    started = time.monotonic()
    summary = ReplaySummary(ingest=IngestSummary(files=list(paths)))
    sources = Sources(paths)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" lines", unit_scale=True, file=sys.stderr, desc="published", mininterval=0.5)
    try:
        more = True
        while more:
            if broker:
                wait_until_answers(broker)
                more = asyncio.run(_publish_chunk(sources, broker, summary.ingest, None, partitions, bar))
                _drain(broker, store, clickhouse, partitions, None, summary)
            else:
                with LocalBroker() as local:
                    more = asyncio.run(_publish_chunk(sources, local.bootstrap, summary.ingest,
                                                      chunk_lines, partitions, bar))
                    summary.broker_peak_rss_mb = max(summary.broker_peak_rss_mb, local.rss_mb or 0.0)
                    _drain(local.bootstrap, store, clickhouse, partitions, local, summary)
            summary.chunks += 1
    finally:
        sources.close()
        if bar is not None:
            bar.close()
    summary.seconds = time.monotonic() - started
    summary.ingest.seconds = summary.seconds
    return summary
