"""`sno replay`: publish files and drain a worker, end to end, in bounded memory.

The embedded broker keeps every record in memory (measured: ~400 MB after 1.2 M events) and has no
DeleteRecords, so a month of DigiD (11 M authentications at scale 0.25) cannot sit in it at once.
Replay therefore works in chunks: a fresh broker per chunk (its own cluster id, i.e. its own ledger
epoch), publish up to `chunk_lines` lines, drain a worker into the store, stop the broker, go on; the
next chunk is published to a broker of its own while the worker drains the one before (`_replay_chunks`).
The store carries everything that must survive between chunks: rollups, the ledger, and the
de-duplication state (`sno_seen`), so a copy of an event in the next chunk is still caught. With an
external `--broker` the files are published in one pass and one worker drains them.

Lines that `sno ingest`'s validation rejects never reach a topic the worker reads, and a temporary
broker's `sno.deadletter` is gone with it; so replay keeps them where the worker keeps its own: in the
store's `sno_deadletter` (topic `file:<FILE>`, partition 0, offset = the line number) and
`sno_deadletter_daily`, written after each chunk's drain (when the worker has released the store),
with an insert token derived from their content so that replaying the same file again adds nothing.
With an external `--broker` they also go to its `sno.deadletter`, as with `sno ingest`.

Files are read by `sno.ingest.Sources`, the same reader as `sno ingest`: a file that cannot be read to
its end (a truncated gzip) stops the run after what was read before has been processed into the store,
saying which line to resume from (`--from-line`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from schemas.deadletter import DeadLetter
from sno.core.topics import DEADLETTER_TOPIC, INPUT_TOPICS
from sno.ingest import BatchPublisher, IngestError, IngestSummary, Progress, SourceError, Sources, connect
from sno.ingest.errors import BrokerUnavailableError, Interrupted
from sno.ingest.publisher import describe
from sno.runtime.broker import LocalBroker, wait_until_answers
from sno.runtime.children import preexec
from sno.runtime.topics import ensure_topics

DEFAULT_CHUNK_LINES = 1_000_000
INPUT_AND_OUTPUT_TOPICS = (*INPUT_TOPICS, DEADLETTER_TOPIC)


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
    #: where the dead letters are: the store, and an external broker's topic when there was one
    deadletters_at: str = "sno_deadletter in the store"

    def note_brokers(self, brokers: Sequence[LocalBroker]) -> None:
        """Keep the peak of the embedded brokers' memory together (two are alive while one chunk is
        drained and the next published)."""
        self.broker_peak_rss_mb = max(self.broker_peak_rss_mb, sum(b.rss_mb or 0.0 for b in brokers))

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
            f"rejected   {d['rejected']:>12,}   (dead-lettered with a reason: {self.deadletters_at})",
        ]
        for reason, n in sorted(self.ingest.rejected.items()):
            lines.append(f"  {reason:<20}{n:>10,}")
        rate = d["events_per_second"] or 0
        lines.append(f"in {d['seconds']} s ({rate:,} events/s), {d['chunks']} chunk(s); peak memory: "
                     f"worker {d['worker_peak_rss_mb']} MB, embedded ClickHouse {d['store_peak_rss_mb']} MB, "
                     f"broker {d['broker_peak_rss_mb']} MB")
        return "\n".join(lines)


class DeadLetterSpool:
    """The dead letters of one chunk, on disk until the worker has released the store (bounded memory:
    a file of bad lines can have millions, each up to 256 KiB)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "deadletters.jsonl"
        self._out: IO[bytes] = self.path.open("wb")
        self.count = 0

    def add(self, record: DeadLetter) -> None:
        self._out.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def batches(self, size: int = 2_000) -> Iterator[list[DeadLetter]]:
        self._out.flush()
        with self.path.open("rb") as lines:
            batch: list[DeadLetter] = []
            for line in lines:
                batch.append(orjson.loads(line))
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def reset(self) -> None:
        self._out.close()
        self._out = self.path.open("wb")
        self.count = 0

    def close(self) -> None:
        self._out.close()


DEADLETTER_COLUMNS = ("topic", "partition", "offset", "reason", "message", "original", "received_at")


def deadletter_rows(records: Sequence[DeadLetter]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`sno_deadletter` rows (topic `file:<FILE>`, partition 0, offset = line) and `sno_deadletter_daily`
    rows of file dead letters, as the worker writes its own (streams/processor.py)."""
    rows: list[tuple[Any, ...]] = []
    daily: dict[tuple[Any, ...], int] = {}
    for record in records:
        source = record["source"]
        topic = f"file:{source['file']}"
        at = datetime.fromisoformat(record["rejected_at"].replace("Z", "+00:00")).replace(tzinfo=None)
        rows.append(
            (topic, 0, int(source["line"]), record["reason"], record["message"], record["original"], at)
        )
        key = (at.date(), topic, record["reason"])
        daily[key] = daily.get(key, 0) + 1
    return rows, [(*k, n) for k, n in sorted(daily.items())]


def store_deadletters(spool: DeadLetterSpool, store: Path, clickhouse: str | None) -> None:
    """Write a chunk's file dead letters into the store the worker just released.

    The token of each insert is a digest of what it holds without the time of rejection, so the same
    lines replayed again are dropped by ClickHouse rather than counted again per day.
    """
    if not spool.count:
        return
    from streams.settings import PipelineSettings
    from streams.worker import open_worker_store

    target = open_worker_store(PipelineSettings(broker="", clickhouse=clickhouse, store=store))
    try:
        target.migrate()
        for batch in spool.batches():
            digest = hashlib.sha1()
            for record in batch:
                source = record["source"]
                digest.update(f"{source['file']}\0{source['line']}\0{record['reason']}\0".encode())
                digest.update(base64.b64decode(record["original"]))
            token = f"replay-deadletters:{digest.hexdigest()[:24]}"
            rows, daily = deadletter_rows(batch)
            target.insert("sno_deadletter", rows, DEADLETTER_COLUMNS, token=f"{token}:sno_deadletter")
            target.insert("sno_deadletter_daily", daily, ("day", "topic", "reason", "records"),
                          token=f"{token}:sno_deadletter_daily")
    finally:
        target.close()
    spool.reset()


async def _publish_chunk(sources: Sources, bootstrap: str, summary: IngestSummary, limit: int | None,
                         partitions: int, bar: Any, spool: DeadLetterSpool, external: bool) -> bool:
    await ensure_topics(bootstrap, INPUT_AND_OUTPUT_TOPICS, partitions)
    producer = await connect(bootstrap)
    try:
        publisher = BatchPublisher(producer)
        await publisher.prepare(INPUT_AND_OUTPUT_TOPICS)
        return await sources.publish(publisher, summary, limit=limit, bar=bar, on_deadletter=spool.add,
                                     publish_deadletters=external)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)


def _worker_command(bootstrap: str, store: Path, clickhouse: str | None, partitions: int,
                    status: Path) -> list[str]:
    cmd = [sys.executable, "-m", "sno.cli", "worker", "--drain", "--broker", bootstrap,
           "--store", str(store), "--partitions", str(partitions), "--status-file", str(status)]
    if clickhouse:
        cmd += ["--clickhouse", clickhouse]
    return cmd


class _Drain:
    """One `sno worker --drain` process, started and then waited for, so that replay can publish the
    next chunk while this one is processed. Its counters come back through the status file."""

    def __init__(self, bootstrap: str, store: Path, clickhouse: str | None, partitions: int,
                 folder: Path) -> None:
        self.status = folder / "status.json"
        env = {k: v for k, v in os.environ.items() if k not in ("SNO_BROKER", "SNO_CLICKHOUSE", "SNO_STORE")}
        # The worker dies with replay, however replay dies: a killed replay must not leave a worker
        # holding the store (sno/runtime/children.py).
        self.proc = subprocess.Popen(_worker_command(bootstrap, store, clickhouse, partitions, self.status),
                                     env=env, stdout=subprocess.DEVNULL, preexec_fn=preexec())

    def wait(self, summary: ReplaySummary, sample: Any = None) -> None:
        while self.proc.poll() is None:
            if sample is not None:
                sample()
            time.sleep(0.2)
        if self.proc.returncode != 0:
            raise RuntimeError(f"the worker stopped with status {self.proc.returncode} before it was drained")
        data = json.loads(self.status.read_text())
        summary.processed += data["processed"]
        summary.rejected_by_worker += data["rejected"]
        summary.duplicates += data["duplicates"]
        summary.worker_peak_rss_mb = max(summary.worker_peak_rss_mb, data.get("peak_rss_mb") or 0.0)
        summary.store_peak_rss_mb = max(summary.store_peak_rss_mb, data.get("store_peak_rss_mb") or 0.0)
        if data.get("first_event_seconds") is not None:
            summary.first_event_seconds.append(data["first_event_seconds"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _drain(bootstrap: str, store: Path, clickhouse: str | None, partitions: int,
           broker: LocalBroker | None, summary: ReplaySummary) -> None:
    """Process everything on `bootstrap` into the store with one worker, and wait for it."""
    with tempfile.TemporaryDirectory() as tmp:
        drain = _Drain(bootstrap, store, clickhouse, partitions, Path(tmp))
        try:
            drain.wait(summary, (lambda: summary.note_brokers([broker])) if broker is not None else None)
        finally:
            drain.kill()


@dataclass
class _Chunk:
    """One chunk on its own embedded broker: published, waiting for or in its drain."""

    broker: LocalBroker
    spool: DeadLetterSpool
    folder: Path
    #: the position in the sources before its first line: everything before it is in the store once
    #: the chunks before this one are drained
    start: int
    more: bool
    #: a file that broke off in this chunk: raised once what was read before it is in the store
    failure: SourceError | None = None

    def close(self) -> None:
        self.broker.stop()
        self.spool.close()


def _publish_local_chunk(sources: Sources, summary: ReplaySummary, chunk_lines: int, partitions: int,
                         bar: Any, folder: Path) -> _Chunk:
    """A fresh embedded broker with the next `chunk_lines` lines published to it.

    A failure to publish is raised with replay's progress from this chunk's first line (what ingest's
    own progress counts as published sat only on this broker, which is gone); a file that breaks off
    is not a failure here: the chunk keeps it and is processed up to the break.
    """
    folder.mkdir()
    start = sources.position
    local = LocalBroker()
    spool: DeadLetterSpool | None = None
    try:
        local.start()
        spool = DeadLetterSpool(folder)
        chunk = _Chunk(broker=local, spool=spool, folder=folder, start=start, more=False)
        try:
            chunk.more = asyncio.run(_publish_chunk(sources, local.bootstrap, summary.ingest, chunk_lines,
                                                    partitions, bar, spool, external=False))
        except SourceError as exc:  # what was read before is published: process it
            chunk.failure = exc
    except BaseException as exc:
        local.stop()
        if spool is not None:
            spool.close()
        if isinstance(exc, IngestError):
            raise type(exc)(exc.args[0], _progress(sources, start)) from exc
        if isinstance(exc, Exception):  # the embedded broker did not start or answer (BrokerError, Kafka)
            raise BrokerUnavailableError(f"the embedded broker failed: {describe(exc)}",
                                         _progress(sources, start)) from exc
        raise
    summary.note_brokers([local])
    return chunk


def _replay_external(sources: Sources, summary: ReplaySummary, *, broker: str, store: Path,
                     clickhouse: str | None, partitions: int, bar: Any, folder: Path) -> None:
    """Everything published to an external broker in one pass, then one worker drains it."""
    wait_until_answers(broker)
    spool = DeadLetterSpool(folder)
    try:
        failure: SourceError | None = None
        start = sources.position  # everything before it is in the store
        try:
            asyncio.run(_publish_chunk(sources, broker, summary.ingest, None, partitions, bar, spool,
                                       external=True))
        except SourceError as exc:  # what was read before is published: process it
            failure = exc
        except IngestError as exc:
            raise IngestError(exc.args[0], _progress(sources, start)) from exc
        _drain(broker, store, clickhouse, partitions, None, summary)
        store_deadletters(spool, store, clickhouse)
        summary.chunks += 1
        if failure is not None:
            raise SourceError(failure.args[0], _progress(sources, sources.position)) from failure
    finally:
        spool.close()


def _replay_chunks(sources: Sources, summary: ReplaySummary, *, store: Path, clickhouse: str | None,
                   chunk_lines: int, partitions: int, bar: Any, folder: Path) -> None:
    """Chunks on embedded brokers, the next one published while a worker drains the one before.

    Publishing (reading, validating, producing) and processing each take about one core; one after
    the other, a chunk's publishing left the second core idle while its worker drained, and the other
    way round. Now:

    1. Publish chunk 0 to a fresh broker.
    2. Start a worker draining chunk N; meanwhile publish chunk N+1 to another fresh broker.
    3. Wait for the worker; write chunk N's file dead letters into the store it released; stop its
       broker. Workers never overlap: the store has one writer, and a copy in chunk N+1 of an event
       of chunk N is caught because chunk N's de-duplication state is in the store before chunk N+1's
       worker starts.
    4. Go on with chunk N+1 until the files end.

    Two brokers hold a chunk each at the peak (`broker_peak_rss_mb` is their sum). A broker failure
    while chunk N+1 is published is raised once chunk N is in the store, with the progress from
    chunk N+1's first line; an interruption (Ctrl-C reaches the worker too) at once, with the progress
    from chunk N's; a file that breaks off is processed up to the break first.
    """
    current: _Chunk | None = _publish_local_chunk(sources, summary, chunk_lines, partitions, bar,
                                                  folder / "chunk-0")
    number = 0
    while current is not None:
        following: _Chunk | None = None
        drain: _Drain | None = None
        try:
            drain = _Drain(current.broker.bootstrap, store, clickhouse, partitions, current.folder)
            broken: IngestError | None = None
            if current.more:
                try:
                    following = _publish_local_chunk(sources, summary, chunk_lines, partitions, bar,
                                                     folder / f"chunk-{number + 1}")
                except Interrupted as exc:  # Ctrl-C reached the worker too: chunk N is not in the store
                    raise Interrupted(exc.args[0], _progress(sources, current.start)) from exc
                except IngestError as exc:  # raised once chunk N is in the store (its progress says so)
                    broken = exc
            live = [current.broker] if following is None else [current.broker, following.broker]
            summary.note_brokers(live)
            drain.wait(summary, functools.partial(summary.note_brokers, live))
            current.broker.stop()
            store_deadletters(current.spool, store, clickhouse)
            summary.chunks += 1
            if broken is not None:
                raise broken
            if current.failure is not None:
                raise SourceError(current.failure.args[0],
                                  _progress(sources, sources.position)) from current.failure
        except BaseException:
            if drain is not None:
                drain.kill()
            if following is not None:
                following.close()
            raise
        finally:
            current.close()
        current, number = following, number + 1


def replay(paths: Sequence[str], *, store: Path, broker: str | None = None, clickhouse: str | None = None,
           chunk_lines: int = DEFAULT_CHUNK_LINES, partitions: int = 2,
           progress: bool = False, from_line: int = 1) -> ReplaySummary:
    """Publish and process `paths` into the store, chunk by chunk; see the module docstring.

    Raises `IngestError` (with the progress to resume from: lines processed into the store) when a
    file cannot be read to its end or the broker fails, and RuntimeError when a worker fails.
    """
    started = time.monotonic()
    summary = ReplaySummary(ingest=IngestSummary(files=list(paths)))
    if broker:
        summary.deadletters_at = f"sno_deadletter in the store and sno.deadletter on {broker}"
    sources = Sources(paths, from_line=from_line)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" lines", unit_scale=True, file=sys.stderr, desc="published", mininterval=0.5)
    try:
        with tempfile.TemporaryDirectory(prefix="sno-replay-") as tmp:
            if broker:
                _replay_external(sources, summary, broker=broker, store=store, clickhouse=clickhouse,
                                 partitions=partitions, bar=bar, folder=Path(tmp))
            else:
                _replay_chunks(sources, summary, store=store, clickhouse=clickhouse, chunk_lines=chunk_lines,
                               partitions=partitions, bar=bar, folder=Path(tmp))
    finally:
        sources.close()
        if bar is not None:
            bar.close()
    summary.seconds = time.monotonic() - started
    summary.ingest.seconds = summary.seconds
    return summary


def _progress(sources: Sources, position: int) -> Progress:
    """Replay's progress: lines processed into the store (those before `position`), and how to resume."""
    return sources.progress(at=position, verb="processed into the store", command="sno replay")
