"""Merged writes carry the same data, in the same month partitions and order, as one fold of the same
records: a write finished after a crash builds the same parts, which its insert token relies on."""

from __future__ import annotations

from collections import Counter

import orjson

from streams.processor import EventProcessor
from streams.sink import FoldedBatch, SeenLookup, batch_ranges, merge_folded, merge_ranges
from tests.eventgen import events
from tests.kafka_util import topic_and_key

#: columns stamped with the wall clock at processing time; not part of the comparison
WALL_CLOCK = {"sno_deadletter": {"received_at"}, "sno_deadletter_daily": {"day"}}


def _records() -> list[tuple[str, int, int, bytes]]:
    valid, invalid = events(n=1200, seed=5)
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for line in [*valid, *invalid]:
        topic, key = topic_and_key(line)
        tp = (topic, hash(key) % 2)
        offsets[tp] = offsets.get(tp, -1) + 1
        out.append((topic, tp[1], offsets[tp], line))
    return out


def _content(batch: FoldedBatch) -> dict[str, tuple[list[tuple[int, int]], Counter[tuple[object, ...]]]]:
    """Per table: the month partitions in order, and the rows summed per key (summing tables)."""
    out = {}
    for table in batch.tables:
        rows: Counter[tuple[object, ...]] = Counter()
        for _, chunk in table.chunks:
            for line in chunk.split(b"\n"):
                obj = dict(zip(table.columns, orjson.loads(line), strict=True))
                if table.table == "sno_snapshots" and obj["kind"] == "forecast":
                    obj.pop("updated_at")  # a forecast is stamped with its arrival time
                skip = WALL_CLOCK.get(table.table, set())
                items = tuple(obj.items())
                if table.key_width is None:
                    rows[tuple(i for i in items if i[0] not in skip)] += 1
                else:
                    key = tuple(i for i in items[: table.key_width] if i[0] not in skip)
                    for name, value in items[table.key_width :]:
                        rows[(*key, name)] += value
        out[table.table] = ([k for k, _ in table.chunks], rows)
    return out


def _fold(processor: EventProcessor, records: list[tuple[str, int, int, bytes]]) -> FoldedBatch:
    """Fold as the sink does; nothing is stored yet, so the store's answer to a lookup is empty (every
    copy counted so far is still in memory: no batch was confirmed)."""
    result = processor.fold(records)
    return processor.resume([]) if isinstance(result, SeenLookup) else result


def test_batches_folded_apart_and_merged_carry_what_one_fold_of_all_records_carries() -> None:
    records = _records()
    cut = len(records) // 3
    parts = [records[:cut], records[cut : 2 * cut], records[2 * cut :]]
    apart = EventProcessor()
    merged = merge_folded([_fold(apart, p) for p in parts])
    whole = _fold(EventProcessor(), records)

    assert merge_ranges([batch_ranges(p) for p in parts]) == batch_ranges(records)
    merged_content, whole_content = _content(merged), _content(whole)
    assert set(merged_content) == set(whole_content)
    for table, content in whole_content.items():
        assert merged_content[table] == content, table
    months, seen = whole_content["sno_seen"]
    assert months == sorted(months) and len(months) == 2  # April and May: two parts, in order
    assert sum(seen.values()) > 1000
