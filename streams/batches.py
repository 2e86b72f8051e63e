"""What passes between the consumer, the fold and the writer: raw records, folded batches and the
store questions a fold may ask, with the arithmetic of merging batches into one write."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

TP = tuple[str, int]
#: upper bound of records in one merged write
MAX_MERGED_RECORDS = 20_000
RawRecord = tuple[str, int, int, bytes]


@dataclass
class TableRows:
    table: str
    columns: tuple[str, ...]
    rows: list[Sequence[Any]] = field(default_factory=list)
    #: leading key columns of a summing table: rows with equal keys add up (None: rows are kept as they are)
    key_width: int | None = None
    #: the rows as JSON Lines, one chunk per month partition in month order (set by the fold process)
    chunks: list[tuple[tuple[int, int], bytes]] = field(default_factory=list)


@dataclass
class FoldedBatch:
    """What one batch adds to ClickHouse, and counters for progress and summaries."""

    tables: list[TableRows]
    processed: int = 0
    rejected: int = 0
    duplicates: int = 0
    touched: set[tuple[str, str, str]] = field(default_factory=set)  # (service, environment, month)
    #: (key, value) records for `sno.deadletter`, published (delivered) before the batch is written
    deadletters: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: alert state changes (sno.core.alerts.Alert), published to `sno.alerts` before the write
    alerts: list[Any] = field(default_factory=list)
    #: records folded (for bounding merged writes)
    size: int = 0
    #: (topic, owner partition, key, value) of valid records that landed on a partition that does not
    #: own their key: re-produced there, delivered before the write marks their offsets done
    forwards: list[tuple[str, int, bytes, bytes]] = field(default_factory=list)
    forwarded: int = 0
    #: the sink's sequence number of the batch (the highest one, for merged batches)
    seq: int = 0
    #: (topic, outcome) -> records (outcome: counted, duplicate, rejected, forwarded), for the metrics:
    #: a batch may span topics (a fetch's records), so its totals alone cannot say whose they are
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class SeenLookup:
    """A batch's question to the store: which of these ids were counted, and when (one entry per topic:
    topic, event ids, and the event-time bounds that can matter)."""

    asks: list[tuple[str, list[str], Any, Any]]
    #: metrics (sno/runtime/metrics.py): (topic, outcome) -> records, when the processor counts per topic;
    #: empty: the metrics attribute the totals above themselves
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)


class Processor(Protocol):
    """Folds raw records into table rows; deterministic for the same records, de-duplication state and
    store answers. `fold` may return a SeenLookup; the batch is finished by `resume` with the answer."""

    def fold(self, records: Sequence[RawRecord], seq: int = 0,
             confirmed: int = -1) -> FoldedBatch | SeenLookup: ...

    def resume(self, rows: Iterable[tuple[Any, ...]]) -> FoldedBatch: ...

    def restore_seen(self, topic: str, partitions: Sequence[int], lines: bytes) -> None: ...

    def forget(self, tp: TP) -> None: ...

    def set_owners(self, counts: dict[str, int]) -> None: ...

    def advance(self, drained: bool = False) -> FoldedBatch: ...


def batch_ranges(records: Sequence[RawRecord]) -> dict[TP, tuple[int, int]]:
    ranges: dict[TP, tuple[int, int]] = {}
    for topic, partition, offset, _ in records:
        tp = (topic, partition)
        low, high = ranges.get(tp, (offset, offset))
        ranges[tp] = (min(low, offset), max(high, offset))
    return ranges


def merge_ranges(all_ranges: Sequence[dict[TP, tuple[int, int]]]) -> dict[TP, tuple[int, int]]:
    """One range per partition over consecutive batches (nothing in between was skipped: a batch only
    drops offsets below those already handed over)."""
    merged: dict[TP, tuple[int, int]] = {}
    for ranges in all_ranges:
        for tp, (low, high) in ranges.items():
            a, b = merged.get(tp, (low, high))
            merged[tp] = (min(a, low), max(b, high))
    return merged


def merge_folded(batches: Sequence[FoldedBatch]) -> FoldedBatch:
    if len(batches) == 1:
        return batches[0]
    tables: dict[str, TableRows] = {}
    out = FoldedBatch(tables=[])
    chunks: dict[str, dict[tuple[int, int], list[bytes]]] = {}
    for batch in batches:
        for t in batch.tables:
            tables.setdefault(t.table, TableRows(t.table, t.columns, [], t.key_width))
            for key, payload in t.chunks:
                chunks.setdefault(t.table, {}).setdefault(key, []).append(payload)
        out.processed += batch.processed
        out.rejected += batch.rejected
        out.duplicates += batch.duplicates
        out.touched |= batch.touched
        out.deadletters += batch.deadletters
        out.alerts += batch.alerts
        out.size += batch.size
        out.forwards += batch.forwards
        out.forwarded += batch.forwarded
        out.seq = max(out.seq, batch.seq)
        for key, n in batch.outcomes.items():
            out.outcomes[key] = out.outcomes.get(key, 0) + n
    for name, table in tables.items():
        table.chunks = sorted((key, b"\n".join(parts)) for key, parts in chunks.get(name, {}).items())
    out.tables = list(tables.values())
    return out


def batch_token(ranges: dict[TP, tuple[int, int]], epoch: str) -> str:
    """The insert de-duplication token of a write: its epoch (the Kafka cluster's id) and its offset
    ranges. The same ranges are the same records only within one cluster: a new cluster (every chunk of
    `sno replay` has its own broker) numbers its offsets from 0 again, and without the epoch its first
    write carried the token of an earlier cluster's first write, which ClickHouse then dropped as a
    repeat (measured: ~1,000 events lost per chunk of a full-scale DigiD month, while the workers
    reported them written)."""
    text = ";".join(f"{t}/{p}/{a}-{b}" for (t, p), (a, b) in sorted(ranges.items()))
    return hashlib.sha1(f"{epoch}|{text}".encode()).hexdigest()[:24]
