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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from tqdm import tqdm

from schemas.deadletter import DeadLetter, FileSource, deadletter_record
from schemas.events import DEADLETTER_TOPIC, TOPICS
from schemas.validate import MAX_LINE_BYTES, Accepted, Rejected, validate

__all__ = [
    "STDIN",
    "UNKNOWN_TYPE",
    "BatchPublisher",
    "BrokerUnavailableError",
    "IngestError",
    "IngestSummary",
    "Interrupted",
    "LineChunk",
    "LineReader",
    "Progress",
    "SourceError",
    "Sources",
    "bootstrap_from_env",
    "connect",
    "open_source",
    "publish_files",
    "publish_lines",
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
#: The longest ingest waits for the broker to take or acknowledge a batch. The producer's own request
#: timeout (30 s) should fail first; but with the broker killed mid-run, aiokafka was seen waiting on a
#: reconnect for good, so this bounds every wait and the run ends saying how far it got.
STALL_TIMEOUT_S: float = 45.0


class IngestError(Exception):
    """A failure that ends an ingest run; its message is one line for the user.

    `progress`, when the run had begun, says how far it got: every line before `progress.file` line
    `progress.line` was published (acknowledged by the broker), so the run can resume there.
    """

    def __init__(self, message: str, progress: Progress | None = None) -> None:
        super().__init__(message)
        self.progress = progress

    def __str__(self) -> str:
        text = super().__str__()
        return text if self.progress is None else f"{text}; {self.progress.describe()}"


class BrokerUnavailableError(IngestError):
    """The broker could not be reached, or stopped acknowledging what was sent."""


class SourceError(IngestError):
    """An input file could not be opened or read to its end."""


class Interrupted(IngestError):
    """The run was interrupted (Ctrl-C, SIGTERM) before every line was published."""


@dataclass(frozen=True)
class Progress:
    """How far a run got: `published` lines (blank ones included) were acknowledged by the broker, and
    `line` of `file` is the first that may not have been; `files` are that file and those after it.
    `file` is None when every line was published."""

    published: int
    file: str | None
    line: int | None
    files: tuple[str, ...] = ()
    #: what "published" means here: to the broker (ingest) or into the store (replay)
    verb: str = "published"
    command: str = "sno ingest"

    def describe(self) -> str:
        if self.file is None:
            return f"all {self.published:,} lines were {self.verb}"
        where = "standard input" if self.file == STDIN else self.file
        resume = " ".join([self.command, *(_quote(f) for f in self.files), "--from-line", str(self.line)])
        return (
            f"{self.published:,} lines were {self.verb}; the first line not {self.verb} is line "
            f"{self.line:,} of {where} (resume with: {resume})"
        )


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


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
        # The first record's position (`add(..., position=)`) of every batch not yet acknowledged:
        # positions only grow, so the smallest of them is where an interrupted run must resume.
        self._open_first: dict[tuple[str, int], int] = {}
        self._ready: list[tuple[str, int, BatchBuilder, int]] = []
        self._unacked: list[tuple[asyncio.Future[Any], int]] = []
        self._lost: int | None = None

    async def prepare(self, topics: Iterable[str]) -> None:
        """Fetch partitions (a broker that creates topics on first use creates them here)."""
        for topic in topics:
            if topic not in self._partitions:
                partitions = await self._producer.partitions_for(topic)
                if not partitions:
                    raise BrokerUnavailableError(f"the broker reports no partitions for topic {topic}")
                self._partitions[topic] = sorted(partitions)

    def add(self, topic: str, key: bytes | None, value: bytes, position: int = 0) -> None:
        """Add one record; the partition follows from the key as in any Kafka client (murmur2).

        `position` is where the record comes from (ingest: the line's place in the run, growing), so
        that `unpublished_from` can say where an interrupted run must resume.
        """
        partitions = self._partitions[topic]
        partition = self._partitioner(key, partitions, partitions)
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
            self._open_first[slot] = position
        if batch.append(key=key, value=value, timestamp=None) is None:
            self._ready.append((topic, partition, batch, self._open_first[slot]))
            batch = self._open[slot] = self._producer.create_batch()
            self._open_first[slot] = position
            batch.append(key=key, value=value, timestamp=None)  # the first record always fits

    def unpublished_from(self, next_position: int) -> int:
        """The first position whose record may not be acknowledged yet (`next_position` when all are).

        Everything before it is on the broker; records after it may be too (a resumed run re-sends
        them, which the pipeline's de-duplication absorbs, docs/events.md).
        """
        first = [next_position]
        first += self._open_first.values()
        first += (position for *_, position in self._ready)
        first += (
            position
            for future, position in self._unacked
            if not future.done() or future.cancelled() or future.exception() is not None
        )
        if self._lost is not None:
            first.append(self._lost)
        return min(first)

    async def submit_ready(self) -> None:
        """Hand full batches to the producer; waits when too many are still unacknowledged."""
        while self._ready:
            topic, partition, batch, position = self._ready[0]
            await self._submit(topic, partition, batch, position)
            self._ready.pop(0)

    async def flush(self) -> None:
        """Send every batch, full or not."""
        await self.submit_ready()
        for slot in list(self._open):
            batch = self._open[slot]
            if batch.record_count():
                await self._submit(*slot, batch, self._open_first[slot])
            del self._open[slot], self._open_first[slot]

    async def drain(self) -> None:
        """Send everything and wait until the broker has acknowledged it."""
        await self.flush()
        await self._reap(0)

    async def _submit(self, topic: str, partition: int, batch: BatchBuilder, position: int) -> None:
        batch.close()
        try:
            future = await asyncio.wait_for(
                self._producer.send_batch(batch, topic, partition=partition), STALL_TIMEOUT_S
            )
        except (KafkaError, TimeoutError) as exc:
            self._lose(position)
            raise BrokerUnavailableError(
                f"the broker did not accept a batch for {topic}: {_describe_wait(exc)}"
            ) from exc
        self._unacked.append((future, position))
        if len(self._unacked) > MAX_UNACKED_BATCHES:
            await self._reap(MAX_UNACKED_BATCHES // 2)

    def _lose(self, position: int) -> None:
        self._lost = position if self._lost is None else min(self._lost, position)

    async def _reap(self, keep: int) -> None:
        while len(self._unacked) > keep:
            future, position = self._unacked[0]
            try:
                await asyncio.wait_for(asyncio.shield(future), STALL_TIMEOUT_S)
            except (KafkaError, TimeoutError) as exc:
                self._lose(position)
                raise BrokerUnavailableError(
                    f"the broker did not acknowledge a batch: {_describe_wait(exc)}"
                ) from exc
            self._unacked.pop(0)


def _describe_wait(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not isinstance(exc, KafkaError):
        return f"no answer within {STALL_TIMEOUT_S:.0f} s"
    return _describe(exc)


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
    from sno.runtime.transport import aiokafka_options

    producer = AIOKafkaProducer(
        **aiokafka_options(),  # TLS and SASL from SNO_KAFKA_* (deploy/README.md), as every client
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
    *,
    position: int = 0,
    on_deadletter: Callable[[DeadLetter], None] | None = None,
    publish_deadletters: bool = True,
) -> None:
    """Validate lines and add each to its topic, or its dead-letter record to `sno.deadletter`.

    `first_line` is the line number of `lines[0]` (from 1) and `position` its place in the run (for
    `BatchPublisher.unpublished_from`). Blank lines are skipped and not counted as events. Dead-letter
    records also go to `on_deadletter` when given (`sno replay` keeps them in the store), and to the
    topic unless `publish_deadletters` is off. Synchronous: the caller decides when batches go out.
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
            publisher.add(result.topic, result.key, line, position + index)
            sent[result.type] += 1
        else:
            assert isinstance(result, Rejected)
            where = FileSource(source, first_line + index)
            record = deadletter_record(result, line, where, original_size=size)
            if on_deadletter is not None:
                on_deadletter(record)
            if publish_deadletters:
                key = f"{source}:{where.line}".encode()
                publisher.add(DEADLETTER_TOPIC, key, orjson.dumps(record), position + index)
            rejected[result.reason] += 1
            summary.rejected_by_type[result.type or UNKNOWN_TYPE] += 1
    summary.lines += len(lines) - blank
    summary.blank_lines += blank


#: What reading a file can raise: the OS, gzip (a truncated member is EOFError, bad data BadGzipFile,
#: an OSError, or zlib.error), and a stream closed under the reader (ValueError).
_READ_ERRORS: Final = (OSError, EOFError, zlib.error, ValueError)


class Sources:
    """The input files of one run, read in blocks one block ahead of validation in a worker thread:
    the one reader of `sno ingest` and `sno replay`.

    Every file is opened at once, so a typo fails before anything is sent. `from_line` skips the lines
    before it in the first file (a resumed run; line numbers stay those of the file). `publish` may be
    called again after it stopped at `limit` lines, also from another event loop (`sno replay` runs one
    per chunk): a block read ahead is kept for the next call. `progress` says how far the run got.
    """

    def __init__(self, paths: Sequence[str], *, from_line: int = 1) -> None:
        if from_line < 1:
            raise IngestError("--from-line counts from 1")
        self.paths = list(paths)
        self.streams: list[tuple[str, IO[bytes]]] = []
        try:
            for path in self.paths:
                self.streams.append((path, open_source(path)))
        except BaseException:
            self.close()
            raise
        self.index = 0
        self.reader = LineReader(self.streams[0][1]) if self.streams else None
        self.next_line = 1
        #: lines handed to the publisher, and lines of earlier calls or files, across the whole run
        self.position = 0
        self._skip = from_line - 1
        self._starts: list[tuple[int, int]] = [(0, from_line)]  # per file: (position, line) of its start
        self._ahead: LineChunk | BaseException | None = None

    async def publish(
        self,
        publisher: BatchPublisher,
        summary: IngestSummary,
        *,
        limit: int | None = None,
        bar: tqdm[Any] | None = None,
        linger_ms: int = DEFAULT_LINGER_MS,
        on_deadletter: Callable[[DeadLetter], None] | None = None,
        publish_deadletters: bool = True,
    ) -> bool:
        """Publish up to about `limit` lines (all without one) and wait until the broker acknowledged
        them; True when there is more to read.

        On a read or broker failure, raises `SourceError` / `BrokerUnavailableError` carrying the
        `progress` (what was read before a read failure is published first, when the broker allows).
        """
        loop = asyncio.get_running_loop()
        sent = 0
        last_flush = time.monotonic()
        pending: asyncio.Future[LineChunk | None] | None = None
        try:
            while self.reader is not None and (limit is None or sent < limit):
                if pending is None:
                    pending = self._read(loop)
                try:
                    chunk = await pending
                except _READ_ERRORS as exc:
                    pending = None
                    await self._fail_reading(publisher, exc)
                pending = None
                if chunk is None:
                    self._next_file()
                    continue
                if self.reader is not None and (limit is None or sent + len(chunk.lines) < limit):
                    pending = self._read(loop)  # one block ahead while this one is validated
                chunk = self._skipped(chunk)
                path = self.streams[self.index][0]
                publish_lines(
                    chunk.lines, self.next_line, path, publisher, summary, chunk.oversize,
                    position=self.position, on_deadletter=on_deadletter,
                    publish_deadletters=publish_deadletters,
                )
                self.next_line += len(chunk.lines)
                self.position += len(chunk.lines)
                sent += len(chunk.lines)
                await publisher.submit_ready()
                now = time.monotonic()
                if chunk.caught_up or (now - last_flush) * 1000 >= linger_ms:
                    await publisher.flush()
                    last_flush = now
                if bar is not None:
                    bar.update(len(chunk.lines))
            await publisher.drain()
        except BrokerUnavailableError as exc:
            raise BrokerUnavailableError(exc.args[0], self.progress(publisher)) from exc.__cause__
        except asyncio.CancelledError:
            raise Interrupted("interrupted", self.progress(publisher)) from None
        finally:
            if pending is not None:
                # Keep what was read ahead for the next call: its future belongs to this event loop.
                try:
                    self._ahead = await pending
                except BaseException as exc:
                    self._ahead = exc
        return self.reader is not None

    def _read(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[LineChunk | None]:
        ahead, self._ahead = self._ahead, None
        future: asyncio.Future[LineChunk | None] = loop.create_future()
        if isinstance(ahead, BaseException):
            future.set_exception(ahead)
        elif ahead is not None:
            future.set_result(ahead)
        else:
            assert self.reader is not None
            return loop.run_in_executor(None, self.reader.read_chunk)
        return future

    def _skipped(self, chunk: LineChunk) -> LineChunk:
        """Drop the lines before `from_line` (of the first file), counting them as already done."""
        if not self._skip:
            return chunk
        drop = min(self._skip, len(chunk.lines))
        self._skip -= drop
        self.next_line += drop
        oversize = {i - drop: size for i, size in chunk.oversize.items() if i >= drop}
        return LineChunk(chunk.lines[drop:], oversize, chunk.caught_up)

    async def _fail_reading(self, publisher: BatchPublisher, exc: BaseException) -> None:
        path = self.streams[self.index][0]
        message = f"cannot read {path}: {_describe(exc)}"
        try:
            await publisher.drain()  # what was read before the failure is good: publish it
        except BrokerUnavailableError as broker:
            progress = self.progress(publisher)
            raise BrokerUnavailableError(f"{message}, and {broker.args[0]}", progress) from exc
        raise SourceError(message, self.progress(publisher)) from exc

    def progress(self, publisher: BatchPublisher | None = None, *, at: int | None = None,
                 verb: str = "published", command: str = "sno ingest") -> Progress:
        """How far the run got: every line before the first one the broker may not have (or, without a
        publisher, before the next one to read; or before position `at`). `published` counts this
        run's lines only (not those skipped by `from_line`)."""
        if at is not None:
            first = at
        else:
            first = self.position if publisher is None else publisher.unpublished_from(self.position)
        # The file holding position `first`: the last one that starts at or before it (an empty file
        # starts where the next one does).
        index = max(i for i, (start, _) in enumerate(self._starts) if start <= first)
        if index >= len(self.paths):
            return Progress(first, None, None, (), verb, command)
        start, line = self._starts[index]
        return Progress(first, self.paths[index], line + first - start, tuple(self.paths[index:]), verb,
                        command)

    def _next_file(self) -> None:
        self.index += 1
        self.next_line = 1
        self._skip = 0
        self._starts.append((self.position, 1))
        self.reader = LineReader(self.streams[self.index][1]) if self.index < len(self.streams) else None

    def close(self) -> None:
        for path, stream in self.streams:
            if path != STDIN:
                with contextlib.suppress(OSError):
                    stream.close()


async def publish_files(
    paths: Sequence[str],
    bootstrap: str,
    *,
    progress: bool,
    linger_ms: int = DEFAULT_LINGER_MS,
    from_line: int = 1,
) -> IngestSummary:
    """Read, validate and publish JSON Lines files (`-` is standard input, `.gz` is decompressed).

    Raises `SourceError` when a file cannot be opened or read, `BrokerUnavailableError` when the broker
    cannot be reached or stops acknowledging, and `Interrupted` when cancelled; once publishing has
    begun, each carries the `Progress` to resume from (`from_line`). Rejected lines are not errors
    (they are published as dead letters). Every file is opened before connecting, so a typo fails
    fast without touching the broker.
    """
    summary = IngestSummary(files=list(paths))
    sources = Sources(paths, from_line=from_line)
    try:
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
                await sources.publish(publisher, summary, bar=bar, linger_ms=linger_ms)
        finally:
            with contextlib.suppress(Exception):  # a lost broker must not hold the exit either
                await asyncio.wait_for(producer.stop(), 10)
        summary.seconds = time.perf_counter() - started
    except asyncio.CancelledError:  # before publishing began (connecting): nothing was sent
        raise Interrupted("interrupted", sources.progress()) from None
    finally:
        sources.close()
    return summary


def bootstrap_from_env() -> str | None:
    """The broker from `SNO_BROKER` (docs/interfaces.md, settings), if set and not empty."""
    value = os.environ.get("SNO_BROKER", "").strip()
    return value or None
