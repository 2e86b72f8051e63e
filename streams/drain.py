"""The input topics' records, from the consumer to the sink a fetch at a time (issue 18).

Faust's own path turns every record into a `Message` and an `Event`, starts two tasks per record to
wait for the conductor's callback or a flow stop, and passes each through an agent's queue and stream:
measured ~75 µs of the event loop per record, more than the broker and the write together. The
pipeline needs none of it: the ClickHouse ledger decides what was counted and where every assignment
resumes (streams/README.md), so Faust's per-record acks, read offsets and gap bookkeeping only cost.

This replaces only the consumer's drain loop (the `Fetcher` service calls `consumer._drain_messages`).
Faust still owns everything around it: the group membership and rebalances, the flow control that
stops fetching during a rebalance, the seeks, the producer and the timers. Each fetch's records go to
`deliver` as raw tuples (topic, partition, offset, value), at most `batch_size` per call, in offset
order per partition.

A fetch that overlapped a rebalance (the flow stopped, or the group generation changed while it ran)
is dropped whole: the new assignment seeks every partition to the ledger, and a record the consumer
delivers beyond a gap is refused and read again by the sink (`ClickHouseSink._contiguous`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

log = logging.getLogger(__name__)

#: (topic, partition, offset, value bytes)
RawRecord = tuple[str, int, int, bytes]
Deliver = Callable[[list[RawRecord]], Awaitable[None]]

#: seconds a fetch waits for records (Faust's own drain loop uses the same)
FETCH_TIMEOUT = 1.0


def raw_batches(records: Any, active: Collection[Any] | None, topics: Collection[str],
                batch_size: int) -> list[list[RawRecord]]:
    """One fetch's records (aiokafka's {TP: [ConsumerRecord]}) as raw tuples, in batches of at most
    `batch_size`; partitions no longer active (paused, revoked) and other topics left out."""
    flat: list[RawRecord] = []
    for tp, consumed in records.items():
        if tp.topic not in topics or (active is not None and tp not in active):
            continue
        topic, partition = tp.topic, tp.partition
        flat.extend((topic, partition, r.offset, r.value or b"") for r in consumed)
    return [flat[i:i + batch_size] for i in range(0, len(flat), batch_size)]


async def drain_batches(consumer: Any, fetcher: Any, deliver: Deliver, topics: Collection[str],
                        batch_size: int, stopping: Callable[[], bool] = lambda: False) -> None:
    """The consumer's drain loop, a fetch at a time: runs until the consumer or the fetcher stops.

    1. Wait for the next fetch (Faust's `_wait_next_records`: it holds while the flow is stopped,
       and fetches only the active partitions).
    2. Drop it if a rebalance began meanwhile (flow stopped, or a new group generation), and seek its
       partitions back to its first records: whatever the rebalance keeps is read again.
    3. Hand its records to `deliver`, batch by batch; `deliver` may wait (the sink's back-pressure).

    `deliver` refuses batches once the worker is stopping (`stopping()`: a signal, or the sink's fatal
    error, which is the worker's exit cause and status): the loop then ends quietly, for an error
    escaping here would crash Faust's unsupervised fetcher and with it the worker's exit status.
    """
    app = consumer.app
    consumer_stopped = consumer._stopped.is_set
    fetcher_stopped = fetcher._stopped.is_set
    try:
        while not (consumer_stopped() or fetcher_stopped()):
            generation = app.consumer_generation_id
            records, active = await consumer._wait_next_records(FETCH_TIMEOUT)
            await asyncio.sleep(0)  # a fetch can return at once, again and again: let the loop run
            if not records or consumer.should_stop:
                continue
            if not consumer.flow_active or app.consumer_generation_id != generation:
                log.debug("a fetch overlapped a rebalance; its records are read again after the seek")
                await _seek_back(consumer, records)
                continue
            for batch in raw_batches(records, active, topics, batch_size):
                try:
                    await deliver(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    if stopping():
                        return  # the stop's cause is the sink's; nothing more is taken
                    raise
    except consumer.consumer_stopped_errors:
        if app.should_stop:
            return  # stopping anyway
        raise
    except asyncio.CancelledError:
        if app.should_stop:
            return
        raise


async def _seek_back(consumer: Any, records: Any) -> None:
    """Seek each still-assigned partition of a dropped fetch to its first record: records fetched after
    the new assignment's seek would otherwise wait for the sink to see the gap, which on a quiet
    partition is never. A partition no longer assigned is the new owner's to read."""
    try:
        assigned = set(consumer.assignment())
    except Exception:
        return
    for tp, consumed in records.items():
        if tp in assigned and consumed:
            try:
                await consumer.seek(tp, consumed[0].offset)
            except Exception as exc:  # a rebalance moved on: the next assignment seeks anyway
                log.debug("seeking %s back after a dropped fetch failed: %s", tp, exc)
