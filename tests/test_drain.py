"""The drain loop's batching (streams/drain.py): a fetch's records as raw tuples, per partition in
offset order, only the active input partitions, at most a batch size per hand-over."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord
from faust.types import TP

from streams.drain import raw_batches


def _records(topic: str, partition: int, offsets: range) -> list[ConsumerRecord]:
    return [ConsumerRecord(topic, partition, o, 0, 0, None, f"{o}".encode(), None, 0, 0, ())
            for o in offsets]


def test_a_fetch_becomes_batches_of_the_active_input_partitions_in_offset_order() -> None:
    a0, a1, other, paused = TP("in.a", 0), TP("in.a", 1), TP("elsewhere", 0), TP("in.a", 2)
    fetched = {a0: _records("in.a", 0, range(5, 10)), a1: _records("in.a", 1, range(3)),
               other: _records("elsewhere", 0, range(4)), paused: _records("in.a", 2, range(2))}
    batches = raw_batches(fetched, {a0, a1, other}, {"in.a"}, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 2]
    flat = [r for b in batches for r in b]
    assert flat == [("in.a", 0, o, f"{o}".encode()) for o in range(5, 10)] + \
        [("in.a", 1, o, f"{o}".encode()) for o in range(3)]


def test_a_record_without_a_value_is_handed_over_as_empty_bytes_for_the_validator_to_reject() -> None:
    tp = TP("in.a", 0)
    record = ConsumerRecord("in.a", 0, 7, 0, 0, None, None, None, 0, 0, ())
    assert raw_batches({tp: [record]}, None, {"in.a"}, batch_size=10) == [[("in.a", 0, 7, b"")]]
