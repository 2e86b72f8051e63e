"""The Kafka side of `sno ingest`: a started producer (`connect`) and `BatchPublisher`, which appends records
straight into aiokafka's record batches (one open batch per topic-partition, partitioned by the same murmur2
hash as `producer.send`) instead of one `send()` future per event, and knows the first record the broker
has not acknowledged (the resume point)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder

from sno.ingest.errors import BrokerUnavailableError
from sno.runtime.partitioning import partition_for

__all__ = [
    "DEFAULT_LINGER_MS", "STALL_TIMEOUT_S", "BatchPublisher", "connect", "describe", "publish_to_partitions",
]

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


class BatchPublisher:
    """Appends records straight into aiokafka record batches, one open batch per topic-partition.

    Call `prepare` once for every topic before `add`; `add` is synchronous and cheap, `submit_ready`
    hands full batches to the producer, `flush` sends partly filled ones, `drain` waits until the
    broker acknowledged everything (and raises `BrokerUnavailableError` if it did not).
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
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
        if key is None:  # as any Kafka client: a null key goes to any partition (the worker forwards it)
            partition = partitions[random.randrange(len(partitions))]
        else:
            partition = partition_for(key, partitions)
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




async def publish_to_partitions(
    producer: AIOKafkaProducer, records: Iterable[tuple[str, int, bytes, bytes]]
) -> None:
    """Publish (topic, partition, key, value) records in aiokafka record batches, one open batch per
    topic-partition, and wait until the broker acknowledged them all, or raise
    `BrokerUnavailableError` after STALL_TIMEOUT_S without progress (a partition without a leader
    would otherwise hold a batch for the producer's whole request timeout).

    The worker forwards null-keyed records to their owner partition with it: `producer.send` made a
    future and took the accumulator's lock per record, which cost more of the worker's event loop than
    reading the record had (measured with `sno bench`'s `pipeline_unkeyed_eps`).
    """
    open_batches: dict[tuple[str, int], BatchBuilder] = {}
    sent: list[asyncio.Future[Any]] = []

    async def send(topic: str, partition: int, batch: BatchBuilder) -> None:
        batch.close()
        sent.append(await asyncio.wait_for(producer.send_batch(batch, topic, partition=partition),
                                           STALL_TIMEOUT_S))

    try:
        for topic, partition, key, value in records:
            slot = (topic, partition)
            batch = open_batches.get(slot)
            if batch is None:
                batch = open_batches[slot] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                await send(topic, partition, batch)
                batch = open_batches[slot] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)  # the first record always fits
        for (topic, partition), batch in open_batches.items():
            if batch.record_count():
                await send(topic, partition, batch)
        await asyncio.wait_for(asyncio.shield(asyncio.gather(*sent)), STALL_TIMEOUT_S)
    except (KafkaError, TimeoutError) as exc:
        raise BrokerUnavailableError(f"forwarding records failed: {_describe_wait(exc)}") from exc
    finally:
        for future in sent:  # retrieved, so a failure is not also logged as "never retrieved"
            if future.done() and not future.cancelled():
                future.exception()


def _describe_wait(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not isinstance(exc, KafkaError):
        return f"no answer within {STALL_TIMEOUT_S:.0f} s"
    return describe(exc)


def describe(exc: BaseException) -> str:
    """The first line of an exception's message (or its type), for a one-line error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__



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
            reason = describe(exc)
        raise BrokerUnavailableError(
            f"cannot reach the Kafka broker at {bootstrap} ({reason}); start one with `sno broker` "
            "or check --broker / SNO_BROKER"
        ) from exc
    return producer

