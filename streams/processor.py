"""Folding a batch of raw records into ClickHouse rows: validate, de-duplicate, add contributions.

Everything SNO-specific comes from the core (`sno.core.buckets.contributions`, `sno.core.dedup`) and the
contract (`schemas.validate`); this module only routes records and keeps the per-partition
de-duplication index. It is deterministic for the same records and index, which is what lets the sink
finish an interrupted batch with the same insert tokens (streams/README.md).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.deadletter import TopicSource, deadletter_record
from schemas.validate import Rejected, validate
from sno.core.alerts import ALERT_COLUMNS, Alert, AlertEngine
from sno.core.buckets import FAMILIES, add_into, contributions
from sno.core.calendar import Month
from sno.core.catalogue import Catalogue, load_catalogue
from sno.core.dedup import Deduplicator, event_time, id_digest, utc_from_key
from sno.core.intervals import instant_key
from sno.core.snapshots import SNAPSHOT_TYPES
from sno.runtime.partitioning import owner_partition
from streams.batches import TP, FoldedBatch, RawRecord, SeenLookup, TableRows

#: dead-letter reason for a valid event the fold could not handle (a bug or an unforeseen value; the
#: event is kept in full in the dead letters and nothing of it is counted)
UNPROCESSABLE = "unprocessable"
log = logging.getLogger(__name__)



class EventProcessor:
    """Folds batches for the sink; holds the per-partition de-duplication memory and the alert engine.

    A batch is folded in one call, or in two when some of its events lie too far behind their
    partition's newest event time for memory to decide alone: :meth:`fold` then returns a
    :class:`SeenLookup` naming the ids to ask the store about, and :meth:`resume` finishes the batch
    with the store's answer (one query per batch; a live-ordered stream never needs one).
    """

    def __init__(self, catalogue: Catalogue | None = None, alerts: AlertEngine | None = None,
                 owners: int | dict[str, int] = 0) -> None:
        self.catalogue = catalogue or load_catalogue()
        #: judges breaches by event time as events pass (sno/core/ALERTS.md); None: no alerts
        self.alerts = alerts
        #: per topic, the partitions that own ids (its partition count: murmur2 of the key modulo it, as
        #: any Kafka client partitions); a topic missing here, or an int 0, forwards nothing
        self.owners: dict[str, int] | int = owners
        #: one de-duplicator per partition: with forwarding, every copy of an id is counted there
        self.seen: dict[TP, Deduplicator] = {}
        #: a batch waiting for the store's answer to its SeenLookup
        self._waiting: _Pass | None = None

    def restore_seen(self, topic: str, partitions: Sequence[int], lines: bytes) -> None:
        """Rebuild the de-duplication memory of `partitions` of `topic` from `Ledger.read_seen`'s lines
        ([partition, type, event_id, event time µs], one JSON array each), each id on the partition that
        owns it now (its stored partition when the owner count is 1 or unknown). Every assigned partition
        gets a fresh memory, also one without rows. Line by line, straight into the memories: at a day of
        DigiD ids (~1.5 M lines) a list of the lines or of row tuples would be hundreds of MB more."""
        memories = {p: Deduplicator() for p in partitions}
        for line in io.BytesIO(lines):
            if line.isspace():
                continue
            partition, kind, event_id, at = orjson.loads(line)
            owner = self.owner_of(topic, event_id.encode("utf-8", "surrogatepass"))
            memory = memories.get(partition if owner is None else owner)
            if memory is not None:
                # stored, so confirmed (batch -1), as Deduplicator.restore counts them
                memory.count(id_digest(kind, event_id), int(at), -1)
        for partition, memory in memories.items():
            self.seen[(topic, partition)] = memory

    def forget(self, tp: TP) -> None:
        self.seen.pop(tp, None)
        if self.alerts is not None:
            self.alerts.release(tp)  # a revoked partition no longer holds the alert watermark back

    def set_owners(self, counts: dict[str, int]) -> None:
        """The topics' partition counts as the group's assignment sees them (refreshed at every
        rebalance, so partitions added to a live topic move ownership for every worker at once)."""
        self.owners = dict(counts)

    def owner_of(self, topic: str, key: bytes) -> int | None:
        owners = self.owners if isinstance(self.owners, int) else self.owners.get(topic, 0)
        return owner_partition(key, owners) if owners > 1 else None

    def fold(self, records: Sequence[RawRecord], seq: int = 0,
             confirmed: int = -1) -> FoldedBatch | SeenLookup:
        """Validate, route and de-duplicate a batch, and fold it into rows serialised for ClickHouse.

        1. Batches up to ``confirmed`` are stored: their ids may leave memory once old enough.
        2. Every record is validated; a rejected one becomes a dead letter where it landed.
        3. A valid record on a partition that does not own its key is forwarded to its owner and
           nothing else (counted there, once; a copy made by a crash is a duplicate the owner drops).
        4. Events too far behind their partition's newest need the store: a SeenLookup is returned
           and :meth:`resume` goes on with the answer.
        """
        for dedup in self.seen.values():
            dedup.confirm(confirmed)
        work = _Pass(FoldedBatch(tables=[], size=len(records), seq=seq), [], datetime.now(UTC))
        batch = work.batch
        for topic, partition, offset, raw in sorted(records, key=lambda r: (r[0], r[1], r[2])):
            result = validate(raw, topic)
            if isinstance(result, Rejected):
                self._dead_letter(work, result, topic, partition, offset, raw)
                continue
            owner = self.owner_of(topic, result.key)
            if owner is not None and owner != partition:
                batch.forwards.append((topic, owner, result.key, raw))
                batch.forwarded += 1
                batch.outcomes[(topic, "forwarded")] = batch.outcomes.get((topic, "forwarded"), 0) + 1
                continue
            record = result.record
            kind = result.type
            try:
                # Everything that could fail on a strange but valid event is computed before any state
                # changes, so a failure dead-letters the event and leaves the batch consistent.
                if kind in SNAPSHOT_TYPES:
                    months = {Month.of(v) for v in record.values() if isinstance(v, datetime)}
                    item = _Item(topic, partition, offset, raw, record, kind, months, [], None, 0, 0)
                else:
                    at = event_time(record)
                    t = instant_key(at)
                    item = _Item(topic, partition, offset, raw, record, kind, {Month.of(at)},
                                 contributions(record, self.catalogue), at, t,
                                 id_digest(kind, record["event_id"]))
            except Exception as exc:
                why = Rejected(
                    UNPROCESSABLE, f"the event could not be folded ({type(exc).__name__}: {exc})", None, kind
                )
                # a valid event the fold cannot handle is a bug or an unforeseen value: people must look
                log.warning("%s/%d offset %d: a valid %s event could not be folded and is dead-lettered "
                            "(%s): %s: %s", topic, partition, offset, kind, UNPROCESSABLE,
                            type(exc).__name__, exc,
                            extra={"topic": topic, "partition": partition, "offset": offset})
                self._dead_letter(work, why, topic, partition, offset, raw)
                continue
            work.items.append(item)
        ask: dict[str, set[str]] = {}
        bounds: dict[str, list[int]] = {}
        # An event is late against the newest *before* it, in the order memory sees them (offsets): the
        # batch's own newest would make every in-order event at a batch's start look late (a batch may
        # span hours of event time) and ask the store for nothing.
        running: dict[TP, int] = {}
        for item in work.items:
            if item.at is None:
                continue
            tp = (item.topic, item.partition)
            dedup = self.seen.get(tp)
            if dedup is None:
                dedup = self.seen[tp] = Deduplicator()
            latest = running.get(tp, dedup.newest)
            running[tp] = item.t if latest is None else max(latest, item.t)
            if dedup.needs_lookup(item.t, latest):
                ask.setdefault(item.topic, set()).add(item.record["event_id"])
                low, high = bounds.setdefault(item.topic, [item.t, item.t])
                bounds[item.topic] = [min(low, item.t), max(high, item.t)]
        if ask:
            window = Deduplicator().window // timedelta(microseconds=1)
            self._waiting = work
            return SeenLookup(
                [(topic, sorted(ids), utc_from_key(bounds[topic][0] - window),
                  utc_from_key(bounds[topic][1] + window)) for topic, ids in sorted(ask.items())]
            )
        return self._finish(work, {})

    def resume(self, rows: Iterable[tuple[str, str, datetime]]) -> FoldedBatch:
        """Finish the batch that asked a SeenLookup, with the store's copies (type, event_id, time)."""
        work, self._waiting = self._waiting, None
        if work is None:
            raise RuntimeError("resume without a batch waiting for the store")
        known: dict[int, list[int]] = {}
        for kind, event_id, at in rows:
            t = instant_key(at if at.tzinfo else at.replace(tzinfo=UTC))
            known.setdefault(id_digest(kind, event_id), []).append(t)
        return self._finish(work, known)

    def _finish(self, work: _Pass, known: dict[int, list[int]]) -> FoldedBatch:
        batch = work.batch
        now = work.now
        sums: dict[str, dict[tuple[Any, ...], list[int]]] = {}
        snapshots: list[tuple[Any, ...]] = []
        seen_rows: list[tuple[Any, ...]] = []
        engine = self.alerts
        newest: datetime | None = None
        #: (topic, outcome) -> records, for the metrics (the drain's batches span topics)
        outcomes = batch.outcomes
        touched: set[tuple[str, str, Month]] = set()
        for item in work.items:
            record = item.record
            kind = item.kind
            service, environment = record["service"], record["environment"]
            for m in item.months:
                touched.add((service, environment, m))
            if kind in SNAPSHOT_TYPES:
                batch.processed += 1
                outcomes[(item.topic, "counted")] = outcomes.get((item.topic, "counted"), 0) + 1
                snapshots.append(
                    (kind, service, environment, record[SNAPSHOT_TYPES[kind]], record["updated_at"],
                     item.raw.decode())
                )
                self._observe(batch, record, (item.topic, item.partition))
                continue
            dedup = self.seen[(item.topic, item.partition)]
            if dedup.check(item.digest, item.t, batch.seq, known.get(item.digest, ())):
                batch.duplicates += 1
                outcomes[(item.topic, "duplicate")] = outcomes.get((item.topic, "duplicate"), 0) + 1
                continue
            at = item.at
            assert at is not None
            if newest is None or at > newest:
                newest = at
            self._observe(batch, record, (item.topic, item.partition), item)
            batch.processed += 1
            outcomes[(item.topic, "counted")] = outcomes.get((item.topic, "counted"), 0) + 1
            seen_rows.append((item.topic, item.partition, item.offset, kind, record["event_id"], at))
            if kind == "forecast":  # latest arrival wins (the core's Snapshots): stamped with arrival time
                snapshots.append(
                    (kind, service, environment, f"{record['afnemer_id']}/{record['month']}", now,
                     item.raw.decode())
                )
            for family, bucket_key, values in item.rows:
                add_into(sums.setdefault(family, {}), bucket_key, values)
        batch.touched.update((service, environment, str(m)) for service, environment, m in touched)
        if engine is not None:  # the watermark moves by what was observed; `now` tells idle sources
            try:
                batch.alerts += engine.advance(now)
            except Exception:  # alerts are best effort; the rollups, the KPIs' truth, go on
                log.exception("the alert engine failed to advance at %s", now)
        if batch.alerts:
            batch.tables.append(TableRows("sno_alerts", ALERT_COLUMNS, [_alert_row(a) for a in batch.alerts]))
        for name, rows in sorted(sums.items()):
            family = FAMILIES[name]
            batch.tables.append(
                TableRows(
                    f"sno_{name}",
                    (*family.keys, *family.values),
                    [(*k, *v) for k, v in rows.items()],
                    key_width=len(family.keys),
                )
            )
        batch.tables.append(
            TableRows(
                "sno_snapshots", ("kind", "service", "environment", "id", "updated_at", "payload"), snapshots
            )
        )
        batch.tables.append(
            TableRows(
                "sno_seen",
                ("topic", "partition", "offset", "event_type", "event_id", "event_time"),
                seen_rows,
            )
        )
        batch.tables.append(TableRows("sno_deadletter", DEADLETTER_COLUMNS, work.dead_rows))
        batch.tables.append(
            TableRows(
                "sno_deadletter_daily",
                ("day", "topic", "reason", "records"),
                [(*k, n) for k, n in work.dead_daily.items()],
                key_width=3,
            )
        )
        for table in batch.tables:
            serialise(table)
        return batch

    def advance(self, drained: bool = False) -> FoldedBatch:
        """No records, only the alert engine's clock: what waits for a source to go quiet is decided
        when the idle timeout passes, not when the next batch happens to come (sno/core/ALERTS.md).
        ``drained``: the stream is drained, no source is waited for. Returns the alerts and their rows."""
        batch = FoldedBatch(tables=[])
        if self.alerts is None:
            return batch
        try:
            batch.alerts = self.alerts.advance(drained=drained)  # at the engine's clock
        except Exception:  # alerts are best effort
            log.exception("the alert engine failed to advance without a batch")
        if batch.alerts:
            table = TableRows("sno_alerts", ALERT_COLUMNS, [_alert_row(a) for a in batch.alerts])
            serialise(table)
            batch.tables.append(table)
        return batch

    def _observe(self, batch: FoldedBatch, record: dict[str, Any], source: TP, item: _Item | None = None
                 ) -> None:
        if self.alerts is None:
            return
        try:
            if item is not None and item.at is not None:
                batch.alerts += self.alerts.observe(record, source, t=item.t, rows=item.rows)
            else:
                batch.alerts += self.alerts.observe(record, source)
        except Exception:  # alerts are best effort; the rollups, the KPIs' truth, go on
            log.exception("the alert engine failed on a %s event of %s/%d", record.get("type"), *source,
                          extra={"topic": source[0], "partition": source[1]})

    @staticmethod
    def _dead_letter(work: _Pass, rejected: Rejected, topic: str, partition: int, offset: int,
                     raw: bytes) -> None:
        batch, now = work.batch, work.now
        batch.rejected += 1
        batch.outcomes[(topic, "rejected")] = batch.outcomes.get((topic, "rejected"), 0) + 1
        letter = deadletter_record(rejected, raw, TopicSource(topic, partition, offset), now=now)
        work.dead_rows.append(
            (topic, partition, offset, rejected.reason, rejected.message, letter["original"], now)
        )
        day_key = (now.date(), topic, rejected.reason)
        work.dead_daily[day_key] = work.dead_daily.get(day_key, 0) + 1
        batch.deadletters.append((f"{topic}/{partition}/{offset}".encode(), orjson.dumps(letter)))


#: the columns of a `sno_deadletter` row, in the order the fold writes them
DEADLETTER_COLUMNS = ("topic", "partition", "offset", "reason", "message", "original", "received_at")


@dataclass(slots=True)
class _Item:
    """A valid record on its owner partition, with everything computed that could fail."""

    topic: str
    partition: int
    offset: int
    raw: bytes
    record: dict[str, Any]
    kind: str
    months: set[Month]
    rows: list[Any]
    at: datetime | None  # None for snapshots: they are not de-duplicated (latest updated_at wins)
    t: int
    digest: int


@dataclass
class _Pass:
    """One batch between its two halves (before and after the store's answer)."""

    batch: FoldedBatch
    items: list[_Item]
    now: datetime
    dead_rows: list[tuple[Any, ...]] = field(default_factory=list)
    dead_daily: dict[tuple[Any, ...], int] = field(default_factory=dict)


def _alert_row(alert: Alert) -> tuple[Any, ...]:
    """A `sno_alerts` row; instants as naive UTC, the way the table's readers expect them."""
    return tuple(_naive_utc(getattr(alert, column)) for column in ALERT_COLUMNS)


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


#: the column each partitioned table is partitioned by (toYYYYMM of it); the others have one partition
PARTITION_COLUMN: dict[str, str] = {
    **{f"sno_{name}": family.keys[3] for name, family in FAMILIES.items()},
    "sno_seen": "event_time",
    "sno_alerts": "event_time",
}


def serialise(table: TableRows) -> None:
    """Turn a table's rows into JSON Lines, one array per row in the table's column order
    (ClickHouse's JSONCompactEachRow: no key per value to write or to parse), one chunk per month
    partition, and drop the rows.

    Done in the fold process: serialising row by row in the worker was its largest cost after Faust.
    Chunks are kept per partition so that a write's parts come in month order however batches were
    merged, which keeps the parts of a finished-after-crash write identical (streams/README.md).
    """
    column = PARTITION_COLUMN.get(table.table)
    at = table.columns.index(column) if column is not None else None
    chunks: dict[tuple[int, int], list[bytes]] = {}
    for row in table.rows:
        key = (0, 0)
        if at is not None:
            value = row[at]
            if isinstance(value, datetime):
                value = value.astimezone(UTC)
            key = (value.year, value.month)
        chunks.setdefault(key, []).append(orjson.dumps(row, option=_JSON))
    table.chunks = sorted((key, b"\n".join(lines)) for key, lines in chunks.items())
    table.rows = []


_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
