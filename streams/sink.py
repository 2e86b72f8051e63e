"""The ClickHouse sink: hands batches over to the fold, writes them in order through the ledger
(streams/ledger.py: a crash at any moment neither loses nor doubles a count), and recovers each
partition it is assigned.

On start and on every partition assignment the sink claims its partitions and reads the ledger: records
up to the last `done` offset are skipped, and a `pending` write (a crash inside a write) is read again from
Kafka, exactly its ranges (all of them, also partitions assigned elsewhere), folded with the
de-duplication state as it was before, and written with the same token: what had landed is dropped by
ClickHouse, what had not lands now. Kafka's committed offsets only save re-reading; they never decide what
is counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sno.runtime.store import Store
from streams.batches import (
    MAX_MERGED_RECORDS,
    TP,
    FoldedBatch,
    Processor,
    RawRecord,
    SeenLookup,
    TableRows,
    batch_ranges,
    batch_token,
    merge_folded,
    merge_ranges,
)
from streams.faults import FaultPoint
from streams.ledger import Fenced, Ledger, RecoveryError, read_ranges, sql_string

__all__ = [  # the names the pipeline's modules and tests import from here
    "TP",
    "ClickHouseSink",
    "Fenced",
    "FoldedBatch",
    "Processor",
    "RawRecord",
    "RecoveryError",
    "SeenLookup",
    "Stats",
    "TableRows",
    "batch_ranges",
    "batch_token",
    "merge_folded",
    "merge_ranges",
    "read_ranges",
    "sql_string",
]

log = logging.getLogger(__name__)

#: batches handed over and not yet written (folding, waiting, or being written): bounds the memory
QUEUED_BATCHES = 24


@dataclass
class Stats:
    processed: int = 0
    rejected: int = 0
    duplicates: int = 0
    #: valid records re-produced to the partition that owns their key (counted there)
    forwarded: int = 0
    #: batches whose ids were looked up in the store (events far behind their partition's newest)
    lookups: int = 0
    skipped: int = 0
    batches: int = 0
    redone: int = 0
    #: records handed to the sink (including re-deliveries it skipped), and wall-clock times of the first
    #: record consumed and the last batch written: the benchmark's pipeline rate.
    records: int = 0
    first_record_at: float | None = None
    last_write_at: float | None = None
    #: CPU seconds the fold process had used when the first record came (its start-up): what the
    #: benchmark's `fold_utilisation` leaves out
    fold_cpu_seconds_at_first_record: float | None = None
    #: and when the last batch was written (a /proc read per write): the span `fold_utilisation` measures
    fold_cpu_seconds_at_last_write: float | None = None
    #: metrics (sno/runtime/metrics.py): seconds of each ledger write since the metrics last took them
    write_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))


def _fold_cpu_seconds(processor: Any) -> float | None:
    """CPU seconds of the fold process so far (None when the processor runs in this process)."""
    pids = getattr(processor, "pids", None)
    if not pids:
        return None
    from sno.runtime.proc import cpu_seconds

    return round(sum(cpu_seconds(pid) or 0 for pid in pids), 3)


def _context(exc: BaseException) -> dict[str, Any] | None:
    """The log context an error carries (a fenced write: the partition another worker claimed)."""
    context = {key: getattr(exc, key, None) for key in ("topic", "partition")}
    return {key: value for key, value in context.items() if value is not None} or None


class ClickHouseSink:
    """Owns the store while the worker runs; all ClickHouse calls go through one thread, in order."""

    def __init__(self, store: Store, processor: Processor, bootstrap: str, epoch: str = "",
                 member: str | None = None, fault: FaultPoint | None = None,
                 on_fatal: Callable[[BaseException], None] | None = None) -> None:
        self.store = store
        self.epoch = epoch
        #: the store side: claims, the fence, the ledger rows of every write, recovery's queries
        name = member or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self.ledger = Ledger(store, epoch, name, fault)
        #: told when the sink stops the worker (the worker arms its stop deadline: crash-only)
        self.on_fatal = on_fatal
        #: set on the first stop signal (begin_stop): from then on Faust takes its services down (its
        #: producer first), so a batch that fails to publish or write is not a fault of the worker's
        self.stopping = False
        #: publishes forwarded records (topic, partition, key, value), delivered; set by the app
        self.publish_forwards: Any = None
        self._seq = 0
        self._confirmed = -1
        #: the input topics' partition counts of the current generation (owner of an id: murmur2 mod it)
        self.owners: dict[str, int] = {}
        self._fold_lock = asyncio.Lock()
        self.processor = processor
        self.bootstrap = bootstrap
        self.positions: dict[TP, int] = {}
        #: partitions whose records are accepted: assigned, and recovered from the ledger
        self.assigned: set[TP] = set()
        #: partitions whose positions and de-duplication memory are valid: recovered, and claimed by no
        #: other worker since (may outlast a revocation, so that a partition kept across a rebalance is
        #: not recovered again)
        self.held: set[TP] = set()
        #: seeks a partition's consumer to an offset (set by the app); used when records arrive beyond a
        #: gap, e.g. fetched from a committed offset ahead of the ledger before the assignment's seek
        self.reseek: Any = None
        #: per partition, the gap last refused (next expected offset, first offset delivered beyond it)
        self._gaps: dict[TP, tuple[int, int]] = {}
        self.stats = Stats()
        #: records skipped as re-delivered or beyond a gap, per topic (Stats.skipped is their sum)
        self.skipped_by_topic: dict[str, int] = {}
        self.touched: set[tuple[str, str, str]] = set()
        self.in_flight = 0
        #: publishes alert state changes to `sno.alerts` (and Alertmanager); set by the app
        self.publish_alerts: Any = None
        #: publishes (key, value) dead letters to `sno.deadletter`; set by the app (at least once:
        #: a batch finished after a crash publishes its dead letters again, with the same key).
        self.publish_deadletters: Any = None
        #: highest offset per partition handed to the writer (positions: highest written)
        self.queued: dict[TP, int] = {}
        #: batches handed over: (folded and published, ranges, records), written in order
        self._handed: deque[tuple[asyncio.Future[FoldedBatch], dict[TP, tuple[int, int]], int]] = deque()
        self._handed_event = asyncio.Event()
        #: handed over and not yet written: the bound on memory and the agents' back-pressure
        self._slots = asyncio.Semaphore(QUEUED_BATCHES)
        self._published: asyncio.Future[FoldedBatch] | None = None
        self._writer: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        #: the error that stopped the worker (run_worker turns it into a non-zero exit)
        self.fatal: BaseException | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        #: folding runs in a thread of its own, one batch at a time (the processor is not thread-safe),
        #: so the event loop keeps fetching while a batch is validated and folded
        self._folder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fold")
        self._lock = asyncio.Lock()

    @property
    def member(self) -> str:
        return self.ledger.member

    @property
    def generation(self) -> int:
        """The consumer group generation of the current assignment (set by the app; for people)."""
        return self.ledger.generation

    @generation.setter
    def generation(self, value: int) -> None:
        self.ledger.generation = value

    @property
    def claim(self) -> int:
        return self.ledger.claim

    async def _ch(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def in_store_thread(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in the sink's one store thread, after the writes queued before it (the
        store is not used from two threads at once)."""
        return await self._ch(fn, *args)

    # -- assignment and recovery ---------------------------------------------------------------

    async def on_assigned(self, tps: set[TP], owners: dict[str, int] | None = None) -> None:
        """A (re)assignment: claim the partitions, then recover what is new. `owners` are the topics'
        partition counts in this generation; when one changed, ids moved between partitions, so every
        partition's memory is rebuilt from the store by owner (one owner per id, streams/README.md).

        1. Records of partitions not kept are refused from here on (`assigned` shrinks first).
        2. The claim: this worker becomes the newest owner of every assigned partition.
        3. A partition counts as kept only if this worker held it and nobody claimed it in between (a
           worker that missed a generation, e.g. stalled, must not trust its positions and memory).
        4. The others are recovered from the ledger; only then are their records accepted. Cancelled
           before that (a newer rebalance), they stay unrecovered and are recovered next time.
        """
        async with self._lock:
            await self.idle()
            moved = owners is not None and owners != self.owners
            if owners is not None:
                self.owners = dict(owners)
                await self._in_folder(self.processor.set_owners, self.owners)
            self.assigned &= tps
            taken = await self._ch(self.ledger.claim_partitions, sorted(tps)) if tps else set()
            kept = set() if moved else (self.held & tps) - taken
            for tp in self.held - kept:
                await self._in_folder(self.processor.forget, tp)
                self.positions.pop(tp, None)
                self.queued.pop(tp, None)
                self._gaps.pop(tp, None)
            self.held = set(kept)
            self.assigned = set(kept)
            new = tps - kept
            if new:
                await self._recover(new, keep=set(tps))
            self.held = set(tps)
            self.assigned = set(tps)

    async def _recover(self, tps: set[TP], keep: set[TP]) -> None:
        """Positions and de-duplication memory of `tps` from the store, and their unfinished writes
        finished; `keep` are all the partitions being assigned (the memory of the others that an
        unfinished write spans is loaded for its redo, then forgotten)."""
        state = await self._ch(self.ledger.read, sorted(tps))
        tokens: set[str] = set()
        for tp, (done_to, pending_entry) in state.items():
            if done_to is not None:
                self.positions[tp] = done_to
            if pending_entry is not None:
                tokens.add(pending_entry[0])
        # An unfinished write may span partitions assigned elsewhere (merged batches): it is finished
        # whole, with every partition's de-duplication state as it was before it, or its token would
        # drop the part of it that another worker writes under the same token.
        pending = {token: await self._ch(self.ledger.token_ranges, token) for token in sorted(tokens)}
        involved = set(tps).union(*(ranges.keys() for ranges in pending.values()))
        # The state before the unfinished write: its own offsets left out, and on partitions another
        # worker owns now, also what that worker counted after it.
        exclude: dict[TP, list[tuple[int, int]]] = {}
        for ranges in pending.values():
            for tp, (low, high) in ranges.items():
                exclude.setdefault(tp, []).append((low, high if tp in keep else 2**63 - 1))
        for topic in sorted({t for t, _ in involved}):
            mine = sorted(p for t, p in involved if t == topic)
            seen = await self._ch(self.ledger.read_seen, topic, exclude)
            await self._in_folder(self.processor.restore_seen, topic, mine, seen)
        for token, ranges in pending.items():
            await self._redo(token, ranges, keep)
        for tp in involved - keep:
            await self._in_folder(self.processor.forget, tp)

    async def _redo(self, token: str, ranges: dict[TP, tuple[int, int]], keep: set[TP]) -> None:
        """Read exactly the ranges of an unfinished batch again and write it with its own token."""
        records = await read_ranges(self.bootstrap, ranges)
        got = batch_ranges(records)
        if got != ranges:
            # Carrying on would write these records again under a new token: counted twice.
            error = RecoveryError(
                f"cannot re-read the unfinished batch {token}: the ledger has {ranges}, "
                f"the broker returned {got}"
            )
            self._fatal(error)
            raise error
        log.warning("finishing batch %s interrupted by a crash (%d records)", token, len(records))
        folded = await self._fold_then_publish(records, exclude=ranges)
        await self._write(folded, ranges, token, redo=True)
        for tp, (_low, high) in ranges.items():
            if tp in keep:
                self.queued[tp] = max(self.queued.get(tp, -1), high)
            else:
                self.positions.pop(tp, None)
        self.stats.redone += 1

    # -- the hot path --------------------------------------------------------------------------

    async def flush(self, records: Sequence[RawRecord]) -> None:
        """Hand a batch over and return at once: it is folded in the fold process while Faust takes the
        next batch (the agent never waits for a fold), its alerts and dead letters go out as soon as it
        is folded, and it is written after the batches before it. Kafka acknowledgements may therefore
        run ahead of ClickHouse; that is safe because a restart resumes from the ledger, never from them.

        A slot (QUEUED_BATCHES of them) is taken first: the back-pressure when writes fall behind; then a
        recovering assignment is waited for. Everything after that happens without a suspension point,
        so a cancelled agent either handed the batch over whole or not at all.
        """
        self._raise_if_stopping()
        if self.stats.first_record_at is None and records:
            self.stats.first_record_at = time.time()
            self.stats.fold_cpu_seconds_at_first_record = _fold_cpu_seconds(self.processor)
        self.stats.records += len(records)
        await self._slots.acquire()
        try:
            # An assignment that is recovering rebuilds the de-duplication memory from the store: a batch
            # folded meanwhile would be counted into memory that is then replaced (its ids forgotten
            # before they are written, and counted again when a copy comes). Wait for it to finish.
            while self._lock.locked():
                async with self._lock:
                    pass
            self._raise_if_stopping()
        except BaseException:
            self._slots.release()
            raise
        fresh, gaps = self._contiguous(records)
        self.stats.skipped += len(records) - len(fresh)
        if len(fresh) != len(records):  # per topic, for the metrics (a fetch's batch spans topics)
            kept = {(r[0], r[1], r[2]) for r in fresh}
            for record in records:
                if (record[0], record[1], record[2]) not in kept:
                    self.skipped_by_topic[record[0]] = self.skipped_by_topic.get(record[0], 0) + 1
        if not fresh:
            self._slots.release()
            await self._seek_back(gaps)
            return
        ranges = batch_ranges(fresh)
        for tp, (_low, high) in ranges.items():  # handed over: a re-delivery of these is skipped
            self.queued[tp] = high
        self.in_flight += 1
        published = self._fold_then_publish(fresh)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_queued())
        self._handed.append((published, ranges, len(fresh)))
        self._handed_event.set()
        await self._seek_back(gaps)  # after the hand-over: a cancellation here loses nothing handed

    async def _seek_back(self, gaps: dict[TP, int]) -> None:
        for tp, offset in gaps.items():
            await self.reseek(tp, offset)

    def _contiguous(self, records: Sequence[RawRecord]) -> tuple[list[RawRecord], dict[TP, int]]:
        """The records to hand over: of partitions this worker holds (records still buffered when a
        partition was revoked are the new owner's; here they would only be fenced), beyond what was
        handed over (re-deliveries), and without a gap. A record beyond a gap (the consumer fetched from
        the committed offset, ahead of the ledger, before the assignment's seek took effect) would make
        the records in the gap look re-delivered when they come: they would never be counted. So the
        partition's records are refused from the gap on and the consumer seeks back (returned: partition
        -> next offset wanted). A gap that the broker returns again after that seek is real (retention,
        transaction markers) and is passed."""
        fresh: list[RawRecord] = []
        refused: dict[TP, int] = {}
        expected: dict[TP, int] = {}
        for record in records:
            tp = (record[0], record[1])
            if tp not in self.assigned or tp in refused:
                continue
            offset = record[2]
            want = expected.get(tp)
            if want is None:
                want = self._handed_over(tp) + 1
            if offset < want:
                continue
            if offset > want:
                if self.reseek is not None and self._gaps.get(tp) != (want, offset):
                    self._gaps[tp] = (want, offset)
                    refused[tp] = want
                    log.warning("%s/%d: offset %d delivered while %d is next; seeking back to it",
                                tp[0], tp[1], offset, want,
                                extra={"topic": tp[0], "partition": tp[1], "offset": offset})
                    continue
                if self.reseek is not None:
                    log.info("%s/%d: offsets %d-%d are not on the broker; going on from %d",
                             tp[0], tp[1], want, offset - 1, offset,
                             extra={"topic": tp[0], "partition": tp[1], "offset": offset})
            self._gaps.pop(tp, None)
            expected[tp] = offset + 1
            fresh.append(record)
        return fresh, refused

    async def tick(self, drained: bool = False) -> int:
        """Move the alert engine's clock without a batch (the app calls this every few seconds, and the
        drain at its end with ``drained``): a unit waiting for a quiet source is decided once the idle
        timeout has passed, not when the next batch happens to come. The alerts are published after
        every earlier batch's, and stored with a token of their own content. Returns how many."""
        if self._lock.locked() or self.fatal is not None or self._error is not None:
            return 0
        self.in_flight += 1
        try:
            folded = await self._published_in_order(self._advance(drained))
            if folded.tables:
                text = ";".join(f"{a.alert_id}/{a.state}/{a.event_time}" for a in folded.alerts)
                token = "tick-" + hashlib.sha1(text.encode()).hexdigest()[:24]
                await self._ch(self.ledger.insert_tables, folded.tables, token)
            return len(folded.alerts)
        finally:
            self.in_flight -= 1

    async def _advance(self, drained: bool) -> FoldedBatch:
        async with self._fold_lock:  # after the batch being folded: the engine sees them in order
            return await self._in_folder(self.processor.advance, drained)  # type: ignore[no-any-return]

    def _raise_if_stopping(self) -> None:
        if self._error is not None:
            raise self._error
        if self.fatal is not None:
            raise RuntimeError(f"the worker is stopping: {type(self.fatal).__name__}: {self.fatal}")

    def _fold_then_publish(self, records: Sequence[RawRecord],
                           exclude: dict[TP, tuple[int, int]] | None = None) -> asyncio.Future[FoldedBatch]:
        """Fold (one at a time, in submission order: one fold thread, one fold process) and publish the
        outputs after the previous batch's, so an alert never overtakes its own history."""
        return self._published_in_order(self._fold(records, exclude or {}))

    def _published_in_order(self, fold: Any) -> asyncio.Future[FoldedBatch]:
        """Run ``fold`` (a batch's, or the clock's tick) and publish its outputs after everything handed
        over before it."""
        published = asyncio.ensure_future(self._publish_after(asyncio.ensure_future(fold), self._published))
        self._published = published
        return published

    async def _publish_after(self, fold: asyncio.Future[FoldedBatch],
                             previous: asyncio.Future[FoldedBatch] | None) -> FoldedBatch:
        try:
            if previous is not None:
                await asyncio.wait([previous])
                if previous.cancelled() or previous.exception() is not None:
                    fold.cancel()
                    raise RuntimeError("an earlier batch was not folded or published; this one is held back")
            folded = await fold
            await self._publish_outputs(folded)
        except BaseException as exc:
            self._fatal(exc)
            raise
        return folded

    async def _fold(self, records: Sequence[RawRecord], exclude: dict[TP, tuple[int, int]]) -> FoldedBatch:
        """One batch through the processor, and through the store when it asks: the lock keeps the next
        batch's fold from starting before this one's answer is in (the memory must see them in order).
        `exclude` leaves an unfinished write's own `sno_seen` rows out of the answer (recovery)."""
        async with self._fold_lock:
            self._seq += 1
            seq = self._seq
            result = await self._in_folder(self.processor.fold, records, seq, self._confirmed)
            if isinstance(result, SeenLookup):
                rows = await self._ch(self.ledger.lookup_seen, result, exclude)
                result = await self._in_folder(self.processor.resume, rows)
                self.stats.lookups += 1
            return result  # type: ignore[no-any-return]

    async def _in_folder(self, fn: Any, *args: Any) -> Any:
        """Every call on the processor, in its one thread, in order (it is not thread-safe)."""
        return await asyncio.get_running_loop().run_in_executor(self._folder, fn, *args)

    def _handed_over(self, tp: TP) -> int:
        return self.queued.get(tp, self.positions.get(tp, -1))

    async def _publish_outputs(self, folded: FoldedBatch) -> None:
        """Alerts and dead letters go out, delivered, before the batch is written: on-call hears of a
        breach without waiting for ClickHouse, and a crash before the `done` ledger row repeats them
        after the restart with the same keys (alert id; topic/partition/offset), which consumers
        de-duplicate. At least once, never lost: once `done` is written they were delivered."""
        if folded.alerts and self.publish_alerts is not None:
            await self.publish_alerts(folded.alerts)
        if folded.deadletters and self.publish_deadletters is not None:
            await self.publish_deadletters(folded.deadletters)
        if folded.forwards:
            if self.publish_forwards is None:
                raise RuntimeError("records must be forwarded to their owner partition; no publisher is set")
            await self.publish_forwards(folded.forwards)

    @property
    def refusing(self) -> bool:
        """Whether batches are refused from now on: the worker is stopping, or a batch failed."""
        return self.stopping or self.fatal is not None or self._error is not None

    def begin_stop(self) -> None:
        """The worker was asked to stop (a signal, the drain's end). Faust now stops its services, the
        producer among them, while batches may still be publishing: one refused then ("Producer service
        not yet started") is not written, so it is read again after the restart, and the stop stays a
        clean one (exit 0) instead of being reported as the worker's failure."""
        self.stopping = True

    def _fatal(self, exc: BaseException) -> None:
        """Stop the worker: a batch that cannot be folded or written must not be skipped, and carrying
        on past it would count what follows without it. A supervisor restarts the worker, which
        resumes from the ledger (crash-only). While stopping (begin_stop) a failed batch is only
        logged: nothing after it is written either, and the ledger makes the restart exact."""
        if self.fatal is None and self.stopping and not isinstance(exc, asyncio.CancelledError):
            log.warning("a batch was not published or written while the worker stops (%s: %s); "
                        "it is read again after the restart", type(exc).__name__, exc)
            return
        if self.fatal is None and not isinstance(exc, asyncio.CancelledError):
            self.fatal = exc
            log.critical("stopping the worker: %s: %s", type(exc).__name__, exc, extra=_context(exc))
            os.kill(os.getpid(), signal.SIGTERM)
            if self.on_fatal is not None:
                self.on_fatal(exc)

    def stop_worker(self, exc: BaseException) -> None:
        """Stop the worker for a cause found outside the sink (a lost Kafka cluster), as for its own."""
        self._fatal(exc)

    async def _write_queued(self) -> None:
        """Write queued batches in order; batches that queued up during a write are merged into one
        (one ledger entry per partition, one insert per table), so a busy worker writes fewer, larger
        inserts instead of falling behind."""
        while True:
            while not self._handed:
                self._handed_event.clear()
                await self._handed_event.wait()
            items = [self._handed.popleft()]
            # Everything handed over meanwhile goes into this write (up to MAX_MERGED_RECORDS): fewer,
            # larger writes leave the engine fewer parts to merge (measured: small writes doubled its
            # CPU). Alerts do not wait for it: each batch publishes as soon as it is folded.
            # (Not while a crash is injected: the fault tests count writes, and merging depends on timing.)
            merging = not self.ledger.fault.point
            while merging and self._handed and sum(i[2] for i in items) < MAX_MERGED_RECORDS:
                items.append(self._handed.popleft())
            ranges = merge_ranges([i[1] for i in items])
            try:
                results = await asyncio.gather(*(i[0] for i in items), return_exceptions=True)
                failed = next((r for r in results if isinstance(r, BaseException)), None)
                if isinstance(failed, asyncio.CancelledError):
                    failed = RuntimeError("a batch's fold or publication was cancelled")
                if failed is not None:
                    raise failed
                if self._error is None:
                    await self._write(merge_folded(list(results)), ranges, batch_token(ranges, self.epoch))
            except asyncio.CancelledError:
                raise  # the worker is stopping; what was not written is read again after the restart
            except BaseException as exc:  # the ledger makes the restart exact; carrying on would not be
                if self._error is None:
                    log.error("folding or writing a batch failed: %s: %s", type(exc).__name__, exc,
                              extra=_context(exc))
                    self._error = exc
                self._fatal(exc)
            finally:
                for _ in items:
                    self.in_flight -= 1
                    self._slots.release()

    async def idle(self) -> None:
        """Wait until no batch is being folded or waits to be written, and every write is done (or the
        writer was stopped: what it did not write is not in the ledger, so it is read again later).
        A failed batch raises here, unless the worker is stopping (begin_stop): then the revocation
        Faust runs on its way down goes through, and the batch is read again after the restart."""
        while self.in_flight and not (self._writer is not None and self._writer.done()):
            await asyncio.sleep(0.01)
        if self._error is not None and not (self.stopping and self.fatal is None):
            raise self._error

    async def on_revoked(self, revoked: Iterable[TP] = ()) -> None:
        """Before partitions move to another worker, finish every batch of them in flight here, so the
        new owner's ledger already holds them (otherwise both would write them), and refuse their
        records still buffered. Their positions and memory stay until the next assignment says whether
        they were kept."""
        await self.idle()
        self.assigned -= set(revoked)

    async def _write(self, folded: FoldedBatch, ranges: dict[TP, tuple[int, int]], token: str,
                     redo: bool = False) -> None:
        began = time.monotonic()  # metrics
        await self._ch(self.ledger.write, folded, ranges, token, redo)
        for tp, (_low, high) in ranges.items():
            self.positions[tp] = max(self.positions.get(tp, -1), high)
        self._confirmed = max(self._confirmed, folded.seq)
        self.stats.processed += folded.processed
        self.stats.rejected += folded.rejected
        self.stats.duplicates += folded.duplicates
        self.stats.forwarded += folded.forwarded
        self.stats.batches += 1
        self.stats.last_write_at = time.time()
        self.stats.fold_cpu_seconds_at_last_write = _fold_cpu_seconds(self.processor)
        self.touched |= folded.touched
        self.stats.write_seconds.append(time.monotonic() - began)  # metrics

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._folder.shutdown(wait=True)


