"""Publish JSON Lines event files to Kafka: read, validate, publish (`sno ingest`, reused by `sno replay`
and the benchmark).

Valid events go to their type's topic, keyed as `schemas.events.KEY_FIELDS` says, unchanged (the bytes
of the line are the message value, so the stream worker validates exactly what a production producer
would have sent). Rejected lines go to `sno.deadletter` as dead-letter records naming file and line.

Throughput comes from three choices: records are appended straight into aiokafka's record batches (one
open batch per topic-partition, partitioned by the same murmur2 hash as `producer.send`) instead of one
`send()` future per event; the file is read in 1 MiB blocks in a worker thread, one block ahead of the
validation; and the validator itself is a few microseconds per line (schemas/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from tqdm import tqdm

from schemas.deadletter import FileSource, build_deadletter
from schemas.events import DEADLETTER_TOPIC, TOPICS
from schemas.validate import MAX_LINE_BYTES, Accepted, Rejected, validate

__all__ = [
    "STDIN",
    "UNKNOWN_TYPE",
    "BatchPublisher",
    "BrokerUnavailableError",
    "IngestError",
    "IngestSummary",
    "LineChunk",
    "LineReader",
    "SourceError",
    "bootstrap_from_env",
    "connect",
    "open_source",
    "publish_files",
    "publish_lines",
    "publish_stream",
]

#: The file name that means standard input.
STDIN: Final = "-"
#: How a summary counts rejected lines whose `type` is missing or not in the contract.
UNKNOWN_TYPE: Final = "(unknown)"
#: Bytes read from a file at a time.
READ_BLOCK: Final = 1024 * 1024
#: An open batch that is not full is sent after at most this long, so a slow pipe still flows.
DEFAULT_LINGER_MS: Final = 50
#: Record batch size: large enough that a batch is one request's worth of events, small enough to
#: stay well under the broker's message size limit.
MAX_BATCH_BYTES: Final = 256 * 1024
#: How long to wait for the broker before giving up on it.
CONNECT_TIMEOUT_S: Final = 15.0
#: How many submitted batches may await acknowledgement before the reader waits for them.
MAX_UNACKED_BATCHES: Final = 256


class IngestError(Exception):
    """A failure that ends an ingest run; its message is one line for the user."""


class BrokerUnavailableError(IngestError):
    """The broker could not be reached, or stopped acknowledging what was sent."""


class SourceError(IngestError):
    """An input file could not be opened or read to its end."""


@dataclass
class IngestSummary:
    """What an ingest run did: events sent per type, lines rejected per reason and per type.

    `lines` counts the lines that were events or rejections; blank lines are counted apart.
    """

    files: list[str] = field(default_factory=list)
    lines: int = 0
    blank_lines: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_by_type: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def sent_total(self) -> int:
        return sum(self.sent.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "lines": self.lines,
            "blank_lines": self.blank_lines,
            "sent": dict(self.sent),
            "rejected": dict(self.rejected),
            "rejected_by_type": dict(self.rejected_by_type),
            "seconds": round(self.seconds, 3),
        }

    def render(self) -> str:
        """The summary printed at the end of `sno ingest`: per type sent and rejected, then reasons."""
        out = [
            f"sent {self.sent_total:,} events, rejected {self.rejected_total:,} lines "
            f"({self.lines:,} lines in {self.seconds:.2f} s, {self.lines_per_second:,.0f} lines/s)"
        ]
        types = [t for t in (*TOPICS, UNKNOWN_TYPE) if self.sent[t] or self.rejected_by_type[t]]
        if types:
            out.append(f"  {'type':<18}{'sent':>12}{'rejected':>12}")
            for event_type in types:
                out.append(
                    f"  {event_type:<18}{self.sent[event_type]:>12,}{self.rejected_by_type[event_type]:>12,}"
                )
        if self.rejected:
            out.append(f"rejected lines, by reason (sent to {DEADLETTER_TOPIC}):")
            for reason, count in self.rejected.most_common():
                out.append(f"  {reason:<18}{count:>12,}")
        return "\n".join(out)


@dataclass(slots=True)
class LineChunk:
    """Lines of one read block. `oversize` maps the index of a line that was too long to its full size
    (the line itself is then only its first `MAX_LINE_BYTES + 1` bytes). `caught_up` is true when the
    source had no more data at hand, so that partly filled batches should go out now."""

    lines: list[bytes]
    oversize: dict[int, int]
    caught_up: bool


class LineReader:
    """Splits a binary stream into lines in large blocks, never holding more than about 1 MiB of one
    line: the rest of an over-long line is counted and dropped, since it will be rejected anyway."""

    def __init__(self, stream: IO[bytes], *, block: int = READ_BLOCK, max_line: int = MAX_LINE_BYTES) -> None:
        self._stream = stream
        self._block = block
        self._max = max_line
        self._carry = b""
        self._skipping = False  # inside an over-long line, dropping bytes until its end
        self._skip_size = 0
        self._eof = False
        read1 = getattr(stream, "read1", None)
        self._read = read1 if callable(read1) else stream.read

    def read_chunk(self) -> LineChunk | None:
        """The next block's complete lines, or None after the last line."""
        if self._eof:
            return None
        data = self._read(self._block)
        if not data:
            self._eof = True
            lines: list[bytes] = []
            oversize: dict[int, int] = {}
            if self._skipping:
                oversize[0] = self._skip_size
                lines.append(self._carry)
            elif self._carry:
                lines.append(self._carry[:-1] if self._carry.endswith(b"\r") else self._carry)
            self._carry = b""
            return LineChunk(lines, oversize, True) if lines else None
        caught_up = len(data) < self._block
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                self._skip_size += len(data)
                return LineChunk([], {}, caught_up)
            self._skip_size += end
            lines, oversize = [self._carry], {0: self._skip_size}
            self._skipping = False
            self._carry = b""
            data = data[end + 1 :]
        else:
            lines, oversize = [], {}
        buffer = self._carry + data if self._carry else data
        parts = buffer.split(b"\n")
        self._carry = parts.pop()
        if b"\r" in buffer:
            parts = [p[:-1] if p.endswith(b"\r") else p for p in parts]
        base = len(lines)
        lines.extend(parts)
        for index, line in enumerate(parts):
            if len(line) > self._max:
                oversize[base + index] = len(line)
                lines[base + index] = line[: self._max + 1]
        if len(self._carry) > self._max:
            self._skipping = True
            self._skip_size = len(self._carry)
            self._carry = self._carry[: self._max + 1]
        return LineChunk(lines, oversize, caught_up)


class BatchPublisher:
    """Appends records straight into aiokafka record batches, one open batch per topic-partition.

    Call `prepare` once for every topic before `add`; `add` is synchronous and cheap, `submit_ready`
    hands full batches to the producer, `flush` sends partly filled ones, `drain` waits until the
    broker acknowledged everything (and raises `BrokerUnavailableError` if it did not).
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], BatchBuilder] = {}
        self._ready: list[tuple[str, int, BatchBuilder]] = []
        self._unacked: list[asyncio.Future[Any]] = []

    async def prepare(self, topics: Iterable[str]) -> None:
        """Fetch partitions (a broker that creates topics on first use creates them here)."""
        for topic in topics:
            if topic not in self._partitions:
                partitions = await self._producer.partitions_for(topic)
                if not partitions:
                    raise BrokerUnavailableError(f"the broker reports no partitions for topic {topic}")
                self._partitions[topic] = sorted(partitions)

    def add(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Add one record; the partition follows from the key as in any Kafka client (murmur2)."""
        partitions = self._partitions[topic]
        partition = self._partitioner(key, partitions, partitions)
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:
            self._ready.append((topic, partition, batch))
            batch = self._open[slot] = self._producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)  # the first record always fits

    async def submit_ready(self) -> None:
        """Hand full batches to the producer; waits when too many are still unacknowledged."""
        ready, self._ready = self._ready, []
        for topic, partition, batch in ready:
            await self._submit(topic, partition, batch)

    async def flush(self) -> None:
        """Send every batch, full or not."""
        await self.submit_ready()
        open_batches, self._open = self._open, {}
        for (topic, partition), batch in open_batches.items():
            if batch.record_count():
                await self._submit(topic, partition, batch)

    async def drain(self) -> None:
        """Send everything and wait until the broker has acknowledged it."""
        await self.flush()
        await self._reap(0)

    async def _submit(self, topic: str, partition: int, batch: BatchBuilder) -> None:
        batch.close()
        try:
            future = await self._producer.send_batch(batch, topic, partition=partition)
        except KafkaError as exc:
            raise BrokerUnavailableError(
                f"the broker did not accept a batch for {topic}: {_describe(exc)}"
            ) from exc
        self._unacked.append(future)
        if len(self._unacked) > MAX_UNACKED_BATCHES:
            await self._reap(MAX_UNACKED_BATCHES // 2)

    async def _reap(self, keep: int) -> None:
        while len(self._unacked) > keep:
            future = self._unacked.pop(0)
            try:
                await future
            except KafkaError as exc:
                raise BrokerUnavailableError(
                    f"the broker did not acknowledge a batch: {_describe(exc)}"
                ) from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def open_source(path: str) -> IO[bytes]:
    """Open a JSON Lines file for reading: plain, gzip (`.gz`), or standard input (`-`)."""
    if path == STDIN:
        return sys.stdin.buffer
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")  # the caller closes it
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc


async def connect(bootstrap: str, *, linger_ms: int = DEFAULT_LINGER_MS) -> AIOKafkaProducer:
    """A started producer for `bootstrap`, or `BrokerUnavailableError` with one line saying why.

    No idempotence (the embedded broker has no InitProducerId); duplicates after a retry are harmless
    because the pipeline de-duplicates on `event_id` (docs/events.md).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="sno-ingest",
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        enable_idempotence=False,
        acks=1,
        request_timeout_ms=30_000,
    )
    try:
        await asyncio.wait_for(producer.start(), CONNECT_TIMEOUT_S)
    except (KafkaError, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await producer.stop()
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
        elif isinstance(exc, KafkaConnectionError):
            reason = "connection failed"
        else:
            reason = _describe(exc)
        raise BrokerUnavailableError(
            f"cannot reach the Kafka broker at {bootstrap} ({reason}); start one with `sno broker` "
            "or check --broker / SNO_BROKER"
        ) from exc
    return producer


def publish_lines(
    lines: Sequence[bytes],
    first_line: int,
    source: str,
    publisher: BatchPublisher,
    summary: IngestSummary,
    oversize: dict[int, int] | None = None,
) -> None:
    """Validate lines and add each to its topic, or its dead-letter record to `sno.deadletter`.

    `first_line` is the line number of `lines[0]` (from 1). Blank lines are skipped and not counted as
    events. Synchronous: the caller decides when batches go out.
    """
    sent = summary.sent
    rejected = summary.rejected
    blank = 0
    for index, line in enumerate(lines):
        if not line or line.isspace():
            blank += 1
            continue
        size = oversize.get(index) if oversize else None
        result: Accepted | Rejected
        if size is None:
            result = validate(line)
        else:
            result = Rejected(
                "too_large", f"the line has {size} bytes, more than the limit of {MAX_LINE_BYTES}"
            )
        if type(result) is Accepted:
            publisher.add(result.topic, result.key, line)
            sent[result.type] += 1
        else:
            assert isinstance(result, Rejected)
            where = FileSource(source, first_line + index)
            record = build_deadletter(result, line, where, original_size=size)
            publisher.add(DEADLETTER_TOPIC, f"{source}:{where.line}".encode(), record)
            rejected[result.reason] += 1
            summary.rejected_by_type[result.type or UNKNOWN_TYPE] += 1
    summary.lines += len(lines) - blank
    summary.blank_lines += blank


async def publish_stream(
    stream: IO[bytes],
    source: str,
    publisher: BatchPublisher,
    summary: IngestSummary,
    *,
    bar: tqdm[Any] | None = None,
    linger_ms: int = DEFAULT_LINGER_MS,
) -> None:
    """Publish one open stream; reading runs in a thread one block ahead of validation."""
    loop = asyncio.get_running_loop()
    reader = LineReader(stream)
    next_line = 1
    last_flush = time.monotonic()
    pending = loop.run_in_executor(None, reader.read_chunk)
    try:
        while True:
            try:
                chunk = await pending
            except (OSError, EOFError, zlib.error, ValueError) as exc:
                raise SourceError(f"cannot read {source}: {_describe(exc)}") from exc
            if chunk is None:
                break
            pending = loop.run_in_executor(None, reader.read_chunk)
            publish_lines(chunk.lines, next_line, source, publisher, summary, chunk.oversize)
            next_line += len(chunk.lines)
            await publisher.submit_ready()
            now = time.monotonic()
            if chunk.caught_up or (now - last_flush) * 1000 >= linger_ms:
                await publisher.flush()
                last_flush = now
            if bar is not None:
                bar.update(len(chunk.lines))
    finally:
        if not pending.done():
            with contextlib.suppress(BaseException):
                await pending


async def publish_files(
    paths: Sequence[str],
    bootstrap: str,
    *,
    progress: bool,
    linger_ms: int = DEFAULT_LINGER_MS,
) -> IngestSummary:
    """Read, validate and publish JSON Lines files (`-` is standard input, `.gz` is decompressed).

    Raises `SourceError` when a file cannot be opened or read and `BrokerUnavailableError` when the
    broker cannot be reached; rejected lines are not errors (they are published as dead letters).
    Every file is opened before connecting, so a typo fails fast without touching the broker.
    """
    summary = IngestSummary(files=list(paths))
    streams: list[tuple[str, IO[bytes]]] = []
    try:
        for path in paths:
            streams.append((path, open_source(path)))
        started = time.perf_counter()
        producer = await connect(bootstrap, linger_ms=linger_ms)
        try:
            publisher = BatchPublisher(producer)
            try:
                await publisher.prepare([*TOPICS.values(), DEADLETTER_TOPIC])
            except (KafkaError, TimeoutError) as exc:
                raise BrokerUnavailableError(
                    f"cannot use the Kafka broker at {bootstrap}: {_describe(exc)}"
                ) from exc
            with tqdm(
                unit=" lines", unit_scale=True, disable=not progress, file=sys.stderr, mininterval=0.5
            ) as bar:
                for path, stream in streams:
                    await publish_stream(stream, path, publisher, summary, bar=bar, linger_ms=linger_ms)
            await publisher.drain()
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()
        summary.seconds = time.perf_counter() - started
    finally:
        for path, stream in streams:
            if path != STDIN:
                with contextlib.suppress(OSError):
                    stream.close()
    return summary


def bootstrap_from_env() -> str | None:
    """The broker from `SNO_BROKER` (docs/interfaces.md, settings), if set and not empty."""
    value = os.environ.get("SNO_BROKER", "").strip()
    return value or None
