"""The sink when a fold fails with later batches already handed over.

The processor here is a stand-in that fails on purpose: the real one turns every bad record into a dead
letter, so a failing fold cannot be provoked with input. The store is the real embedded engine.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from sno.core.topics import TOPICS
from sno.runtime.store import Store
from streams.sink import ClickHouseSink, FoldedBatch, RawRecord

TOPIC = TOPICS["authentication"]


class FailsOnSecondBatch:
    """Folds into no rows; every batch carries one 'alert' naming its first offset; batch 2 fails."""

    def __init__(self) -> None:
        self.folded = 0

    def fold(self, records: Sequence[RawRecord], seq: int = 0, confirmed: int = -1) -> FoldedBatch:
        self.folded += 1
        if self.folded == 2:
            raise ValueError("the fold failed")
        return FoldedBatch(tables=[], processed=len(records), alerts=[records[0][2]], size=len(records))

    def resume(self, rows: Iterable[tuple[Any, ...]]) -> FoldedBatch:
        raise AssertionError("this processor never asks the store")

    def restore_seen(self, topic: str, partitions: Sequence[int], lines: bytes) -> None:
        return None

    def forget(self, tp: tuple[str, int]) -> None:
        return None


@pytest.fixture
def sigterm_caught() -> Iterator[list[int]]:
    """The sink stops the worker with SIGTERM to its own process; here that process is pytest."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: caught.append(signum))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGTERM, previous)


def _batch(first: int, n: int = 10) -> list[RawRecord]:
    return [(TOPIC, 0, offset, b"{}") for offset in range(first, first + n)]


def test_a_failed_fold_stops_the_worker_and_nothing_from_it_on_is_published_or_written(
    store_path: Path, sigterm_caught: list[int]
) -> None:
    published: list[int] = []

    async def scenario() -> None:
        with Store(None, store_path) as store:
            store.migrate()
            sink = ClickHouseSink(store, FailsOnSecondBatch(), bootstrap="unused:9092", epoch="e1")

            async def publish_alerts(alerts: list[Any]) -> None:
                published.extend(alerts)

            sink.publish_alerts = publish_alerts
            await sink.on_assigned({(TOPIC, 0)})
            for first in (0, 10, 20):  # handed over back to back: nothing waits for a fold
                await sink.flush(_batch(first))
            with pytest.raises(ValueError, match="the fold failed"):
                await asyncio.wait_for(sink.idle(), timeout=30)  # returns: nothing hangs
            with pytest.raises(ValueError, match="the fold failed"):
                await sink.flush(_batch(30))  # the worker takes nothing more
            rows = sorted(store.query("SELECT from_offset, to_offset, toString(state) FROM sno_ledger"))
            await sink.close()
        # Nothing of the failed batch or after it is counted; the first batch is written alone or, when it
        # was merged into the same write as the failed one, not at all (then read again after the restart).
        assert rows in ([], [(0, 9, "done"), (0, 9, "pending")])

    asyncio.run(scenario())
    assert published == [0]  # batch 3's alert did not overtake the failed batch 2
    assert sigterm_caught == [signal.SIGTERM]


def test_batches_handed_over_faster_than_written_are_held_at_the_slot_limit(store_path: Path) -> None:
    from streams import sink as sink_module

    class Slow(FailsOnSecondBatch):
        def fold(self, records: Sequence[RawRecord], seq: int = 0, confirmed: int = -1) -> FoldedBatch:
            return FoldedBatch(tables=[], processed=len(records), size=len(records))

    async def scenario() -> tuple[int, int]:
        with Store(None, store_path) as store:
            store.migrate()
            sink = ClickHouseSink(store, Slow(), bootstrap="unused:9092", epoch="e1")
            await sink.on_assigned({(TOPIC, 0)})
            peak = 0
            for i in range(3 * sink_module.QUEUED_BATCHES):
                await sink.flush(_batch(10 * i))
                peak = max(peak, sink.in_flight)
            await sink.idle()
            written = store.query("SELECT max(to_offset) FROM sno_ledger WHERE state = 'done'")[0][0]
            await sink.close()
            return peak, int(written)

    peak, written = asyncio.run(scenario())
    assert peak <= sink_module.QUEUED_BATCHES
    assert written == 10 * 3 * sink_module.QUEUED_BATCHES - 1


def test_a_publication_refused_while_the_worker_stops_is_not_written_and_not_reported_as_its_failure(
    store_path: Path, sigterm_caught: list[int]
) -> None:
    """On SIGTERM Faust stops its producer while batches may still be publishing; the refusal
    ("Producer service not yet started") once made a clean stop exit 3. Now the batch is simply not
    written (read again after the restart), and the stop stays the signal's (issue 17)."""

    class Folds(FailsOnSecondBatch):
        def fold(self, records: Sequence[RawRecord], seq: int = 0, confirmed: int = -1) -> FoldedBatch:
            return FoldedBatch(tables=[], processed=len(records), alerts=[records[0][2]], size=len(records))

    async def scenario() -> tuple[list[tuple[int, int, str]], BaseException | None]:
        with Store(None, store_path) as store:
            store.migrate()
            sink = ClickHouseSink(store, Folds(), bootstrap="unused:9092", epoch="e1")

            async def publish_alerts(alerts: list[Any]) -> None:
                if alerts[0] >= 10:
                    raise RuntimeError("Producer service not yet started")

            sink.publish_alerts = publish_alerts
            await sink.on_assigned({(TOPIC, 0)})
            await sink.flush(_batch(0))
            await asyncio.wait_for(sink.idle(), timeout=30)
            sink.begin_stop()  # the first stop signal
            for first in (10, 20):
                await sink.flush(_batch(first))
            await asyncio.wait_for(sink.idle(), timeout=30)  # does not raise: the revocation goes through
            rows = sorted(store.query("SELECT from_offset, to_offset, toString(state) FROM sno_ledger"))
            await sink.close()
            return rows, sink.fatal

    rows, fatal = asyncio.run(scenario())
    assert fatal is None
    assert sigterm_caught == []  # no second stop: the worker exits as the signal asked (status 0)
    assert rows == [(0, 9, "done"), (0, 9, "pending")]  # nothing from the refused batch on
