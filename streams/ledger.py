"""The ledger: what makes every write count once, whatever crashes, and only its partitions' owner's.

The protocol of one write (streams/README.md has the argument; a write is one or more merged batches):

1. `sno_ledger` gets one `pending` row per topic-partition of the write: its offset range and the write's
   token, a hash of those ranges. `sno_ledger` is not partitioned, so this insert is one part: all or
   nothing.
2. The fence: the newest claim (`sno_owners`, by the store's clock) of each of the write's partitions must
   be this worker's, or the write is abandoned here (`Fenced`) and the worker stops.
3. Every other table gets its rows with `insert_deduplication_token = <token>:<table>`; ClickHouse drops a
   repeat of the same insert, part by part, also when a month boundary splits it into several parts.
4. `sno_ledger` gets the `done` rows.

Recovery reads it back (`read`): counted is everything up to the highest `done` offset; an unfinished
write beyond that is finished with its own token unless it was fenced before it inserted anything
(`abandoned`). Every call here is synchronous and runs in the sink's one store thread, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sno.runtime.store import Store
from streams.batches import TP, FoldedBatch, RawRecord, SeenLookup, TableRows
from streams.faults import FaultPoint


class RecoveryError(RuntimeError):
    """An unfinished batch cannot be finished exactly; the worker stops rather than guess."""


class Fenced(RuntimeError):
    """Another worker claimed a partition of this write after this worker claimed it: the write is
    abandoned (not marked done) and the worker stops, so only the new owner's writes count. `topic` and
    `partition` name that partition (the log lines carry them)."""

    def __init__(self, message: str, topic: str | None = None, partition: int | None = None) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition


#: event time kept in the de-duplication memory behind a partition's newest: the contract's window plus
#: the lateness memory decides alone (sno.core.dedup.Deduplicator's defaults)
def _memory_hours() -> int:
    from datetime import timedelta

    from sno.core.dedup import Deduplicator

    d = Deduplicator()
    return int((d.window + d.lateness) / timedelta(hours=1))


class Ledger:
    """The store side of the sink: claims and the fence, the ledger rows around every write, and the
    queries recovery and de-duplication ask."""

    def __init__(self, store: Store, epoch: str, member: str, fault: FaultPoint | None = None) -> None:
        self.store = store
        self.epoch = epoch
        #: this worker's name in `sno_owners` (fencing), and the consumer group generation it holds
        self.member = member
        self.generation = 0
        #: the store's time (µs) of this worker's latest claim of its partitions: written into its ledger
        #: rows, so recovery tells a newer owner's writes from a fenced one's whatever the consumer group
        self.claim = 0
        #: crash injection for the fault tests (streams/faults.py); inert unless armed
        self.fault = fault or FaultPoint(None)

    def claim_partitions(self, tps: list[TP]) -> set[TP]:
        """Record this worker as the owner of its partitions, before it reads their ledger: a worker that
        lost them (stalled, cut off) sees this and abandons its writes. Claims are ordered by the store's
        clock, not by the group generation, which starts again in another consumer group. Returns the
        partitions whose newest claim before this one was another worker's (or nobody's)."""
        topics = sorted({t for t, _ in tps})
        rows = self.store.query(
            "SELECT topic, partition, argMax(owner, claimed_at) FROM sno_owners "
            "WHERE epoch = {epoch:String} AND topic IN {topics:Array(String)} GROUP BY topic, partition",
            {"epoch": self.epoch, "topics": topics},
        )
        ours = {(str(t), int(p)) for t, p, owner in rows if owner == self.member}
        self.store.insert(
            "sno_owners",
            [(self.epoch, t, p, self.generation, self.member) for t, p in tps],
            ("epoch", "topic", "partition", "generation", "owner"),
        )
        ((stamp,),) = self.store.query(
            "SELECT toUnixTimestamp64Micro(max(claimed_at)) FROM sno_owners "
            "WHERE epoch = {epoch:String} AND owner = {owner:String}",
            {"epoch": self.epoch, "owner": self.member},
        )
        self.claim = int(stamp)
        return set(tps) - ours

    def check_owner(self, ranges: dict[TP, tuple[int, int]]) -> None:
        """Raise Fenced when another worker claimed one of the write's partitions after this one."""
        topics = sorted({t for t, _ in ranges})
        rows = self.store.query(
            "SELECT topic, partition, argMax(owner, claimed_at), argMax(generation, claimed_at) "
            "FROM sno_owners WHERE epoch = {epoch:String} AND topic IN {topics:Array(String)} "
            "GROUP BY topic, partition",
            {"epoch": self.epoch, "topics": topics},
        )
        for topic, partition, owner, generation in rows:
            if (topic, int(partition)) in ranges and owner != self.member:
                raise Fenced(
                    f"{topic}/{partition} was claimed by {owner} (generation {generation}) while this "
                    f"worker ({self.member}, generation {self.generation}) had a write of it in flight; "
                    f"the write is abandoned and this worker stops, so that only the new owner's count",
                    str(topic), int(partition),
                )

    def token_ranges(self, token: str) -> dict[TP, tuple[int, int]]:
        rows = self.store.query(
            "SELECT topic, partition, min(from_offset), max(to_offset) FROM sno_ledger "
            "WHERE epoch = {epoch:String} AND token = {token:String} GROUP BY topic, partition",
            {"epoch": self.epoch, "token": token},
        )
        return {(str(t), int(p)): (int(a), int(b)) for t, p, a, b in rows}

    def read(self, tps: list[TP]) -> dict[TP, tuple[int | None, tuple[str, int, int] | None]]:
        """Per partition: the last offset counted, and the unfinished write to finish, if any.

        Counted is everything up to the highest `done` offset, whoever wrote it: every `done` range was
        counted once (a write finished twice is one token). An unfinished write matters only when it lies
        beyond that. Two can (the new owner's write interrupted by a crash, and a fenced worker's write
        begun after the new owner read the ledger, which inserted nothing): the newest claim's is the one
        that may have landed, so it is finished; the other then lies behind it and is never read again.
        """
        result: dict[TP, tuple[int | None, tuple[str, int, int] | None]] = {}
        for topic, partition in tps:
            where = ("epoch = {epoch:String} AND topic = {topic:String} AND partition = {partition:UInt32}")
            bound = {"epoch": self.epoch, "topic": topic, "partition": partition}
            ((done_to, done_rows),) = self.store.query(
                f"SELECT max(to_offset), count() FROM sno_ledger WHERE {where} AND state = 'done'", bound)
            beyond = "" if not done_rows else f"AND from_offset > {int(done_to)}"
            rows = self.store.query(
                f"SELECT token, min(from_offset), max(to_offset) FROM sno_ledger WHERE {where} {beyond} "
                "GROUP BY token HAVING max(state = 'done') = 0 "
                "ORDER BY max(claim) DESC, max(to_offset) DESC",
                bound,
            )
            rows = [row for row in rows if not self.abandoned(str(row[0]))][:1]
            pending_entry = (str(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else None
            result[(topic, partition)] = (int(done_to) if done_rows else None, pending_entry)
        return result

    def abandoned(self, token: str) -> bool:
        """Whether an unfinished write was fenced before it inserted anything: another worker claimed
        one of its partitions after the writer's claim and before its `pending` rows (the fence is
        checked after them, so it saw that claim). That worker read the ledger without this write and
        may have counted the same offsets itself: finishing it would count them twice. A claim after
        the pending rows read the ledger with them, so that worker finished (or will finish) this write
        under its token, and finishing it again adds nothing."""
        ((count,),) = self.store.query(
            "SELECT count() FROM sno_owners AS o INNER JOIN ("
            "  SELECT topic, partition, max(claim) AS claim, min(written_us) AS pending_at FROM sno_ledger"
            "  WHERE epoch = {epoch:String} AND token = {token:String} AND state = 'pending'"
            "  GROUP BY topic, partition"
            ") AS w ON o.topic = w.topic AND o.partition = w.partition "
            "WHERE o.epoch = {epoch:String} AND toUnixTimestamp64Micro(o.claimed_at) > w.claim "
            "AND o.claimed_at < w.pending_at",
            {"epoch": self.epoch, "token": token},
        )
        return int(count) > 0

    def read_seen(self, topic: str, exclude: dict[TP, list[tuple[int, int]]]) -> bytes:
        """The counted ids of a topic that the de-duplication memory holds (the window plus its lateness,
        behind each partition's newest), as JSONCompactEachRow lines [partition, type, event_id, event
        time in µs since the epoch], for `Processor.restore_seen` to group by the partition that owns
        each id now (after partitions were added, an id's copies may lie on its former owner). The
        offsets of an unfinished write are left out (its fold is done again from the state before it).

        Bytes, not rows: a day of ids is millions of rows at DigiD's volume, read at every assignment;
        as Python tuples, pickled from the engine's process to the worker's and on to the fold's, they
        took ~9 s of a ~11 s start (measured with py-spy on a full-scale replay)."""

        def where(alias: str) -> str:
            return f"{alias}topic = {{topic:String}} " + " ".join(
                f"AND NOT ({alias}partition = {int(p)} AND {alias}offset BETWEEN {int(a)} AND {int(b)})"
                for (t, p), spans in sorted(exclude.items()) if t == topic for a, b in spans)

        # Behind each stored partition's own newest: a partition that lags the topic keeps its memory.
        return self.store.query_lines(
            f"SELECT s.partition, s.event_type, s.event_id, toUnixTimestamp64Micro(s.event_time) "
            f"FROM sno_seen AS s INNER JOIN ("
            f"  SELECT partition, max(event_time) AS newest FROM sno_seen WHERE {where('')} "
            f"  GROUP BY partition"
            f") AS n ON s.partition = n.partition WHERE {where('s.')} "
            f"AND s.event_time >= n.newest - INTERVAL {_memory_hours()} HOUR",
            {"topic": topic},
        )

    def lookup_seen(self, lookup: SeenLookup, exclude: dict[TP, tuple[int, int]]) -> list[tuple[Any, ...]]:
        """The stored copies of the asked ids within the event-time bounds, one query per topic. Ids are
        written into the statement as quoted literals (a thousand of them would not fit in a URL's
        parameters); the skip index on `event_id` finds their parts."""
        rows: list[tuple[Any, ...]] = []
        for topic, ids, low, high in lookup.asks:
            skip = " ".join(
                f"AND NOT (partition = {int(p)} AND offset BETWEEN {int(a)} AND {int(b)})"
                for (t, p), (a, b) in sorted(exclude.items()) if t == topic
            )
            rows += self.store.query(
                "SELECT event_type, event_id, event_time FROM sno_seen WHERE topic = {topic:String} "
                "AND event_time BETWEEN {low:DateTime64(6, 'UTC')} AND {high:DateTime64(6, 'UTC')} "
                f"AND event_id IN ({', '.join(map(sql_string, ids))}) {skip}",
                {"topic": topic, "low": low, "high": high},
            )
        return rows

    def insert_tables(self, tables: Sequence[TableRows], token: str) -> None:
        for table in tables:
            payload = b"\n".join(chunk for _, chunk in table.chunks)
            if payload:
                self.store.insert_json(table.table, table.columns, payload, token=f"{token}:{table.table}")

    def write(self, folded: FoldedBatch, ranges: dict[TP, tuple[int, int]], token: str,
              redo: bool = False) -> None:
        """The ledger protocol (module docstring), with the fence between the pending rows and the
        inserts: a worker whose partitions were claimed by another since its claim writes nothing that
        counts.
        A redo is exempt: it finishes a write under that write's own token, so two workers finishing the
        same write add it once."""
        ledger_columns = ("epoch", "topic", "partition", "from_offset", "to_offset", "token", "state",
                          "claim")
        g = self.claim
        pending = [(self.epoch, t, p, a, b, token, "pending", g) for (t, p), (a, b) in sorted(ranges.items())]
        self.fault.reached("before_write")
        self.store.insert("sno_ledger", pending, ledger_columns)
        if not redo:
            self.check_owner(ranges)
        for i, table in enumerate(folded.tables):
            payload = b"\n".join(chunk for _, chunk in table.chunks)
            self.store.insert_json(table.table, table.columns, payload, token=f"{token}:{table.table}")
            if i == 0:
                self.fault.reached("mid_write")
        done = [(self.epoch, t, p, a, b, token, "done", g) for (t, p), (a, b) in sorted(ranges.items())]
        self.store.insert("sno_ledger", done, ledger_columns)
        self.fault.reached("after_write")


async def read_ranges(
    bootstrap: str, ranges: dict[TP, tuple[int, int]], timeout: float = 30.0
) -> list[RawRecord]:
    """Read exactly the given offset ranges (inclusive) with a consumer outside any group."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from sno.runtime.transport import aiokafka_options  # TLS/SASL from SNO_KAFKA_* (ops)

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", group_id=None,
        **aiokafka_options(),
    )
    await consumer.start()
    out: list[RawRecord] = []
    try:
        tps = {TopicPartition(t, p): r for (t, p), r in ranges.items()}
        consumer.assign(list(tps))
        for tp, (low, _high) in tps.items():
            consumer.seek(tp, low)
        remaining = set(tps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while remaining and loop.time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, messages in batch.items():
                low, high = tps[tp]
                for m in messages:
                    if low <= m.offset <= high:
                        out.append((tp.topic, tp.partition, m.offset, m.value or b""))
                    if m.offset >= high:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    out.sort(key=lambda r: (r[0], r[1], r[2]))
    return out


def sql_string(text: str) -> str:
    """A ClickHouse string literal: backslash and quote escaped, nothing else needed."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
