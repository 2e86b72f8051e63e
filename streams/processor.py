"""Folding a batch of raw records into ClickHouse rows: validate, de-duplicate, add contributions.

Everything SNO-specific comes from the core (`sno.core.buckets.contributions`, `sno.core.dedup`) and the
contract (`schemas.validate`); this module only routes records and keeps the per-partition
de-duplication index. It is deterministic for the same records and index, which is what lets the sink
finish an interrupted batch with the same insert tokens (streams/README.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.deadletter import TopicSource, deadletter_record
from schemas.validate import Rejected, validate
from sno.core.alerts import ALERT_COLUMNS, Alert, AlertEngine
from sno.core.buckets import FAMILIES, contributions
from sno.core.calendar import Month
from sno.core.catalogue import Catalogue, load_catalogue
from sno.core.dedup import Deduplicator, event_time
from sno.core.intervals import instant_key
from sno.core.snapshots import SNAPSHOT_TYPES
from streams.sink import TP, FoldedBatch, RawRecord, TableRows

#: dead-letter reason for a valid event the fold could not handle (a bug or an unforeseen value; the
#: event is kept in full in the dead letters and nothing of it is counted)
UNPROCESSABLE = "unprocessable"
log = logging.getLogger(__name__)



class EventProcessor:
    def __init__(self, catalogue: Catalogue | None = None, alerts: AlertEngine | None = None) -> None:
        self.catalogue = catalogue or load_catalogue()
        #: judges breaches by event time as events pass (sno/core/ALERTS.md); None: no alerts
        self.alerts = alerts
        #: one de-duplicator per partition: the producer keys by event_id, so copies share a partition
        self.seen: dict[TP, Deduplicator] = {}

    def load_seen(self, tp: TP, rows: Iterable[tuple[str, str, datetime]]) -> None:
        """Rebuild a partition's de-duplication state from `sno_seen` rows (type, event_id, event_time)."""
        seen: dict[tuple[str, str], list[int]] = {}
        newest = None
        for kind, event_id, at in rows:
            t = instant_key(at if at.tzinfo else at.replace(tzinfo=UTC))
            seen.setdefault((kind, event_id), []).append(t)
            newest = t if newest is None or t > newest else newest
        dedup = Deduplicator()
        dedup.restore(
            {
                "window_seconds": dedup.window.total_seconds(),
                "newest": newest,
                "seen": [[k, e, times] for (k, e), times in seen.items()],
            }
        )
        self.seen[tp] = dedup

    def forget(self, tp: TP) -> None:
        self.seen.pop(tp, None)

    def fold(self, records: Sequence[RawRecord]) -> FoldedBatch:
        """Validate, de-duplicate and fold records, and serialise the rows for ClickHouse here, in the fold
        process, so the worker only hands bytes to the engine."""
        sums: dict[str, dict[tuple[Any, ...], list[int]]] = {}
        snapshots: list[tuple[Any, ...]] = []
        seen_rows: list[tuple[Any, ...]] = []
        dead_rows: list[tuple[Any, ...]] = []
        dead_daily: dict[tuple[Any, ...], int] = {}
        batch = FoldedBatch(tables=[], size=len(records))
        now = datetime.now(UTC)
        engine = self.alerts
        newest: datetime | None = None
        for topic, partition, offset, raw in sorted(records, key=lambda r: (r[0], r[1], r[2])):
            result = validate(raw)
            if isinstance(result, Rejected):
                self._dead_letter(batch, dead_rows, dead_daily, result, topic, partition, offset, raw, now)
                continue
            record = result.record
            kind = result.type
            try:
                # Everything that could fail on a strange but valid event is computed before any state
                # changes, so a failure dead-letters the event and leaves the batch consistent.
                if kind in SNAPSHOT_TYPES:
                    months = {Month.of(v) for v in record.values() if isinstance(v, datetime)}
                    rows: list[Any] = []
                    at = None
                else:
                    at = event_time(record)
                    months = {Month.of(at)}
                    rows = contributions(record, self.catalogue)
            except Exception as exc:
                why = Rejected(
                    UNPROCESSABLE, f"the event could not be folded ({type(exc).__name__}: {exc})", None, kind
                )
                self._dead_letter(batch, dead_rows, dead_daily, why, topic, partition, offset, raw, now)
                continue
            service, environment = record["service"], record["environment"]
            batch.touched.update((service, environment, str(m)) for m in months)
            if kind in SNAPSHOT_TYPES:
                batch.processed += 1
                snapshots.append(
                    (
                        kind,
                        service,
                        environment,
                        record[SNAPSHOT_TYPES[kind]],
                        record["updated_at"],
                        raw.decode(),
                    )
                )
                self._observe(batch, record)
                continue
            dedup = self.seen.get((topic, partition))
            if dedup is None:
                dedup = self.seen[(topic, partition)] = Deduplicator()
            if dedup.is_duplicate(record):
                batch.duplicates += 1
                continue
            assert at is not None
            if newest is None or at > newest:
                newest = at
            self._observe(batch, record)
            batch.processed += 1
            seen_rows.append((topic, partition, offset, kind, record["event_id"], at))
            if kind == "forecast":  # latest arrival wins (the core's Snapshots): stamped with arrival time
                snapshots.append(
                    (
                        kind,
                        service,
                        environment,
                        f"{record['afnemer_id']}/{record['month']}",
                        now,
                        raw.decode(),
                    )
                )
            for family, bucket_key, values in rows:
                table = sums.setdefault(family, {})
                current = table.get(bucket_key)
                if current is None:
                    table[bucket_key] = list(values)
                else:
                    for i, v in enumerate(values):
                        current[i] += v
        if engine is not None and newest is not None:
            try:
                batch.alerts += engine.advance(newest)
            except Exception:  # alerts are best effort; the rollups, the KPIs' truth, go on
                log.exception("the alert engine failed to advance to %s", newest)
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
        batch.tables.append(
            TableRows(
                "sno_deadletter",
                ("topic", "partition", "offset", "reason", "message", "original", "received_at"),
                dead_rows,
            )
        )
        batch.tables.append(
            TableRows(
                "sno_deadletter_daily",
                ("day", "topic", "reason", "records"),
                [(*k, n) for k, n in dead_daily.items()],
                key_width=3,
            )
        )
        for table in batch.tables:
            serialise(table)
        return batch

    def _observe(self, batch: FoldedBatch, record: dict[str, Any]) -> None:
        if self.alerts is None:
            return
        try:
            batch.alerts += self.alerts.observe(record)
        except Exception:  # alerts are best effort; the rollups, the KPIs' truth, go on
            log.exception("the alert engine failed on a %s event", record.get("type"))

    @staticmethod
    def _dead_letter(
        batch: FoldedBatch,
        dead_rows: list[tuple[Any, ...]],
        dead_daily: dict[tuple[Any, ...], int],
        rejected: Rejected,
        topic: str,
        partition: int,
        offset: int,
        raw: bytes,
        now: datetime,
    ) -> None:
        batch.rejected += 1
        letter = deadletter_record(rejected, raw, TopicSource(topic, partition, offset), now=now)
        dead_rows.append(
            (topic, partition, offset, rejected.reason, rejected.message, letter["original"], now)
        )
        day_key = (now.date(), topic, rejected.reason)
        dead_daily[day_key] = dead_daily.get(day_key, 0) + 1
        batch.deadletters.append((f"{topic}/{partition}/{offset}".encode(), orjson.dumps(letter)))


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
    """Turn a table's rows into JSON Lines, one chunk per month partition, and drop the rows.

    Done in the fold process: serialising row by row in the worker was its largest cost after Faust.
    Chunks are kept per partition so that a write's parts come in month order however batches were
    merged, which keeps the parts of a finished-after-crash write identical (streams/README.md).
    """
    column = PARTITION_COLUMN.get(table.table)
    at = table.columns.index(column) if column is not None else None
    chunks: dict[tuple[int, int], list[bytes]] = {}
    columns = table.columns
    for row in table.rows:
        key = (0, 0)
        if at is not None:
            value = row[at]
            if isinstance(value, datetime):
                value = value.astimezone(UTC)
            key = (value.year, value.month)
        chunks.setdefault(key, []).append(orjson.dumps(dict(zip(columns, row, strict=True)), option=_JSON))
    table.chunks = sorted((key, b"\n".join(lines)) for key, lines in chunks.items())
    table.rows = []


_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
